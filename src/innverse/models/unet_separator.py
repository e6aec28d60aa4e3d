"""A plain (non-invertible) residual U-Net that separates ``I`` into ``(T, R)``: the baseline DURRNet is
measured against at the same parameter count and training budget.

Two resolutions (full and half), ``width`` channels, 3x3 convolutions with ReLU, a skip connection
per level; the output has 6 channels: ``T_hat = I + out[:, :3]`` and ``R_hat = out[:, 3:]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["UNetSeparator"]


def _double(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU()
    )


class UNetSeparator(nn.Module):
    """``forward(I) -> (T_hat, R_hat)`` for ``I`` ``(B, 3, H, W)`` in [0, 1]."""

    kind = "unet-separator"

    def __init__(self, width: int = 32, channels: int = 3) -> None:
        super().__init__()
        self.config: dict[str, Any] = {"width": int(width), "channels": int(channels)}
        w = width
        self.enc1 = _double(channels, w)
        self.enc2 = _double(w, 2 * w)
        self.mid = _double(2 * w, 2 * w)
        self.dec1 = _double(3 * w, w)
        self.out = nn.Conv2d(w, 2 * channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        assert self.out.bias is not None
        nn.init.zeros_(self.out.bias)

    def forward(self, img: Tensor) -> tuple[Tensor, Tensor]:
        h, w = img.shape[-2:]
        x = F.pad(img, (0, w % 2, 0, h % 2), mode="replicate")
        e1 = self.enc1(x)
        e2 = self.mid(self.enc2(F.avg_pool2d(e1, 2)))
        up = F.interpolate(e2, size=e1.shape[-2:], mode="nearest")
        out = self.out(self.dec1(torch.cat((e1, up), dim=1)))[..., :h, :w]
        c = self.config["channels"]
        return img + out[:, :c], out[:, c:]

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` (+ ``card.json``) into ``directory``."""
        from innverse.models.io import save_model

        return save_model(self, directory, card=card)
