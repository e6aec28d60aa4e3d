"""Standard test sets and the seeded noise convention used by every innverse benchmark.

Noise convention (reproducible by anyone): images in [0, 1]; for image ``i`` of a set in sorted
file order, ``noise = sigma/255 * randn(shape, generator=torch.Generator().manual_seed(i))`` in
float32, added without clipping.  The same image index gets the same noise pattern at every
noise level, so tables at different sigma are comparable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from innverse.data.io import IMAGE_EXTENSIONS, read_image
from innverse.errors import UserError
from innverse.paths import data_path

__all__ = ["list_images", "load_set", "seeded_noise", "add_seeded_noise"]


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    p = Path(folder)
    if not p.is_dir():
        found = data_path(str(folder))
        if found is None or not found.is_dir():
            raise UserError(f"{folder}: test-set folder not found (and not under INNVERSE_DATA)")
        p = found
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise UserError(f"{p}: no images in this folder")
    return files


def load_set(folder: str | Path, gray: bool = True, limit: int | None = None) -> list[tuple[str, Tensor]]:
    """``[(name, image (1, C, H, W) float32 in [0, 1]), ...]`` for a folder or a set name
    (``'Set12'``, ``'BSD68'``, ``'CBSD68'`` under the data root)."""
    out = []
    for f in list_images(folder)[:limit]:
        a, _ = read_image(f)
        if gray and a.ndim == 3:
            a = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        t = torch.from_numpy(np.ascontiguousarray(a))
        t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
        out.append((f.name, t))
    return out


def seeded_noise(shape: torch.Size | tuple[int, ...], sigma255: float, index: int) -> Tensor:
    """The benchmark noise of image ``index`` at level ``sigma255`` (0-255 scale)."""
    g = torch.Generator().manual_seed(index)
    return (sigma255 / 255.0) * torch.randn(tuple(shape), generator=g, dtype=torch.float32)


def add_seeded_noise(x: Tensor, sigma255: float, index: int) -> Tensor:
    return x + seeded_noise(x.shape, sigma255, index).to(x.device)
