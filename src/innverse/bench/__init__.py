"""Benchmarks: the one protocol behind every published number, and its reports.

One module per idea:

* :mod:`~innverse.bench.protocol`: the test sets and the seeded degradation (image ``i`` of a sorted
  set gets ``sigma/255 * randn`` from ``torch.Generator().manual_seed(i)``, float32, unclipped) and
  the PSNR loop over a set (:func:`~innverse.bench.protocol.mean_psnr`, also the validation score of
  training runs);
* :mod:`~innverse.bench.methods`: denoisers and baselines as rows of a table;
* :mod:`~innverse.bench.evaluate`: scoring every method on every image under every condition;
* :mod:`~innverse.bench.environment`: versions, threads, CPU and git commit of a measurement;
* :mod:`~innverse.bench.report`: Markdown tables, JSON and atomic result files;
  :mod:`~innverse.bench.plots`: figures (optional matplotlib);
* :mod:`~innverse.bench.options`: parsing lists of noise levels and names;
* the tasks of ``innverse benchmark``: :mod:`~innverse.bench.denoise`, :mod:`~innverse.bench.blind`,
  :mod:`~innverse.bench.deblur`;
* the studies behind the other README tables (run by the scripts in ``benchmarks/``):
  :mod:`~innverse.bench.released` (the released checkpoints; their computation re-stated in
  :mod:`~innverse.bench.released_code`), :mod:`~innverse.bench.pretrained` (the shipped weights
  and their cards), :mod:`~innverse.bench.wavelet`, :mod:`~innverse.bench.color` and
  :mod:`~innverse.bench.cli_files` (the command line on 8-bit files).

Importing this package imports none of its modules; import the one you need.
"""
