"""``innverse superres``: super-resolve image files or folders with INDigo or a baseline.

Examples::

    innverse superres small.png -o big.png                       # INDigo, 4x, the shipped prior
    innverse superres lowres/ -o out/ --method ddrm --noise 0.05
    innverse superres small.png -o big.png --samples 8           # mean + std of 8 posterior samples
    innverse superres --sample -o out/                           # the bundled 8x8 example

Each result keeps the input's format and bit depth; ``<stem>_compare.png`` (input | bicubic | result
(| std) (| reference)) is written next to it, and with ``--samples M > 1`` also ``<stem>_std.png``
(the per-pixel standard deviation times 2, so that the largest possible spread, 0.5, is white) and
``<stem>_samples.png`` (the M samples side by side).  Outputs are written atomically and never
replace an existing file without ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from innverse.commands.batch import run_jobs
from innverse.commands.files import (
    check_jobs,
    plan_jobs,
    plan_sample,
    read_input,
    require_output,
    sample_or_inputs,
    write_output,
    write_sample_png,
)
from innverse.commands.options import (
    Reporter,
    add_command,
    add_overwrite_options,
    add_runtime_options,
    check_names,
)
from innverse.errors import UserError

__all__ = ["add_parser", "run", "SUMMARY"]

SUMMARY = "super-resolve images with INDigo (INN-guided diffusion) or a baseline"
PROG = "innverse superres"
#: copies of :mod:`innverse.apps.superres`'s constants (so that ``--help`` needs no torch)
METHODS = ("indigo", "dps", "ddrm", "ilvr", "bicubic", "inn")
DEGRADATIONS = ("average", "bicubic", "nonlinear")
DEFAULT_PRIOR = "ddpm-fmnist"
DEFAULT_STEPS = 100
DEFAULT_SAMPLER = "ddpm"
#: the bundled example (``data/samples``): the 8x8 input and its 32x32 ground truth
SAMPLE_INPUT = "fmnist_boot_8x8.png"
SAMPLE_TRUTH = "fmnist_boot_32x32.png"

DESCRIPTION = """\
Super-resolve image files or folders (recursively) by --scale with a diffusion prior.

