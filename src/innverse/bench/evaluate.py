"""Scoring every method on every image of every test set under every condition.

:func:`evaluate` returns one record per (method, set, condition) with the mean PSNR, SSIM and
seconds per image and the per-image values, plus the crops of the comparison figures.  Timing:
the wall time of one call per image, after one untimed warm-up call per method (CUDA is
synchronised around each call).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from innverse.bench.methods import Method
from innverse.bench.protocol import TestSet, inner
from innverse.errors import UserError
from innverse.metrics import psnr, ssim

__all__ = ["CROP_SIZE", "Condition", "CropPanel", "evaluate", "check_sizes", "min_size", "sigma_label"]

#: side of the comparison crops
CROP_SIZE = 96
#: side of the SSIM window (:func:`innverse.metrics.ssim`): the smallest image a benchmark scores
SSIM_WINDOW = 11


@dataclass
class Condition:
    """One column group of a table: a noise level (``value`` = sigma, 0-255) or a blur kernel.

    ``label`` heads the column, ``value`` is passed to the degradation and the methods, and
    ``record`` is what the JSON stores for it.
    """

    label: str
    value: Any
    record: Any


@dataclass
class CropPanel:
    """Crops of one test image for one condition: clean, degraded, and each method's output."""

    file: str
    title: str
    panels: list[tuple[str, np.ndarray]]


def sigma_label(s: float) -> str:
    """The column label of a noise level: ``sigma=25``."""
    return f"sigma={s:g}"


def check_sizes(sets: Sequence[TestSet], need: int, what: str) -> None:
    """:class:`UserError` naming the first image smaller than ``need`` x ``need`` (needed by ``what``)."""
    for ts in sets:
        for fname, x in ts.images:
            if min(x.shape[-2:]) < need:
                h, w = x.shape[-2:]
                raise UserError(f"{ts.name}/{fname}: image {w}x{h} is smaller than {need}x{need} ({what})")


def min_size(*models: Any) -> int:
    """The smallest image side every model accepts, and at least the 11-pixel SSIM window."""
    from innverse.solvers.denoise import min_size_of

    return max(min_size_of(*models), SSIM_WINDOW)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _crop_window(x: Tensor, size: int = CROP_SIZE, stride: int = 16) -> tuple[int, int, int]:
    """(top, left, side) of the most textured ``size`` x ``size`` window (largest std, on a grid)."""
    h, w = x.shape[-2:]
    side = min(size, h, w)
    img = x[0, 0].detach().cpu().to(torch.float64)
    best, pos = -1.0, (0, 0)
    for t in sorted(set(list(range(0, h - side + 1, stride)) + [h - side])):
        for left in sorted(set(list(range(0, w - side + 1, stride)) + [w - side])):
            s = float(img[t : t + side, left : left + side].std())
            if s > best:
                best, pos = s, (t, left)
    return pos[0], pos[1], side


def _cut(x: Tensor, win: tuple[int, int, int]) -> np.ndarray:
    t, left, s = win
    return x[0, 0, t : t + s, left : left + s].detach().cpu().numpy().astype(np.float32)


@torch.no_grad()
def evaluate(
    sets: Sequence[TestSet],
    conditions: Sequence[Condition],
    methods: Sequence[Method],
    degrade: Callable[[Tensor, Any, int], Tensor],
    device: torch.device | str = "cpu",
    border: int = 0,
    crop_figure: str | None = None,
    degraded_name: str = "noisy",
    log: Callable[[str], Any] | None = None,
) -> tuple[list[dict], list[CropPanel]]:
    """Score every method on every image of every set under every condition.

    ``degrade(x, condition.value, i)`` makes the input of image ``i``.  Outputs are clipped to
    [0, 1]; PSNR and SSIM leave out ``border`` pixels.  Returns one record per (method, set,
    condition) with the mean PSNR/SSIM/seconds and the per-image values, and, when
    ``crop_figure`` (a file-name prefix) is given, the crops of the first image of the first set
    for each condition.
    """
    dev = torch.device(device)
    records: list[dict] = []
    crops: list[CropPanel] = []
    warmed: set[str] = set()
    for si, ts in enumerate(sets):
        for cond in conditions:
            per: dict[str, list[dict]] = {m.name: [] for m in methods}
            panels: list[tuple[str, np.ndarray]] = []
            for i, (fname, x0) in enumerate(ts.images):
                x = x0.to(dev)
                y = degrade(x, cond.value, i)
                keep = crop_figure is not None and si == 0 and i == 0
                if keep:
                    win = _crop_window(x)
                    p_deg = float(psnr(y.clamp(0, 1), x, crop=border)[0])
                    panels = [
                        ("clean", _cut(x, win)),
                        (f"{degraded_name}\n{p_deg:.2f} dB", _cut(y.clamp(0, 1), win)),
                    ]
                for m in methods:
                    if m.name not in warmed:
                        if m.warmup is not None:
                            m.warmup(y[..., :64, :64])
                        else:
                            m.fn(y[..., :64, :64], cond.value, i)
                        _sync(dev)
                        warmed.add(m.name)
                    _sync(dev)
                    t0 = time.perf_counter()
                    out, extras = m.fn(y, cond.value, i)
                    _sync(dev)
                    dt = time.perf_counter() - t0 if m.kind != "reference" else 0.0
                    out = out.to(dev, torch.float32).clamp(0.0, 1.0)
                    p = float(psnr(out, x, crop=border)[0])
                    s = float(ssim(inner(out, border), inner(x, border))[0])
                    per[m.name].append({"image": fname, "psnr": p, "ssim": s, "seconds": dt, **extras})
                    if keep and m.kind != "reference":
                        panels.append((f"{m.name}\n{p:.2f} dB", _cut(out, win)))
            for m in methods:
                rows = per[m.name]
                rec = {
                    "method": m.name,
                    "dataset": ts.name,
                    "condition": cond.label,
                    "value": cond.record,
                    "images": len(rows),
                    "psnr": float(np.mean([r["psnr"] for r in rows])),
                    "ssim": float(np.mean([r["ssim"] for r in rows])),
                    "seconds_per_image": float(np.mean([r["seconds"] for r in rows])),
                    "per_image": rows,
                }
                records.append(rec)
                if log:
                    log(
                        f"{ts.name} {cond.label} {m.name}: {rec['psnr']:.2f} dB, SSIM {rec['ssim']:.4f}, "
                        f"{rec['seconds_per_image']:.3f} s/img"
                    )
            if crop_figure is not None and si == 0 and panels:
                safe = re.sub(r"[^A-Za-z0-9._-]+", "", cond.label.replace("sigma=", "sigma"))
                title = f"{ts.name} / {ts.images[0][0]}, {cond.label} (PSNR of the whole image)"
                crops.append(CropPanel(f"{crop_figure}{safe}.png", title, panels))
    return records, crops
