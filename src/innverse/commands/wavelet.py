"""``innverse wavelet``: classical wavelet tools.

Examples::

    innverse wavelet denoise noisy.png -o clean.png --sigma 25
    innverse wavelet denoise noisy.png -o clean.png --method visu --force   # sigma estimated

``--sigma`` is on the 0-255 scale of 8-bit images (also for 16-bit files); without it the noise
level is estimated from the image (:func:`innverse.wavelets.estimate_sigma`).  Colour images are
denoised channel by channel (each channel gets its own thresholds).  The output keeps the input's
bit depth and alpha; it is written atomically and an existing file is only replaced with
``--force``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from innverse.data.io import IMAGE_EXTENSIONS, read_image, write_image
from innverse.errors import UserError
from innverse.wavelets import denoise, estimate_sigma, wavelet_names

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse wavelet`` (with its ``denoise`` action) and return its parser."""
    p = subparsers.add_parser(
        "wavelet",
        help="classical wavelet denoising (BayesShrink / VisuShrink)",
        description="Classical wavelet tools on lifting transforms (haar, cdf53, cdf97).",
    )
    actions = p.add_subparsers(dest="wavelet_action", metavar="ACTION")
    d = actions.add_parser(
        "denoise",
        help="denoise one image by wavelet thresholding",
        description="Denoise one image by soft thresholding of its wavelet detail bands. --sigma is "
        "on the 0-255 scale; without it the noise level is estimated. The output keeps the input's "
        "bit depth, is written atomically, and an existing file needs --force.",
    )
    d.add_argument("input", metavar="INPUT", help="noisy image (PNG, JPEG, TIFF or BMP)")
    d.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="output image file")
    d.add_argument(
        "--sigma", type=float, metavar="S", help="noise std on the 0-255 scale (default: estimate)"
    )
    d.add_argument(
        "--method", choices=("bayes", "visu"), default="bayes", help="threshold rule (default bayes)"
    )
    d.add_argument(
        "--wavelet",
        choices=wavelet_names(),
        default="cdf97",
        metavar="NAME",
        help=f"wavelet: {', '.join(wavelet_names())} (default cdf97)",
    )
    d.add_argument("--level", type=int, metavar="L", help="decomposition levels (default 5, fewer if small)")
    d.add_argument("--force", action="store_true", help="overwrite an existing output")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``innverse wavelet ACTION``; returns the exit code."""
    action = getattr(args, "wavelet_action", None)
    if action == "denoise":
        return _run_denoise(args)
    raise UserError("missing action: use 'innverse wavelet denoise INPUT -o OUTPUT' (see --help)")


def _run_denoise(args: argparse.Namespace) -> int:
    src = Path(args.input)
    out = Path(args.output)
    if out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise UserError(f"{out}: unknown output format '{out.suffix}' (use .png, .jpg, .tif or .bmp)")
    if out.exists() and not args.force:
        raise UserError(f"{out}: output exists (use --force to overwrite)")
    if args.sigma is not None and not (math.isfinite(args.sigma) and args.sigma >= 0):
        raise UserError(f"--sigma must be a finite number >= 0 (0-255 scale), got {args.sigma}")
    if args.level is not None and args.level < 1:
        raise UserError(f"--level must be >= 1, got {args.level}")

    array, info = read_image(src)  # raises UserError naming the file
    chw = array[None] if array.ndim == 2 else np.moveaxis(array, 2, 0)
    x = torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))[None]
    if min(x.shape[-2:]) < 2:
        raise UserError(f"{src}: image is {x.shape[-1]}x{x.shape[-2]} pixels, too small to denoise")
    estimated = args.sigma is None
    sigma = float(estimate_sigma(x)[0]) if estimated else args.sigma / 255.0
    try:
        y = denoise(x, sigma=sigma, method=args.method, wavelet=args.wavelet, level=args.level)
    except ValueError as e:
        raise UserError(f"{src}: {e}") from None
    res = y[0].clamp(0, 1).numpy()
    res = res[0] if res.shape[0] == 1 else np.moveaxis(res, 0, 2)
    write_image(
        out, res, bit_depth=info.bit_depth, alpha=info.alpha, force=args.force, icc_profile=info.icc_profile
    )
    how = "estimated" if estimated else "given"
    print(f"{src} -> {out}: {args.method} {args.wavelet}, sigma {sigma * 255:.2f} ({how})")
    return 0
