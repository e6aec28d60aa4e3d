"""Denoising: ``A = I``, ``y = x + n``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from innverse.physics.base import SVD, LinearOperator, check_images, gamma_like

__all__ = ["Denoising"]


class Denoising(LinearOperator):
    """The identity forward map with Gaussian noise of std ``sigma`` (data scale)."""

    name = "denoising"
    has_svd = True

    def A(self, x: Tensor) -> Tensor:
        return check_images(x, self.name)

    def A_adjoint(self, y: Tensor) -> Tensor:
        return check_images(y, self.name)

    def A_pinv(self, y: Tensor) -> Tensor:
        return check_images(y, self.name)

    def prox(self, z: Tensor, y: Tensor, gamma: Any) -> Tensor:
        """``(γ y + z) / (γ + 1)``."""
        g = gamma_like(gamma, check_images(z, self.name))
        return (g * check_images(y, self.name) + z) / (g + 1.0)

    def _make_svd(self, x_shape: tuple[int, ...], device: torch.device) -> SVD:
        return _IdentitySVD(x_shape, device)


class _IdentitySVD(SVD):
    def __init__(self, x_shape: tuple[int, ...], device: torch.device):
        super().__init__(x_shape, x_shape, 0)
        self.M = self.D
        self._sing = torch.ones(self.D, dtype=torch.float64, device=device)

    def singular_values(self) -> Tensor:
        return self._sing

    def V_adjoint(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)

    def V(self, v: Tensor) -> Tensor:
        return v.reshape(v.shape[0], *self.x_shape)

    def U_adjoint(self, y: Tensor) -> Tensor:
        return y.reshape(y.shape[0], -1)

    def U(self, u: Tensor) -> Tensor:
        return u.reshape(u.shape[0], *self.x_shape)
