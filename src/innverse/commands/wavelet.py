"""``innverse wavelet``: classical wavelet tools.

Examples::

    innverse wavelet denoise noisy.png -o clean.png --sigma 25
    innverse wavelet denoise noisy.png -o out/ --method visu          # sigma estimated
    innverse wavelet denoise photos/ -o out/ --skip-existing

``--sigma`` is on the 0-255 scale of 8-bit images (also for 16-bit files); without it the noise
level is estimated from each image (MAD of the finest diagonal band).  Colour images are denoised
channel by channel (each channel gets its own thresholds).  Inputs and ``-o`` work as in
``innverse denoise`` (files or folders; an ``-o`` without an image suffix is a folder); outputs keep
the input's bit depth and alpha, are written atomically and replace an existing file only with
``--force``.
"""

from __future__ import annotations

import argparse
import math

from innverse.commands.batch import run_jobs
from innverse.commands.files import check_jobs, pages_text, plan_jobs, read_input, write_output
from innverse.commands.options import WAVELETS, Reporter, add_output_options, add_runtime_options
from innverse.errors import UserError

__all__ = ["add_parser", "run", "SUMMARY"]

SUMMARY = "classical wavelet denoising (BayesShrink / VisuShrink)"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse wavelet`` (with its ``denoise`` action) and return its parser."""
    p = subparsers.add_parser(
        "wavelet",
        help=SUMMARY,
        description="Classical wavelet tools on lifting transforms (haar, cdf53, cdf97, ...).",
    )
    actions = p.add_subparsers(dest="wavelet_action", metavar="ACTION")
    d = actions.add_parser(
        "denoise",
        help="denoise images by wavelet thresholding",
        description="Denoise images (files or folders, recursively) by soft thresholding of their wavelet "
        "detail bands. --sigma is on the 0-255 scale; without it the noise level is estimated per image. "
        "Outputs keep the input's bit depth, are written atomically, and an existing file needs --force.",
    )
    d.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="noisy images or folders (PNG, JPEG, TIFF, BMP)"
    )
    add_output_options(d)
    d.add_argument(
        "--sigma", type=float, metavar="S", help="noise std on the 0-255 scale (default: estimate)"
    )
    d.add_argument("--method", choices=("bayes", "visu"), default="bayes", help="threshold rule")
    d.add_argument(
        "--wavelet", choices=WAVELETS, default="cdf97", metavar="NAME", help=f"wavelet: {', '.join(WAVELETS)}"
    )
    d.add_argument("--level", type=int, metavar="L", help="decomposition levels (default 5, fewer if small)")
    add_runtime_options(d, device=False)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``innverse wavelet ACTION``; returns the exit code."""
    action = getattr(args, "wavelet_action", None)
    if action == "denoise":
        return _run_denoise(args)
    raise UserError("missing action: use 'innverse wavelet denoise INPUT -o OUTPUT' (see --help)")


def _run_denoise(args: argparse.Namespace) -> int:
    rep = Reporter("innverse wavelet denoise", args.quiet)
    if args.sigma is not None and not (math.isfinite(args.sigma) and 0 <= args.sigma <= 255):
        raise UserError(f"--sigma must be a number in [0, 255] (0-255 scale), got {args.sigma}")
    if args.level is not None and args.level < 1:
        raise UserError(f"--level must be >= 1, got {args.level}")
    jobs = plan_jobs(args.inputs, args.output, args.in_place, (), rep.warn)
    check_jobs(jobs, args.force, args.skip_existing, args.in_place)
    return run_jobs(jobs, lambda job: _one(job, args, rep), rep)


def _one(job, args: argparse.Namespace, rep: Reporter) -> None:
    import numpy as np
    import torch

    from innverse.data.io import check_writable
    from innverse.wavelets import denoise_data_scale, estimate_sigma_data_scale

    pages, info = read_input(job.src)  # raises UserError naming the file
    if min(pages.shape[1:3]) < 2:
        raise UserError(f"{job.src}: image is {pages.shape[2]}x{pages.shape[1]} pixels, too small to denoise")
    check_writable(job.dst, info)
    estimated = args.sigma is None
    outs, sigmas = [], []
    for page in pages:
        chw = page[None] if page.ndim == 2 else np.moveaxis(page, 2, 0)
        x = torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))[None]
        sigma = (
            float(torch.as_tensor(estimate_sigma_data_scale(x)).reshape(-1)[0])
            if estimated
            else args.sigma / 255.0
        )
        try:
            y = denoise_data_scale(x, sigma=sigma, method=args.method, wavelet=args.wavelet, level=args.level)
        except ValueError as e:
            raise UserError(f"{job.src}: {e}") from None
        res = torch.as_tensor(y)[0].clamp(0, 1).numpy()
        outs.append(res[0] if res.shape[0] == 1 else np.moveaxis(res, 0, 2))
        sigmas.append(sigma * 255)
    write_output(job.dst, np.stack(outs), info, job.force(job.dst, args.force), rep.note)
    how = f"estimated sigma {pages_text(sigmas)}" if estimated else f"sigma {sigmas[0]:g}"
    rep.info(f"{job.src} -> {job.dst}  ({args.method} {args.wavelet}, {how})")
