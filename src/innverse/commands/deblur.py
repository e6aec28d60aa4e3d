"""``innverse deblur``: plug-and-play deblurring with a blind WINNet and NENet (WINNet paper, Alg. 1).

Examples::

    innverse deblur --sample --kernel shake:3 -o out/
    innverse deblur blurred.png -o sharp.png --kernel levin:3
    innverse deblur scans/ -o sharp/ --kernel psf.npy --sigma 2.55 --max-iter 30 --lam 0.23

The blur is modelled as a circular convolution with the given kernel (a shipped kernel, ``levin:N``
from the data root, a ``.npy`` array or an image file; normalised to sum 1).  ``--sigma`` is the
noise std on the 0-255 scale; without it NENet estimates it.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from innverse.commands.batch import run_restoration
from innverse.commands.denoise import sigma_text
from innverse.commands.files import (
    pages_text,
    restore_file,
    sample_or_inputs,
    write_sample_restoration,
)
from innverse.commands.options import (
    BLIND_DENOISER,
    DEFAULT_LAMBDA,
    DEFAULT_MAX_ITER,
    NOISE_ESTIMATOR,
    Reporter,
    add_command,
    add_inference_options,
    add_output_options,
    add_runtime_options,
    check_names,
    plural,
    resolve_tiling,
)
from innverse.errors import UserError

__all__ = ["add_parser", "run", "SUMMARY", "SAMPLE_KERNEL", "SAMPLE_NOISE", "iterations_text"]

SUMMARY = "deblur images with a known kernel (plug-and-play WINNet)"
PROG = "innverse deblur"
#: kernel and noise (0-255 scale, seed 0) of ``--sample`` when none is given
SAMPLE_KERNEL = "shake:3"
SAMPLE_NOISE = 2.55

KERNEL_HELP = (
    "blur kernel: shake:1..8 (camera shake), gaussian:S (std S px), disk:R (radius R px) - all shipped; "
    "levin:1..8 (Levin et al., read from kernels/Levin09.mat in the data root ../shared/data or "
    "$INNVERSE_DATA; needs h5py); or a .npy / image file"
)

DESCRIPTION = """\
Deblur images (files or folders, recursively) blurred by a known kernel, by plug-and-play with a
blind WINNet denoiser and NENet noise estimation (WINNet paper, Algorithm 1). The blur is treated as
circular. --sigma is the noise std on the 0-255 scale; without it the noise level is estimated.
Try it without any data: 'innverse deblur --sample --kernel shake:3 -o out/' blurs the bundled
photo with a shipped kernel, adds a little noise, deblurs it and writes the result, the blurred
image and a comparison."""

EPILOG = """\
examples:
  innverse deblur --sample --kernel shake:3 -o out/
  innverse deblur blurred.png -o sharp.png --kernel levin:3
  innverse deblur scans/ -o sharp/ --kernel psf.npy --sigma 2.55 --skip-existing
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse deblur``."""
    p = add_command(subparsers, "deblur", SUMMARY, DESCRIPTION, EPILOG)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="blurred image files or folders")
    add_output_options(p)
    p.add_argument(
        "--kernel", metavar="KERNEL", help=KERNEL_HELP + f" (required; with --sample default {SAMPLE_KERNEL})"
    )
    p.add_argument("--sigma", metavar="S", help="noise std on the 0-255 scale (default: estimated)")
    p.add_argument("--max-iter", type=int, default=DEFAULT_MAX_ITER, metavar="N", help="iteration cap")
    p.add_argument("--lam", type=float, default=DEFAULT_LAMBDA, metavar="L", help="lambda of the data term")
    p.add_argument("--model", metavar="NAME_OR_PATH", help=f"blind denoiser (default: {BLIND_DENOISER})")
    p.add_argument(
        "--estimator", metavar="NAME_OR_PATH", help=f"noise estimator (default: {NOISE_ESTIMATOR})"
    )
    add_inference_options(p)
    p.add_argument(
        "--compare", action="store_true", help="also write <stem>_compare.png: blurred | deblurred (| clean)"
    )
    p.add_argument(
        "--clean", metavar="REF", help="sharp reference image: PSNRs in the output line and figure"
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help=f"try it on the bundled photo: blur it with --kernel, add noise (sigma {SAMPLE_NOISE:g} unless "
        "--sigma, seed 0), deblur, write the result, the blurred image and a comparison",
    )
    add_runtime_options(p)
    return p


def iterations_text(its: list[int]) -> str:
    """``"1 iteration"``, ``"12 iterations"``, ``"iterations 12/11/13 (per channel)"``."""
    if len(set(its)) == 1:
        return plural(int(its[0]), "iteration")
    return "iterations " + "/".join(map(str, its)) + " (per channel)"


class _Deblurrer:
    """Denoiser, estimator and blur operator made once, applied per image by
    :func:`innverse.api.deblur`."""

    def __init__(self, args: argparse.Namespace, sigma: float | None, kernel, kernel_name: str):
        from innverse.api import load_denoiser, load_estimator, min_image_size
        from innverse.devices import resolve_device
        from innverse.physics import CircularBlur

        self.args, self.sigma, self.kernel, self.kernel_name = args, sigma, kernel, kernel_name
        self.device = resolve_device(args.device, option="--device")
        self.name = str(args.model or BLIND_DENOISER)
        self.est_name = str(args.estimator or NOISE_ESTIMATOR)
        self.den = load_denoiser(self.name, device=self.device)
        self.est = load_estimator(self.est_name, device=self.device)
        self.min_size = min_image_size(self.den, self.est)
        self.tile, self.overlap = resolve_tiling(args, self.min_size)
        # the kernel as loaded (already normalised: used as given), its FFT kept from file to file
        self.operator = CircularBlur(kernel)

    def __call__(self, x, label: str, sigma: float | None = None) -> tuple[Any, dict]:
        """Deblur a (1,C,H,W) float tensor; ``sigma`` overrides the command's --sigma."""
        from innverse.api import deblur

        h, w = x.shape[-2:]
        kh, kw = self.kernel.shape
        if kh > h or kw > w:
            raise UserError(f"{label}: image {w}×{h} is smaller than the {kw}×{kh} kernel {self.kernel_name}")
        s = self.sigma if sigma is None else sigma
        # check_range=False: file pages passed the same rule when read; the --sample input carries
        # unclipped noise, which goes beyond it for large sigma
        out, info = deblur(
            x,
            self.operator,
            s,
            lam=self.args.lam,
            max_iter=self.args.max_iter,
            model=self.den,
            estimator=self.est,
            device=self.device,
            tile=self.tile,
            overlap=self.overlap,
            color=self.args.color,
            return_info=True,
            check_range=False,
        )
        return out.cpu(), info

    def describe(self, infos: list[dict], estimated: bool) -> str:
        """``"winnet-blind + nenet, estimated sigma 2.50, 4 iterations"`` for the pages' solver infos."""
        sig = [i["sigma"][0] for i in infos]
        how = ("estimated sigma " + pages_text(sig)) if estimated else sigma_text(sig[0], False)
        its = [n for i in infos for n in i["iterations"]]
        its_text = iterations_text(its) if len(infos) == 1 else f"{min(its)}-{max(its)} iterations per plane"
        return f"{self.name} + {self.est_name}, {how}, {its_text}"