--method indigo (default) pulls each diffusion step towards the image whose coarse part, through the
INDigo INN of the degradation, is the input; dps, ddrm and ilvr are the classical baselines on the same
prior, bicubic and inn (the INN alone, details set to zero) need no prior. --degradation says how the
input was made (average: block means; bicubic; nonlinear: block means + JPEG-like quantisation);
ddrm needs the average degradation, ilvr a linear one. --noise is the std of the noise in the input on
the [0, 1] scale (0.05 = 12.75 on the 0-255 scale). The shipped prior is 32x32 gray Fashion-MNIST,
so inputs are gray and 8x8 (other sizes whose result is a multiple of 8 work, with less meaning)."""

EPILOG = """\
examples:
  innverse superres small.png -o big.png
  innverse superres lowres/ -o out/ --method ddrm --noise 0.05
  innverse superres small.png -o big.png --samples 8 --seed 3
  innverse superres --sample -o out/
  innverse superres --sample --method bicubic -o out/      needs no prior
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``innverse superres``."""
    p = add_command(subparsers, "superres", SUMMARY, DESCRIPTION, EPILOG)
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="low-resolution image files or folders ('sample': the example)",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="output file (one input) or folder (required)")
    add_overwrite_options(p)
    p.add_argument("--scale", type=int, default=4, metavar="S", help="upscaling factor (default 4)")
    p.add_argument("--method", choices=METHODS, default="indigo", help="method (default indigo)")
    p.add_argument(
        "--degradation",
        choices=DEGRADATIONS,
        default="average",
        help="how the input was made (default average)",
    )
    p.add_argument(
        "--prior",
        default=DEFAULT_PRIOR,
        metavar="NAME_OR_FOLDER",
        help=f"diffusion prior: a shipped name or a folder (default {DEFAULT_PRIOR})",
    )
    p.add_argument(
        "--inn",
        metavar="NAME_OR_FOLDER",
        help="INDigo INN: 'haar', a shipped name or a folder from 'innverse train indigo-inn' "
        "(default: the shipped INN of --degradation; haar for average)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"sampling steps = network evaluations (default {DEFAULT_STEPS})",
    )
    p.add_argument(
        "--sampler", choices=("ddpm", "ddim"), default=DEFAULT_SAMPLER, help="ddim: the accelerated variant"
    )
    p.add_argument(
        "--eta", type=float, metavar="E", help="DDIM eta (default 0.5), or DDRM's eta (default 0.85)"
    )
    p.add_argument(
        "--zeta", type=float, metavar="Z", help="INDigo/DPS step size (default: tuned per --noise)"
    )
    p.add_argument(
        "--noise", default="0", metavar="S", help="noise std in the input, [0, 1] scale (default 0)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="K", help="sampling seed (default 0)")
    p.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="M",
        help="draw M posterior samples: the result is their mean; also writes _std.png and _samples.png",
    )
    p.add_argument(
        "--clean", metavar="REF", help="high-resolution reference: PSNRs in the output line and figure"
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help="try it on the bundled 8x8 Fashion-MNIST example (with its 32x32 ground truth)",
    )
    add_runtime_options(p)
    return p


# ------------------------------------------------------------------------------------------------ run
def _check_args(args: argparse.Namespace) -> float:
    from innverse.apps.superres import check_noise

    if args.scale < 2:
        raise UserError(f"--scale must be >= 2, got {args.scale}")
    if args.steps < 1:
        raise UserError(f"--steps must be >= 1, got {args.steps}")
    if args.samples < 1:
        raise UserError(f"--samples must be >= 1, got {args.samples}")
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, got {args.seed}")
    if args.zeta is not None and not args.zeta >= 0:
        raise UserError(f"--zeta must be >= 0, got {args.zeta}")
    if args.eta is not None and not 0 <= args.eta <= 1:
        raise UserError(f"--eta must be in [0, 1], got {args.eta}")
    check_names(args, "--prior", "--inn")
    return check_noise(args.noise, "--noise")


class _Run:
    """The loaded set-up and what every file needs from the command line."""

    def __init__(self, args: argparse.Namespace, noise: float, rep: Reporter, single: bool) -> None:
        from innverse.apps.superres import SuperResolver

        self.args = args
        self.rep = rep
        self.single = single  # one job: show a progress bar over the sampling steps
        self.sr = SuperResolver(
            args.method,
            args.scale,
            args.degradation,
            args.prior,
            args.inn,
            args.steps,
            noise,
            args.sampler,
            args.eta,
            args.zeta,
            None,
            args.device,
        )
        self.bicubic = SuperResolver("bicubic", args.scale, args.degradation, device="cpu")

    def estimate(self, y: Any) -> Any:
        """``(M, 1, C, H, W)`` estimates of one ``(1, C, h, w)`` page."""
        total = self.sr.steps * self.args.samples
        if not (self.single and total and not self.rep.quiet):
            return self.sr(y, self.args.seed, self.args.samples).cpu()
        from tqdm import tqdm

        bar = tqdm(total=total, desc="superres", unit="step", file=sys.stderr, leave=False, disable=None)
        try:
            return self.sr(y, self.args.seed, self.args.samples, callback=lambda i, t, x: bar.update(1)).cpu()
        finally:
            bar.close()

    def label(self) -> str:
        d = self.sr.describe()
        if self.sr.guided is None:
            return d["method"] if d["method"] == "bicubic" else f"inn {d.get('inn', '')}".strip()
        return f"{d['method']}, {d['steps']} {d['sampler']} steps"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape)


def _figure(y, bic, est, std, ref, scale: int, name: str, psnrs: dict[str, float | None], ref_name: str):
    import numpy as np

    from innverse.commands.figures import compare_figure, psnr_text

    def nearest(a):
        return np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)

    panels = [(nearest(y), ["input (nearest)"])]
    if not name.startswith("bicubic"):
        panels.append((bic, ["bicubic", psnr_text(psnrs.get("bicubic"))]))
    panels.append((est, [name, psnr_text(psnrs.get("result"))]))
    if std is not None:
        panels.append((np.clip(2 * std, 0, 1), ["std x 2"]))
    if ref is not None:
        panels.append((ref, [ref_name]))
    return compare_figure(panels)


def _process(run: _Run, job, truth_path: Path | None, rep: Reporter, sample: bool) -> None:
    import dataclasses

    import numpy as np

    from innverse.data.degrade import psnr
    from innverse.data.io import check_writable, from_tensor, read_image, to_tensor, write_image

    args = run.args
    s = args.scale
    pages, info = read_input(job.src)
    if job.writes(job.dst) and not sample:
        check_writable(job.dst, info)
    ref = None
    if truth_path is not None:
        ref, _ = read_image(truth_path, stack=True)
        want = (pages.shape[0], pages.shape[1] * s, pages.shape[2] * s, *pages.shape[3:])
        if tuple(ref.shape) != want:
            raise UserError(
                f"{truth_path}: reference is {_shape_text(ref.shape[1:3])}, "
                f"expected {_shape_text(want[1:3])} "
                f"({s} x the input)"
            )
    means, stds, bics, samples = [], [], [], []
    for page in pages:
        y = to_tensor(page)
        est = run.estimate(y)
        mean = est.mean(0)
        means.append(from_tensor(mean))
        stds.append(from_tensor(est.std(0)) if args.samples > 1 else None)
        bics.append(from_tensor(run.bicubic.single(y)))
        samples.append([from_tensor(e) for e in est])
        cons = float((run.sr.operator.A(mean) - y).square().mean().sqrt())
    out = np.stack(means)
    psnrs: dict[str, float | None] = {}
    if ref is not None:
        psnrs = {"bicubic": psnr(np.clip(np.stack(bics), 0, 1), ref), "result": psnr(np.clip(out, 0, 1), ref)}
    name = f"{args.method}" + (f" (mean of {args.samples})" if args.samples > 1 else "")
    written = []
    if job.writes(job.dst):
        if sample:
            write_sample_png(job.dst, out[0], job.force(job.dst, args.force), "superres result")
        else:
            alpha = None if info.alpha is None else _upscale_alpha(run, info.alpha)
            dpi = None if info.dpi is None else (info.dpi[0] * s, info.dpi[1] * s)
            write_output(
                job.dst,
                out,
                dataclasses.replace(info, alpha=alpha, dpi=dpi),
                job.force(job.dst, args.force),
                rep.note,
            )
        written.append(job.dst)
    extras: dict[str, Any] = {
        "compare": lambda: _figure(
            pages[0],
            bics[0],
            means[0],
            stds[0],
            None if ref is None else ref[0],
            s,
            name,
            psnrs,
            "ground truth" if sample else "reference",
        ),
        "std": lambda: np.clip(2 * np.asarray(stds[0]), 0, 1),
        "samples": lambda: np.concatenate(
            [np.pad(a, [(0, 0), (0, 2)] + [(0, 0)] * (a.ndim - 2), constant_values=1) for a in samples[0]],
            axis=1,
        )[:, :-2],
    }
    for tag, make in extras.items():
        path = job.extras.get(tag)
        if path is None or not job.writes(path):
            continue
        if sample:
            write_sample_png(path, make(), job.force(path, args.force), f"superres {tag}")
        else:
            write_image(path, make(), 8, force=job.force(path, args.force))
        written.append(path)
    msg = f"{job.name} -> {job.dst}  ({run.label()}"
    if run.sr.guided is not None:
        msg += f", seed {args.seed}" + (f", {args.samples} samples" if args.samples > 1 else "")
    if psnrs:
        msg += f", PSNR bicubic {psnrs['bicubic']:.2f} -> {psnrs['result']:.2f} dB"
    msg += f", consistency {cons:.4f}" if len(pages) == 1 else ""
    rep.info(msg + ")")
    if sample and len(written) > 1:
        rep.info("wrote " + ", ".join(str(p) for p in written))


def _upscale_alpha(run: _Run, alpha: Any) -> Any:
    """The input's alpha channel (``H×W`` or ``P×H×W``), upscaled bicubically and clipped to [0, 1]."""
    import numpy as np

    from innverse.data.io import from_tensor, to_tensor

    a = np.asarray(alpha, dtype=np.float32)
    up = [from_tensor(run.bicubic.single(to_tensor(p))) for p in a.reshape(-1, *a.shape[-2:])]
    return np.clip(np.stack(up), 0, 1).reshape(*a.shape[:-2], *up[0].shape)


