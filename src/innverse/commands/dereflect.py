"""``innverse dereflect``: remove reflections from photographs taken through glass (DURRNet).

Examples::

    innverse dereflect window.jpg -o clean.jpg
    innverse dereflect shots/ -o out/ --reflection-out out-reflections/ --compare
    innverse dereflect shots/ -o out/ --skip-existing        # resume an interrupted run
    innverse dereflect --sample -o out/ --model runs/durrnet/model

Each input ``I`` is split into the transmission ``T`` (the scene behind the glass), written to
``-o``, and the reflection ``R`` (``I ≈ T + R``), written into ``--reflection-out`` when given.
Results keep the input's format and bit depth; ``--compare`` adds ``<stem>_compare.png`` (input | T
| R).  Outputs are written atomically and never replace an existing file without ``--force``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from innverse.commands.batch import run_jobs
from innverse.commands.files import (
    check_jobs,
    is_folder_target,
    mark_sample_outputs,
    plan_jobs,
    plan_sample,
    read_input,
    require_output,
    sample_or_inputs,
    write_output,
    write_sample_outputs,
)
from innverse.commands.options import (
    Reporter,
    add_command,
    add_inference_options,
    add_overwrite_options,
    add_runtime_options,
    check_names,
    resolve_tiling,
)
from innverse.errors import UserError

__all__ = [
    "add_parser",
    "run",
    "SUMMARY",
    "DEFAULT_MODEL",
    "DEFAULT_TILE",
    "DEFAULT_OVERLAP",
    "MIN_TILE",
    "SAMPLE_NAMES",
]

SUMMARY = "remove reflections from photos taken through glass (DURRNet)"
PROG = "innverse dereflect"
#: copies of :mod:`innverse.apps.dereflect`'s constants (so that ``--help`` needs no torch)
DEFAULT_MODEL = "durrnet-lite"
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 32
MIN_TILE = 32
#: output names of ``--sample`` in a folder ``-o``
SAMPLE_NAMES = {
    "result": "dereflect_sample.png",
    "reflection": "dereflect_sample_reflection.png",
    "input": "dereflect_sample_input.png",
    "compare": "dereflect_sample_compare.png",
}

DESCRIPTION = f"""\
Remove reflections from photographs taken through glass: each INPUT image I (files or folders,
searched recursively) is split by DURRNet, a deep unfolded network with an invertible wavelet
prior, into the transmission T (the scene behind the glass, written to -o) and the reflection R
(I ~ T + R, written into --reflection-out when given). --model takes the shipped {DEFAULT_MODEL}
or a model folder written by 'innverse train durrnet' (DURRNet, its ablations or the U-Net
baseline). Any image size works (images are padded by reflection to what the model needs and
cropped back); large images are processed in blended tiles of --tile pixels. Gray images are
repeated into R, G and B, and their results written gray. Results keep the input's format and
bit depth and are written atomically; an existing output needs --force (or is kept with
--skip-existing)."""

EPILOG = """\
examples:
  innverse dereflect window.jpg -o clean.jpg
  innverse dereflect shots/ -o out/ --reflection-out reflections/ --compare
  innverse dereflect shots/ -o out/ --skip-existing         resume an interrupted run
  innverse dereflect --sample -o out/                       the bundled synthetic example
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``innverse dereflect``."""
    p = add_command(subparsers, "dereflect", SUMMARY, DESCRIPTION, EPILOG)
    p.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="image files or folders ('sample': the bundled example)"
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="transmission output: a file (one input) or a folder; a folder input keeps its sub-folders",
    )
    p.add_argument(
        "--reflection-out",
        metavar="DIR",
        help="also write each reflection R into this folder (same names and sub-folders as -o)",
    )
    add_overwrite_options(p)
    p.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help=f"separator: a shipped name or a folder from 'innverse train durrnet' (default {DEFAULT_MODEL})",
    )
    add_inference_options(p, DEFAULT_TILE, DEFAULT_OVERLAP, MIN_TILE, color=False)
    p.add_argument("--compare", action="store_true", help="also write <stem>_compare.png: input | T | R")
    p.add_argument(
        "--sample",
        action="store_true",
        help="try it on the bundled 192x128 synthetic mixture (with its ground truth): writes T, R, the "
        "input and a comparison with PSNRs",
    )
    add_runtime_options(p)
    return p


# ------------------------------------------------------------------------------------------------ run
def _key(p: Path) -> str:
    return os.path.normcase(os.path.abspath(p))


def _add_reflection_paths(jobs: list, output: str, folder: str, inputs: list[str]) -> None:
    """``job.extras["reflection"]``: the reflection file of each job under ``folder``, mirroring the
    transmission's place under ``-o`` (or its file name, for one file output)."""
    out = Path(output)
    base = Path(folder)
    if base.exists() and not base.is_dir():
        raise UserError(f"{base}: --reflection-out exists and is not a folder")
    single = len(inputs) == 1 and not Path(inputs[0]).is_dir() and not is_folder_target(out, output)
    for job in jobs:
        rel = Path(job.dst.name) if single else job.dst.relative_to(out)
        job.extras["reflection"] = base / rel
    seen: dict[str, Path] = {}
    for job in jobs:
        for o in job.outputs:
            k = _key(o)
            if k in seen:
                raise UserError(
                    f"{o}: would be written twice (for {seen[k]} and {job.src}); give --reflection-out a "
                    "folder of its own"
                )
            seen[k] = job.src


