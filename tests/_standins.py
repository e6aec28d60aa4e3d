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