def _sample_file(name: str) -> Path:
    from innverse.data.io import sample_path

    p = sample_path().parent / name
    if not p.is_file():  # pragma: no cover - packaging error
        raise UserError(f"the bundled example {name} is missing from the installation")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``innverse superres``; returns the exit code (1 when some files of several failed)."""
    rep = Reporter(PROG, args.quiet)
    noise = _check_args(args)
    sample, inputs = sample_or_inputs(args)
    require_output(args)
    tags = ["compare"] + (["std", "samples"] if args.samples > 1 else [])
    if sample:
        names = {"result": "superres_sample.png", **{t: f"superres_sample_{t}.png" for t in tags}}
        jobs = [plan_sample(args.output, names, _sample_file(SAMPLE_INPUT))]
        truth: Path | None = _sample_file(SAMPLE_TRUTH)
    else:
        jobs = plan_jobs(inputs, args.output, False, tags, rep.warn)
        truth = Path(args.clean) if args.clean is not None else None
    check_jobs(jobs, args.force, args.skip_existing, False)
    if all(j.skipped for j in jobs):
        return run_jobs(jobs, lambda j: None, rep)
    state = _Run(args, noise, rep, len([j for j in jobs if not j.skipped]) == 1)
    return run_jobs(jobs, lambda j: _process(state, j, truth, rep, sample), rep)
