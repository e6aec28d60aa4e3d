"""Inpainting: ``y = m ⊙ (x + n)`` with a fixed binary mask ``m`` (1 = observed pixel).

``A = diag(m)``: measurements keep the image's shape, with zeros where pixels are missing; the noise
is masked too, so missing entries of ``y`` are exactly 0.  The SVD is a selection (DDRM's layout):
``V_adjoint(x)`` lists the observed entries of ``x.flatten(1)`` (in order) then the missing ones,
``U_adjoint(y)`` picks the observed entries of ``y``, ``U`` scatters them back (``U`` has ``M``
orthonormal columns, ``M`` = number of observed entries), and every singular value is 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from innverse.errors import UserError
from innverse.physics.base import SVD, LinearOperator, check_images, gamma_like

__all__ = ["Inpainting", "random_mask"]


def random_mask(shape: tuple[int, ...], keep: float, generator: torch.Generator | None = None) -> Tensor:
    """A boolean mask of ``shape`` keeping each entry with probability ``keep`` (seeded)."""
    if not 0 <= keep <= 1:
        raise UserError(f"keep must be a fraction in [0, 1], got {keep!r}")
    dev = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(tuple(shape), generator=generator, device=dev, dtype=torch.float64) < keep


class Inpainting(LinearOperator):
    """``y = m ⊙ (x + n)``; ``mask`` is ``(H, W)`` (shared by the channels) or ``(C, H, W)``, boolean or
    0/1 numbers, broadcast against images ``(B, C, H, W)``."""

    name = "inpainting"
    has_svd = True

    def __init__(self, mask: Any, sigma: float = 0.0):
        super().__init__(sigma)
        m = mask.detach().cpu() if isinstance(mask, Tensor) else torch.as_tensor(np.asarray(mask))
        if m.dim() not in (2, 3) or m.numel() == 0:
            raise UserError(f"an inpainting mask must be (H, W) or (C, H, W), got shape {tuple(m.shape)}")
        if m.dtype != torch.bool:
            if m.is_complex() or not bool(((m == 0) | (m == 1)).all()):
                raise UserError("an inpainting mask must hold only 0/1 (or True/False) values")
            m = m != 0
        self.mask = m
        self._masks: dict[tuple, Tensor] = {}

    def __repr__(self) -> str:
        shape, frac = tuple(self.mask.shape), self.observed_fraction
        return f"Inpainting(mask={shape}, observed={frac:.3f}, sigma={self.sigma:g})"

    @property
    def observed_fraction(self) -> float:
        return float(self.mask.double().mean())

    def _m(self, x: Tensor) -> Tensor:
        check_images(x, self.name)
        ms, xs = tuple(self.mask.shape), tuple(x.shape[1:])
        if xs[-2:] != ms[-2:] or (len(ms) == 3 and ms[0] not in (1, xs[0])):
            raise UserError(f"{self.name}: images {xs} do not match the mask {ms}")
        key = (x.dtype, str(x.device))
        if key not in self._masks:
            self._masks[key] = self.mask.to(device=x.device, dtype=x.dtype)
        return self._masks[key]

    def A(self, x: Tensor) -> Tensor:
        return x * self._m(x)

    def A_adjoint(self, y: Tensor) -> Tensor:
        return y * self._m(y)

    def A_pinv(self, y: Tensor) -> Tensor:
        return y * self._m(y)

    def noise(self, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Noise on the observed entries only (missing entries stay 0)."""
        if self.sigma == 0:
            return y
        return super().noise(y, generator) * self._m(y)

    def prox(self, z: Tensor, y: Tensor, gamma: Any) -> Tensor:
        """``(γ y + z) / (γ + 1)`` on observed entries, ``z`` elsewhere."""
        m = self._m(z)
        g = gamma_like(gamma, z)
        return torch.where(m > 0, (g * y + z) / (g + 1.0), z)

    def _make_svd(self, x_shape: tuple[int, ...], device: torch.device) -> SVD:
        c, h, w = x_shape
        ms = tuple(self.mask.shape)
        m = self.mask if len(ms) == 3 else self.mask.unsqueeze(0)
        if tuple(m.shape[-2:]) != (h, w) or m.shape[0] not in (1, c):
            raise UserError(f"{self.name}: images {x_shape} do not match the mask {ms}")
        return _SelectionSVD(x_shape, m.expand(c, h, w).reshape(-1), device)


class _SelectionSVD(SVD):
    def __init__(self, x_shape: tuple[int, ...], flat_mask: Tensor, device: torch.device):
        kept = torch.nonzero(flat_mask).flatten()
        missing = torch.nonzero(~flat_mask).flatten()
        super().__init__(x_shape, x_shape, kept.numel())
        self.kept, self.missing = kept.to(device), missing.to(device)
        self.order = torch.cat([self.kept, self.missing])
        self._sing = torch.ones(self.M, dtype=torch.float64, device=device)

    def singular_values(self) -> Tensor:
        return self._sing

    def V_adjoint(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)[:, self.order]

    def V(self, v: Tensor) -> Tensor:
        out = torch.empty_like(v)
        out[:, self.order] = v
        return out.reshape(v.shape[0], *self.x_shape)

    def U_adjoint(self, y: Tensor) -> Tensor:
        return y.reshape(y.shape[0], -1)[:, self.kept]

    def U(self, u: Tensor) -> Tensor:
        out = torch.zeros(u.shape[0], self.D, dtype=u.dtype, device=u.device)
        out[:, self.kept] = u
        return out.reshape(u.shape[0], *self.y_shape)
