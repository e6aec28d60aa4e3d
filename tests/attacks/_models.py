"""Small classifiers for the attack tests: a linear one (gradients known in closed form) and a saved
ConvNet checkpoint for the command-line tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Linear(nn.Module):
    """``logits = W flatten(x) + b`` for (B, 1, 28, 28) images; seeded weights of scale ``scale``; with
    ``smooth`` each class's weights are constant on 4x4 blocks (an image-like, low-frequency template)."""

    def __init__(
        self, scale: float = 0.1, seed: int = 0, dtype: torch.dtype = torch.float32, smooth: bool = False
    ) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        if smooth:
            w = torch.randn(10, 1, 7, 7, generator=g, dtype=torch.float64)
            w = w.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3).reshape(10, 784)
        else:
            w = torch.randn(10, 784, generator=g, dtype=torch.float64)
        self.weight = nn.Parameter((scale * w).to(dtype))
        self.bias = nn.Parameter(torch.zeros(10, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) @ self.weight.T + self.bias


def images(n: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> Tensor:
    """``n`` random 28x28 images on the 8-bit grid, away from 0 and 1 (so that clipping is rare)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(40, 216, (n, 1, 28, 28), generator=g).to(torch.float64) / 255).to(dtype)
