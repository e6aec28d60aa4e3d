"""Images from a diffusion prior: :func:`sample_images` and the :func:`image_grid` of a batch."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from innverse.errors import UserError

__all__ = ["sample_images", "image_grid"]


def sample_images(
    model: str | Path | torch.nn.Module = "ddpm-fmnist",
    n: int = 64,
    steps: int | None = 50,
    sampler: str = "ddim",
    eta: float = 0.0,
    seed: int = 0,
    device: str | torch.device | None = None,
    batch_size: int = 64,
) -> Tensor:
    """``n`` samples of a prior as an (n, C, H, W) float32 CPU tensor in [0, 1].

    ``model``: a shipped prior's name, a prior folder (ours or diffusers'), or a loaded
    :class:`~innverse.diffusion.prior.DiffusionPrior`.  ``sampler`` is ``"ddim"`` (with ``eta``) or
    ``"ddpm"``; ``steps`` the number of (respaced) sampling steps, ``None`` for all ``T``.  The
    result depends on ``seed`` and ``batch_size`` only (the noise is drawn on the CPU), not on the
    device.
    """
    from innverse.devices import resolve_device
    from innverse.diffusion.prior import DiffusionPrior, load_prior

    dev = resolve_device(device)
    prior = model if isinstance(model, DiffusionPrior) else load_prior(model)
    prior = prior.to(dev)
    if steps is not None and not 1 <= int(steps) <= prior.schedule.T:
        raise UserError(f"steps must be in 1..{prior.schedule.T}, got {steps}")
    return prior.generate(
        int(n), steps=steps, sampler=sampler, eta=eta, seed=seed, device=dev, batch_size=batch_size
    )


def image_grid(images: Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) images in [0, 1] -> one H×W (gray) or H×W×3 float array, ``nrow`` per row.

    ``nrow`` defaults to ``ceil(sqrt(N))``; images are separated (and framed) by ``pad`` white pixels.
    """
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = np.ones((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.float32)
    a = images.detach().float().clamp(0, 1).cpu().numpy()
    for i in range(n):
        r, k = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        grid[:, y : y + h, x : x + w] = a[i]
    return grid[0] if c == 1 else np.moveaxis(grid, 0, 2)
