"""Stand-in models shared by the solver and CLI tests (fast, deterministic, no weights)."""

from __future__ import annotations

import torch
from torch import nn


class MadEstimator(nn.Module):
    """Stand-in noise estimator: median absolute Haar diagonal coefficient / 0.6745."""

    kind = "nenet"
    min_size = 8

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h, w = (y.shape[-2] // 2) * 2, (y.shape[-1] // 2) * 2
        y = y[..., :h, :w]
        d = (y[..., 0::2, 0::2] - y[..., 0::2, 1::2] - y[..., 1::2, 0::2] + y[..., 1::2, 1::2]) / 2
        return d.abs().flatten(1).median(dim=1).values / 0.6745


class BlurDenoiser(nn.Module):
    """Stand-in denoiser: a Gaussian blur whose width grows with σ (reflect padding)."""

    kind = "winnet"
    blind = True
    min_size = 8

    def forward(self, y: torch.Tensor, sigma) -> torch.Tensor:
        s = float(torch.as_tensor(sigma, dtype=torch.float32).mean())
        std = 0.6 + 8.0 * s
        r = torch.arange(-4, 5, dtype=y.dtype)
        g = torch.exp(-0.5 * (r / std) ** 2)
        g = g / g.sum()
        c = y.shape[1]
        yp = torch.nn.functional.pad(y, (4, 4, 4, 4), mode="reflect")
        out = torch.nn.functional.conv2d(yp, g.view(1, 1, 1, 9).expand(c, 1, 1, 9).contiguous(), groups=c)
        return torch.nn.functional.conv2d(out, g.view(1, 1, 9, 1).expand(c, 1, 9, 1).contiguous(), groups=c)


def smooth_image(h: int = 96, w: int = 80, c: int = 1, seed: int = 0) -> torch.Tensor:
    """A smooth synthetic test image in [0.1, 0.9], (1,C,H,W)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, c, h // 8 + 2, w // 8 + 2, generator=g)
    x = torch.nn.functional.interpolate(base, size=(h, w), mode="bicubic", align_corners=False)
    return (0.1 + 0.8 * (x - x.min()) / (x.max() - x.min())).float()
