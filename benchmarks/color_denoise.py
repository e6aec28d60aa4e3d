"""Colour denoising with a gray model: opponent vs YCbCr vs per-RGB-channel on CBSD68.

    python benchmarks/color_denoise.py                 # first 10 images, sigma = 25
    python benchmarks/color_denoise.py --all --device cuda --out bench_out/color.json

The configurations and the protocol are :mod:`innverse.bench.color`.

Measured (all 68 images, sigma = 25, released WINNet K=1 checkpoints sigma=25 and blind [0,55],
untiled, one H200; mean PSNR in dB): noisy 20.533, rgb+nonblind 29.171, rgb+blind 29.177,
opponent+blind 31.232, ycbcr+blind 30.657, opponent-unscaled+blind 31.220,
opponent-unscaled+nonblind 24.875.
"""

from __future__ import annotations

import argparse
import sys

from innverse.bench.color import CONFIGS, color_rows, load_color_models
from innverse.bench.environment import environment
from innverse.bench.protocol import load_images
from innverse.bench.report import json_text, write_text
from innverse.devices import resolve_device
from innverse.errors import UserError


def main(argv: list[str] | None = None) -> int:
    from innverse.data.color import DEFAULT_COLOR_SPACE

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="CBSD68", help="folder of clean colour images (default CBSD68)")
    ap.add_argument("--sigma", type=float, default=25.0, help="noise std on the 0-255 scale")
    ap.add_argument("--limit", type=int, default=10, help="first N images (default 10)")
    ap.add_argument("--all", action="store_true", help="all images")
    ap.add_argument("--nonblind", help="non-blind model (default winnet-s<sigma>, else the released one)")
    ap.add_argument("--blind", help="blind model (default winnet-blind, else the released one)")
    ap.add_argument("--device", help="cpu or cuda")
    ap.add_argument("--tile", type=int, default=0, help="tile size (0 = whole image)")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configurations")
    ap.add_argument("--out", default="bench_out/color_denoise.json", help="JSON output file")
    args = ap.parse_args(argv)
    try:
        images = load_images(args.data, gray=False, limit=None if args.all else args.limit)
        configs = [c.strip() for c in args.configs.split(",") if c.strip()]
        device = resolve_device(args.device, option="--device")
        models, names = load_color_models(configs, args.sigma, args.nonblind, args.blind, device)
        log = lambda m: print(m, flush=True)  # noqa: E731
        per_image, seconds = color_rows(images, args.sigma, configs, models, device, args.tile or None, log)
        mean = {k: sum(r[k] for r in per_image.values()) / len(per_image) for k in ["noisy", *configs]}
        best = max(configs, key=lambda c: mean[c])
        result = {
            "dataset": args.data, "images": len(images), "sigma": args.sigma,
            "noise": "innverse.bench.protocol seeded noise on the (1,3,H,W) image, no clipping",
            "psnr": "result clipped to [0, 1] vs the clean image, mean over images",
            "models": names, "device": str(device), "tile": args.tile, "mean_psnr": mean, "best": best,
            "seconds": seconds, "library_default": DEFAULT_COLOR_SPACE, "environment": environment(device),
            "per_image": per_image,
        }  # fmt: skip
        write_text(args.out, json_text(result, indent=2))
    except UserError as e:
        print(f"color_denoise: error: {e}", file=sys.stderr)
        return 2
    print("mean PSNR: " + "  ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    print(f"best: {best}; library default colour handling: {DEFAULT_COLOR_SPACE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