def _one(d: _Deblurrer, job, args: argparse.Namespace, rep: Reporter) -> None:
    def labels(infos: list[dict]) -> dict[str, str]:
        return {
            "input_label": "blurred input",
            "input_note": f"kernel {d.kernel_name}",
            "result_label": f"deblurred: {d.name}",
            "clean_label": "sharp reference",
            "description": d.describe(infos, args.sigma is None),
        }

    restore_file(job, lambda x: d(x, str(job.src)), args.clean, args.force, rep, labels, d.min_size)


def _run_sample(d: _Deblurrer, job, args: argparse.Namespace, rep: Reporter, noise: float) -> None:
    from innverse.data.degrade import add_seeded_noise, blur
    from innverse.data.io import read_image, to_tensor

    clean, _ = read_image(job.src)
    x = to_tensor(clean)
    y = add_seeded_noise(blur(x, d.kernel).to(x.dtype), noise, 0)
    out_t, pinfo = d(y, "sample", None if args.sigma is None else noise)
    write_sample_restoration(
        job,
        clean,
        y,
        out_t,
        args.force,
        rep,
        command="deblur",
        degraded_tag="blurred",
        degraded_caption=f"blurred ({d.kernel_name}, noise {noise:g})",
        result_caption=f"deblurred: {d.name}",
        clean_caption="sharp original",
        source=f"bundled photo, kernel {d.kernel_name}, noise sigma {noise:g}, seed 0",
        description=d.describe([pinfo], args.sigma is None),
    )


def run(args: argparse.Namespace) -> int:
    """Run ``innverse deblur``; returns the exit code (1 when some files of several failed)."""
    from innverse.api import check_sigma
    from innverse.data.kernels import load_kernel

    rep = Reporter(PROG, args.quiet)
    sigma = check_sigma(args.sigma, "--sigma") if args.sigma is not None else None
    if args.max_iter < 0:
        raise UserError(f"--max-iter must be >= 0, got {args.max_iter}")
    if not (args.lam > 0 and math.isfinite(args.lam)):
        raise UserError(f"--lam must be a positive number, got {args.lam}")
    resolve_tiling(args)
    check_names(args, "--model", "--estimator")
    sample, inputs = sample_or_inputs(args)
    spec = args.kernel or (SAMPLE_KERNEL if sample else None)
    if spec is None:
        raise UserError("--kernel is required (e.g. --kernel shake:3, levin:3 or psf.npy)")
    kernel = load_kernel(spec)
    noise = SAMPLE_NOISE if sigma is None else sigma
    return run_restoration(
        args,
        rep,
        sample,
        inputs,
        {
            "result": "sample_deblurred.png",
            "blurred": "sample_blurred.png",
            "compare": "sample_deblurred_compare.png",
        },
        lambda: _Deblurrer(args, sigma, kernel, str(spec)),
        lambda d, j: _one(d, j, args, rep),
        lambda d, j: _run_sample(d, j, args, rep, noise),
    )