class _Separator:
    """The model, loaded once, and the tiling options."""

    def __init__(self, args: argparse.Namespace, tile: int | None, overlap: int) -> None:
        from innverse.apps.dereflect import describe_separator, load_separator
        from innverse.devices import resolve_device

        self.device = resolve_device(args.device, option="--device")
        self.spec = args.model or DEFAULT_MODEL
        self.net = load_separator(self.spec, self.device)
        from innverse.models.registry import source_name

        self.name = source_name(str(getattr(self.net, "source", self.spec)))
        self.about = describe_separator(self.net)
        self.tile, self.overlap = tile, overlap

    def __call__(self, page: Any) -> tuple[Any, Any]:
        """``(T, R)`` float arrays of one ``H×W`` or ``H×W×3`` page (gray in, gray out), by
        :func:`innverse.api.remove_reflection`."""
        from innverse.api import remove_reflection

        return remove_reflection(page, self.net, tile=self.tile, overlap=self.overlap, device=self.device)


def _figure(panels: list[tuple[Any, list[str]]]) -> Any:
    from innverse.commands.figures import compare_figure

    return compare_figure(panels)


def _one(sep: _Separator, job, args: argparse.Namespace, rep: Reporter, noted: set[str]) -> None:
    import numpy as np

    from innverse.data.io import check_writable, write_image

    pages, info = read_input(job.src)
    refl = job.extras.get("reflection")
    for path in (job.dst, refl):
        if path is not None and job.writes(path):
            check_writable(path, info)  # e.g. 16-bit colour TIFF without tifffile: refused before the work
    if info.is_gray and "gray" not in noted:
        noted.add("gray")
        rep.note("gray input: repeated into R, G and B for the model; results written gray (channel mean)")
    ts, rs = [], []
    for page in pages:
        t, r = sep(page)
        ts.append(t)
        rs.append(r)
    t_all, r_all = np.stack(ts), np.stack(rs)
    if job.writes(job.dst):
        write_output(job.dst, t_all, info, job.force(job.dst, args.force), rep.note)
    if refl is not None and job.writes(refl):
        write_output(refl, r_all, info, job.force(refl, args.force), rep.note)
    cmp = job.extras.get("compare")
    if cmp is not None and job.writes(cmp):
        first = "" if len(pages) == 1 else f" (page 1 of {len(pages)})"
        fig = _figure([(pages[0], ["input" + first]), (ts[0], ["transmission T"]), (rs[0], ["reflection R"])])
        write_image(cmp, fig, 8, force=job.force(cmp, args.force))
    msg = f"{job.name} -> {job.dst}"
    if refl is not None:
        msg += f", reflection -> {refl}"
    rep.info(f"{msg}  ({sep.name})")


def _run_sample(sep: _Separator, job, args: argparse.Namespace, rep: Reporter) -> None:
    import numpy as np

    from innverse.apps.dereflect import sample_paths
    from innverse.commands.figures import psnr_text
    from innverse.data.degrade import psnr
    from innverse.data.io import read_image

    src, t_path, r_path = sample_paths()
    mix, _ = read_image(src)
    t_true, _ = read_image(t_path)
    r_true, _ = read_image(r_path)
    t, r = sep(mix)
    p_in, p_t, p_r = psnr(mix, t_true), psnr(np.clip(t, 0, 1), t_true), psnr(np.clip(r, 0, 1), r_true)
    figure = [
        (mix, ["input I = T + R", f"vs T: {psnr_text(p_in)}"]),
        (t, ["transmission T", psnr_text(p_t)]),
        (r, ["reflection R", psnr_text(p_r)]),
        (t_true, ["true T"]),
        (r_true, ["true R"]),
    ]
    outputs = [
        (job.dst, "dereflect result", t),
        (job.extras["reflection"], "dereflect reflection", r),
        (job.extras["input"], "dereflect input", mix),
        (job.extras["compare"], "dereflect compare", lambda: _figure(figure)),
    ]
    summary = (
        f"sample (bundled synthetic mixture {src.name}) -> {job.dst}  ({sep.name}; PSNR of T: input "
        f"{p_in:.2f} -> {p_t:.2f} dB, of R: {p_r:.2f} dB)"
    )
    write_sample_outputs(job, outputs, args.force, rep, summary)


def run(args: argparse.Namespace) -> int:
    """Run ``innverse dereflect``; returns the exit code (1 when some files of several failed)."""
    rep = Reporter(PROG, args.quiet)
    sample, inputs = sample_or_inputs(args)
    require_output(args)
    if args.reflection_out is not None and not args.reflection_out.strip():
        raise UserError("--reflection-out is empty (give a folder)")
    tile, overlap = resolve_tiling(args, MIN_TILE, DEFAULT_OVERLAP)
    check_names(args, "--model")
    if sample:
        from innverse.apps.dereflect import sample_paths

        job = plan_sample(args.output, SAMPLE_NAMES, sample_paths()[0])
        if args.reflection_out is not None:
            job.extras["reflection"] = Path(args.reflection_out) / SAMPLE_NAMES["reflection"]
            job.replace.clear()
            mark_sample_outputs(job)
        jobs = [job]
    else:
        jobs = plan_jobs(inputs, args.output, False, ["compare"] if args.compare else [], rep.warn)
        if args.reflection_out is not None:
            _add_reflection_paths(jobs, args.output, args.reflection_out, inputs)
    check_jobs(jobs, args.force, args.skip_existing, False)
    if all(j.skipped for j in jobs):
        return run_jobs(jobs, lambda j: None, rep)
    sep = _Separator(args, tile, overlap)
    if sample:
        return run_jobs(jobs, lambda j: _run_sample(sep, j, args, rep), rep)
    noted: set[str] = set()
    return run_jobs(jobs, lambda j: _one(sep, j, args, rep, noted), rep)
