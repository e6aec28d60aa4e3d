"""The subcommands of ``innverse``: one module per command, ``add_parser(subparsers)`` and ``run(args)``.

:data:`COMMANDS` is the order ``innverse --help`` lists them in; :data:`SUMMARIES` their one-line
help, so that the top-level help needs no command module (and no torch).  Each summary must equal
the ``help=`` its module registers (``tests/commands/test_cli.py`` checks it).  Shared pieces:
:mod:`~innverse.commands.options` (options and defaults), :mod:`~innverse.commands.files` (which
files are read and written), :mod:`~innverse.commands.batch` (the per-file loop) and
:mod:`~innverse.commands.figures` (``--compare`` figures).
"""

from __future__ import annotations

__all__ = ["COMMANDS", "SUMMARIES"]

#: subcommands, in the order ``innverse --help`` lists them (absent modules are left out)
COMMANDS = [
    "denoise",
    "deblur",
    "superres",
    "dereflect",
    "hide",
    "reveal",
    "attack",
    "sample",
    "train",
    "benchmark",
    "models",
    "wavelet",
]

#: one-line help of each subcommand; a command missing here is imported to build the top-level help
SUMMARIES = {
    "denoise": "denoise images (files or folders) with WINNet",
    "deblur": "deblur images with a known kernel (plug-and-play WINNet)",
    "superres": "super-resolve images with INDigo (INN-guided diffusion) or a baseline",
    "dereflect": "remove reflections from photos taken through glass (DURRNet)",
    "hide": "hide secret images in a cover image (HiNet, invertible)",
    "reveal": "reveal the secret images hidden in a stego image by 'innverse hide'",
    "attack": "adversarial images for a Fashion-MNIST classifier (AdvINN, PGD, FGSM, C&W)",
    "sample": "sample images from a diffusion prior (DDIM / DDPM) or a Glow flow",
    "train": "train a model (innverse train lists the tasks)",
    "benchmark": "reproduce the published tables: restoration, diffusion, flows, hiding, attacks",
    "models": "list the shipped pretrained models, their scores, and which --sigma uses which",
    "wavelet": "classical wavelet denoising (BayesShrink / VisuShrink)",
}
