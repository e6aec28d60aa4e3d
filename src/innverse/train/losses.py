"""Data terms of the denoising tasks.

The model-specific regularisers live on the models (``WINNet.orthogonality_loss()``,
``WINNet.spectral_norm_loss()``); the tasks in :mod:`innverse.train.tasks` combine them.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["denoising_loss", "sigma_loss"]


def denoising_loss(x_hat: Tensor, x: Tensor) -> Tensor:
    """``0.5 * sum ||x_hat - x||^2 / B``: sum of squares per image, averaged over the batch.

    This is the released WINNet code's ``MSELoss(reduction='sum')(x_hat, x) / (2 B)``.  Computed in
    float32 whatever the autocast dtype of ``x_hat``.
    """
    d = x_hat.float() - x.float()
    return 0.5 * d.square().sum() / x.shape[0]


def sigma_loss(sigma_hat: Tensor, sigma: Tensor, scale: float = 255.0) -> Tensor:
    """``mean((scale * (sigma_hat - sigma))^2)``: NENet's squared error on the 0-255 scale.

    The released NENet code regresses sigma on the 0-255 scale; on the data scale (sigma ~ 0.1)
    the squared error and its gradient are ~ 6.5e4 times smaller, which starves Adam's early
    updates relative to its epsilon.  Measuring the error in grey levels keeps the loss O(1..100).
    """
    return (scale * (sigma_hat.float().reshape(-1) - sigma.float().reshape(-1))).square().mean()
