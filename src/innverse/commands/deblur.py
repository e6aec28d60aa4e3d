"""``innverse deblur``: plug-and-play deblurring with a blind WINNet and NENet (WINNet paper, Alg. 1).

Example::

    innverse deblur blurred.png -o sharp.png --kernel levin:3
    innverse deblur blurred.png -o sharp.png --kernel psf.npy --sigma 2.55 --max-iter 30 --lam 0.23

The blur is modelled as a circular convolution with the given kernel (``levin:N``, a ``.npy`` array or an
image file; normalised to sum 1).  ``--sigma`` is the noise std on the 0–255 scale; without it NENet
estimates it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from innverse.commands.denoise import add_inference_options, plan_outputs
from innverse.data.io import from_tensor, read_image, to_tensor, write_image
from innverse.data.kernels import load_kernel
from innverse.errors import UserError
from innverse.solvers.denoise import (
    BLIND_DENOISER,
    check_sigma,
    get_denoiser,
    get_estimator,
    min_size_of,
    resolve_device,
)
from innverse.solvers.pnp import DEFAULT_LAMBDA, DEFAULT_MAX_ITER, deblur_tensor

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse deblur``."""
    p = subparsers.add_parser(
        "deblur",
        help="deblur an image with a known kernel (plug-and-play WINNet)",
        description="Deblur an image blurred by a known kernel (levin:N, .npy or image file), by "
        "plug-and-play with a blind WINNet denoiser and NENet noise estimation. The blur is treated as "
        "circular. --sigma is on the 0-255 scale; without it the noise level is estimated.",
    )
    p.add_argument("input", metavar="INPUT", help="blurred image file")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file or folder")
    p.add_argument(
        "--kernel", required=True, metavar="KERNEL", help="levin:1..8, a .npy file or an image file"
    )
    p.add_argument("--sigma", metavar="S", help="noise std on the 0-255 scale (default: estimated)")
    p.add_argument("--max-iter", type=int, default=DEFAULT_MAX_ITER, metavar="N", help="iteration cap (30)")
    p.add_argument("--lam", type=float, default=DEFAULT_LAMBDA, metavar="L", help="lambda (default 0.23)")
    p.add_argument("--model", metavar="NAME_OR_PATH", help=f"blind denoiser (default {BLIND_DENOISER})")
    p.add_argument("--estimator", metavar="NAME_OR_PATH", help="noise estimator (default nenet)")
    add_inference_options(p, "overwrite an existing output")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``innverse deblur``."""
    sigma = check_sigma(args.sigma, "--sigma") if args.sigma is not None else None
    if args.max_iter < 0:
        raise UserError(f"--max-iter must be >= 0, got {args.max_iter}")
    if not (args.lam > 0 and np.isfinite(args.lam)):
        raise UserError(f"--lam must be a positive number, got {args.lam}")
    if args.tile < 0 or (args.tile and not 0 <= args.overlap < args.tile):
        raise UserError(f"--tile must be >= 0 and --overlap in [0, tile), got {args.tile}/{args.overlap}")
    kernel = load_kernel(args.kernel)
    if Path(args.input).is_dir():
        raise UserError(f"{args.input}: is a directory, expected an image file")
    [(src, dst)] = plan_outputs([args.input], args.output)
    if dst.is_dir():
        raise UserError(f"{dst}: is a directory, expected an output file name")
    if dst.exists() and not args.force:
        raise UserError(f"{dst}: output exists (use --force to overwrite)")
    dev = resolve_device(args.device)
    den = get_denoiser(args.model or BLIND_DENOISER, None, dev)
    est = get_estimator(args.estimator, dev)
    arr, info = read_image(src, min_size=min_size_of(den, est))
    h, w = arr.shape[:2]
    if kernel.shape[0] > h or kernel.shape[1] > w:
        raise UserError(
            f"{src}: image {w}×{h} is smaller than the {kernel.shape[1]}×{kernel.shape[0]} kernel"
        )
    out, pinfo = deblur_tensor(
        to_tensor(arr).to(dev),
        kernel,
        den,
        est,
        sigma255=sigma,
        lam=args.lam,
        max_iter=args.max_iter,
        tile=args.tile or None,
        overlap=args.overlap,
        color=args.color,
    )
    write_image(
        Path(dst),
        from_tensor(out),
        info.bit_depth,
        alpha=info.alpha,
        force=args.force,
        icc_profile=info.icc_profile,
    )
    its = pinfo["iterations"]
    it_text = str(its[0]) if len(its) == 1 else "/".join(map(str, its)) + " (per channel)"
    how = "estimated " if sigma is None else ""
    print(f"{src} -> {dst}  ({how}sigma {pinfo['sigma'][0]:.2f}, {it_text} iterations)")
    return 0
