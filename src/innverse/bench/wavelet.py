"""Classical wavelet denoising (BayesShrink / VisuShrink on lifting CDF 9/7) on test sets.

The README's "classical wavelet denoising" table (``python benchmarks/wavelet_denoise.py``): for
each set, noise level and method, PSNR and SSIM of the output clipped to [0, 1], the PSNR of the
*unclipped* noisy input, the mean absolute error of :func:`innverse.wavelets.estimate_sigma` on
the noisy images (0-255 scale) and the seconds per ``denoise`` call (known sigma unless
``blind``).  Noise: the protocol's seeded noise (:mod:`innverse.bench.protocol`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from torch import Tensor

from innverse.bench.protocol import add_seeded_noise
from innverse.bench.report import markdown_table
from innverse.metrics import psnr, ssim

__all__ = ["wavelet_rows", "render_wavelet"]


def wavelet_rows(
    name: str,
    images: Sequence[tuple[str, Tensor]],
    sigmas: Sequence[float],
    methods: Sequence[str] = ("bayes", "visu"),
    wavelet: str = "cdf97",
    level: int | None = None,
    blind: bool = False,
    select: bool | None = None,
    log: Callable[[str], Any] | None = None,
) -> list[dict]:
    """One row per (sigma, method) with the means and the per-image values (see the module docstring)."""
    from innverse.wavelets import denoise, estimate_sigma

    rows = []
    for s in sigmas:
        noisy = [add_seeded_noise(x, s, i) for i, (_, x) in enumerate(images)]
        est = [float(np.asarray(estimate_sigma(y)).reshape(-1)[0]) for y in noisy]  # 0-255 scale
        noisy_psnr = [float(psnr(y, x)[0]) for y, (_, x) in zip(noisy, images, strict=True)]
        for m in methods:
            per: list[dict[str, Any]] = []
            for (fname, x), y, e, npsnr in zip(images, noisy, est, noisy_psnr, strict=True):
                t0 = time.perf_counter()
                z = cast(
                    Tensor,
                    denoise(
                        y, sigma=None if blind else s, method=m, wavelet=wavelet, level=level, select=select
                    ),
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
            rows.append(
                {
                    "dataset": name,
                    "sigma": s,
                    "method": m,
                    "n_images": len(per),
                    "psnr": float(np.mean([r["psnr"] for r in per])),
                    "ssim": float(np.mean([r["ssim"] for r in per])),
                    "noisy_psnr": float(np.mean([r["noisy_psnr"] for r in per])),
                    "sigma_mae": float(np.mean([abs(r["sigma_est"] - s) for r in per])),
                    "sec_per_image": float(np.mean([r["seconds"] for r in per])),
                    "per_image": per,
                }
            )
            if log:
                log(f"  {name} sigma={s:g} {m}: PSNR {rows[-1]['psnr']:.3f} SSIM {rows[-1]['ssim']:.4f}")
    return rows


def render_wavelet(rows: Sequence[dict]) -> str:
    """The rows as a Markdown table."""
    header = ["data", "σ", "method", "PSNR (dB)", "SSIM", "noisy PSNR", "mean abs(σ̂−σ)", "s/img"]
    table = [
        [
            r["dataset"],
            f"{r['sigma']:g}",
            r["method"],
            f"{r['psnr']:.2f}",
            f"{r['ssim']:.4f}",
            f"{r['noisy_psnr']:.2f}",
            f"{r['sigma_mae']:.2f}",
            f"{r['sec_per_image']:.3f}",
        ]
        for r in rows
    ]
    return markdown_table(header, table, pad=False)
