"""Classical wavelet denoising (BayesShrink / VisuShrink on lifting CDF 9/7) on Set12 / BSD68.

Noise convention: images in [0, 1] (8-bit PNG / 255); for image ``i`` (sorted file order) the
noise is ``sigma/255 * randn`` from ``torch.Generator().manual_seed(i)``, float32, shape
(1, 1, H, W), no clipping.  The denoised image is clipped to [0, 1] before PSNR / SSIM (data
range 1); ``noisy PSNR`` is that of the unclipped noisy input.  ``mean abs(est-sigma)`` is the
mean absolute error of :func:`innverse.wavelets.estimate_sigma` on the noisy images, in 0-255
units; ``s/img`` is the wall time of one ``denoise`` call (known sigma unless ``--blind``).

    python benchmarks/wavelet_denoise.py                              # Set12, sigma 15, 25, 50
    python benchmarks/wavelet_denoise.py --data Set12 --data BSD68 --sigmas 25 --blind
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from innverse.data.degrade import seeded_noise
from innverse.data.io import IMAGE_EXTENSIONS, read_image
from innverse.metrics import psnr, ssim
from innverse.paths import data_path
from innverse.wavelets import denoise, estimate_sigma


def resolve_data(spec: str) -> Path:
    """A dataset name under the data root (``Set12``, ``BSD68``) or a folder path."""
    p = Path(spec)
    if p.is_dir():
        return p
    q = data_path(spec)
    if q is None or not q.is_dir():
        raise SystemExit(f"data folder not found: {spec} (give a path or set INNVERSE_DATA)")
    return q


def load_images(folder: Path, limit: int | None) -> list[tuple[str, torch.Tensor]]:
    """Sorted gray images of ``folder`` as ``(name, (1, 1, H, W) float32)``; colour is averaged."""
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
    if limit:
        files = files[:limit]
    out = []
    for f in files:
        a, _ = read_image(f)
        t = torch.from_numpy(a)
        t = t[None, None] if t.ndim == 2 else t.mean(dim=2)[None, None]
        out.append((f.name, t.float()))
    return out


def run_dataset(name: str, images, sigmas, methods, args) -> list[dict]:
    """One row per (sigma, method) with averages and per-image values."""
    rows = []
    for s in sigmas:
        noisy = [x + seeded_noise(x.shape, s, i) for i, (_, x) in enumerate(images)]
        est = [float(estimate_sigma(y)[0]) * 255 for y in noisy]
        noisy_psnr = [float(psnr(y, x)[0]) for y, (_, x) in zip(noisy, images, strict=True)]
        for m in methods:
            per = []
            for (fname, x), y, e, npsnr in zip(images, noisy, est, noisy_psnr, strict=True):
                t0 = time.perf_counter()
                z = denoise(
                    y,
                    sigma=None if args.blind else s / 255.0,
                    method=m,
                    wavelet=args.wavelet,
                    level=args.level,
                    select=False if args.no_select else None,
                )
                dt = time.perf_counter() - t0
                z = z.clamp(0, 1)
                per.append(
                    {
                        "image": fname,
                        "psnr": float(psnr(z, x)[0]),
                        "ssim": float(ssim(z, x)[0]),
                        "noisy_psnr": npsnr,
                        "sigma_est": e,
                        "seconds": dt,
                    }
                )
            n = len(per)
            rows.append(
                {
                    "dataset": name,
                    "sigma": s,
                    "method": m,
                    "n_images": n,
                    "psnr": sum(r["psnr"] for r in per) / n,
                    "ssim": sum(r["ssim"] for r in per) / n,
                    "noisy_psnr": sum(r["noisy_psnr"] for r in per) / n,
                    "sigma_mae": sum(abs(r["sigma_est"] - s) for r in per) / n,
                    "sec_per_image": sum(r["seconds"] for r in per) / n,
                    "per_image": per,
                }
            )
            print(
                f"  {name} sigma={s:g} {m}: PSNR {rows[-1]['psnr']:.3f} SSIM {rows[-1]['ssim']:.4f}",
                file=sys.stderr,
                flush=True,
            )
    return rows


def markdown(rows: list[dict]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| data | σ | method | PSNR (dB) | SSIM | noisy PSNR | mean abs(σ̂−σ) | s/img |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['sigma']:g} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
            f"{r['noisy_psnr']:.2f} | {r['sigma_mae']:.2f} | {r['sec_per_image']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", action="append", help="dataset name or folder, repeatable (default Set12)")
    ap.add_argument("--sigmas", default="15,25,50", help="comma-separated noise levels, 0-255 scale")
    ap.add_argument("--methods", default="bayes,visu", help="comma-separated: bayes, visu")
    ap.add_argument("--wavelet", default="cdf97", help="wavelet (default cdf97)")
    ap.add_argument("--level", type=int, default=None, help="levels (default: denoise's default)")
    ap.add_argument("--blind", action="store_true", help="denoise with the estimated sigma")
    ap.add_argument("--no-select", action="store_true", help="threshold every band (textbook VisuShrink)")
    ap.add_argument("--limit", type=int, default=None, help="first N images of each dataset")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: one image is too small to split)",
    )
    ap.add_argument("--out", default="bench_out/wavelet_denoise.json", help="JSON output file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sigmas = [float(s) for s in args.sigmas.split(",") if s.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    rows = []
    for spec in args.data or ["Set12"]:
        folder = resolve_data(spec)
        images = load_images(folder, args.limit)
        if not images:
            raise SystemExit(f"no images in {folder}")
        rows += run_dataset(folder.name, images, sigmas, methods, args)
    table = markdown(rows)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {
        "sigmas": sigmas,
        "methods": methods,
        "wavelet": args.wavelet,
        "level": args.level,
        "blind": args.blind,
        "select": not args.no_select,
        "data": args.data or ["Set12"],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    out.write_text(json.dumps({"config": config, "results": rows, "table": table}, indent=2))
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
