"""Colour denoising with a gray model: opponent vs YCbCr vs per-RGB-channel on CBSD68.

Configurations (colour handling + denoiser):

* ``rgb+nonblind``: R, G, B at σ with the non-blind model for σ (``winnet-s25`` at σ = 25);
* ``rgb+blind``, ``opponent+blind``, ``ycbcr+blind``: the blind (σ-conditioned) model, each channel at
  its own σ_j (see :mod:`innverse.data.color`);
* ``opponent-unscaled+blind``: the plain orthonormal opponent transform (luminance spans [0, √3]) with
  σ unchanged in every channel: what an orthonormal transform alone gives.

Noise convention: images in [0, 1]; for image ``i`` (sorted file order) the noise is
``σ/255 · randn`` from ``torch.Generator().manual_seed(i)``, float32, shape (1,3,H,W), no clipping.
PSNR is computed on the result clipped to [0, 1] against the clean 8-bit image.

    python benchmarks/color_denoise.py                 # first 10 images, σ = 25
    python benchmarks/color_denoise.py --all --device cuda --out bench_out/color.json

Measured (all 68 images, σ = 25, released WINNet K=1 checkpoints σ=25 and blind σ∈[0,55], untiled,
one H200; mean PSNR in dB): noisy 20.533, rgb+nonblind 29.171, rgb+blind 29.177, opponent+blind
31.232, ycbcr+blind 30.657, opponent-unscaled+blind 31.220, opponent-unscaled+nonblind 24.875.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from innverse.data import color as colorlib
from innverse.data.degrade import add_noise, psnr
from innverse.data.io import read_image, to_tensor
from innverse.paths import data_path
from innverse.solvers.denoise import denoise_tensor, resolve_device

OFFICIAL = {
    "blind": ("weights", "winnet-official", "WINNet_lvl_1_nlvl_0_55", "net_WINNet.pth"),
    15: ("weights", "winnet-official", "WINNet_lvl_1_nlvl_15", "net_WINNet.pth"),
    25: ("weights", "winnet-official", "WINNet_lvl_1_nlvl_25", "net_WINNet.pth"),
    50: ("weights", "winnet-official", "WINNet_lvl_1_nlvl_50", "net_WINNet.pth"),
}
CONFIGS = ["rgb+nonblind", "rgb+blind", "opponent+blind", "ycbcr+blind", "opponent-unscaled+blind"]


def load(spec: str | None, name: str, official_key, device: torch.device):
    """``spec`` when given, else the shipped ``name``, else the released checkpoint under the data root."""
    from innverse.errors import UserError
    from innverse.models import load_model

    if spec:
        return load_model(spec, device=str(device)), spec
    try:
        return load_model(name, device=str(device)), name
    except UserError:
        p = data_path(*OFFICIAL[official_key]) if official_key in OFFICIAL else None
        if p is None:
            raise
        return load_model(str(p), device=str(device)), str(p)


def run_config(config: str, y: torch.Tensor, sigma: float, models: dict, tile: int | None) -> torch.Tensor:
    """Denoise the noisy colour batch ``y`` with one configuration (σ on the data scale)."""
    space, kind = config.split("+")
    model = models[kind]
    if space == "opponent-unscaled":
        t = colorlib.rgb_to_opponent(y)
        b, _, h, w = t.shape
        out = denoise_tensor(t.reshape(b * 3, 1, h, w), sigma, model, tile=tile).reshape(b, 3, h, w)
        return colorlib.opponent_to_rgb(out)
    return denoise_tensor(y, sigma, model, tile=tile, color=space)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="folder of clean colour images (default: <data root>/CBSD68)")
    ap.add_argument("--sigma", type=float, default=25.0, help="noise std on the 0-255 scale")
    ap.add_argument("--limit", type=int, default=10, help="first N images (default 10)")
    ap.add_argument("--all", action="store_true", help="all images")
    ap.add_argument("--nonblind", help="non-blind model (default winnet-s<σ>, else the released one)")
    ap.add_argument("--blind", help="blind model (default winnet-blind, else the released one)")
    ap.add_argument("--device", help="cpu or cuda")
    ap.add_argument("--tile", type=int, default=0, help="tile size (0 = whole image)")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configurations")
    ap.add_argument("--out", default="bench_out/color_denoise.json", help="JSON output file")
    args = ap.parse_args(argv)

    folder = Path(args.data) if args.data else data_path("CBSD68")
    if folder is None or not folder.is_dir():
        print("CBSD68 not found (set INNVERSE_DATA or pass --data)", file=sys.stderr)
        return 2
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp", ".tif"))
    if not args.all:
        files = files[: args.limit]
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    device = resolve_device(args.device)
    models, names = {}, {}
    if any(c.endswith("+nonblind") for c in configs):
        level = int(round(args.sigma))
        models["nonblind"], names["nonblind"] = load(args.nonblind, f"winnet-s{level}", level, device)
    if any(c.endswith("+blind") for c in configs):
        models["blind"], names["blind"] = load(args.blind, "winnet-blind", "blind", device)
    sigma = args.sigma / 255.0
    tile = args.tile or None

    per_image: dict[str, dict[str, float]] = {}
    seconds = dict.fromkeys(configs, 0.0)
    for i, f in enumerate(files):
        clean, _ = read_image(f)
        x = to_tensor(clean).to(device)
        y = add_noise(x, args.sigma, seed=i)
        row = {"noisy": psnr(y.clamp(0, 1), x)}
        for cfg in configs:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = run_config(cfg, y, sigma, models, tile)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds[cfg] += time.perf_counter() - t0
            row[cfg] = psnr(out.clamp(0, 1), x)
        per_image[f.name] = row
        print(
            f"[{i + 1}/{len(files)}] {f.name}  " + "  ".join(f"{k} {v:.2f}" for k, v in row.items()),
            flush=True,
        )

    mean = {k: sum(r[k] for r in per_image.values()) / len(per_image) for k in ["noisy", *configs]}
    best = max(configs, key=lambda c: mean[c])
    result = {
        "dataset": str(folder),
        "images": len(files),
        "sigma": args.sigma,
        "noise": "sigma/255 * randn, torch.Generator().manual_seed(i), float32, (1,3,H,W), no clipping",
        "psnr": "result clipped to [0, 1] vs the clean image, mean over images",
        "models": names,
        "device": str(device),
        "tile": args.tile,
        "mean_psnr": mean,
        "best": best,
        "seconds": seconds,
        "library_default": colorlib.DEFAULT_COLOR_SPACE,
        "per_image": per_image,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("mean PSNR: " + "  ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    print(f"best: {best}; library default colour handling: {colorlib.DEFAULT_COLOR_SPACE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
