"""Downsampling by an integer factor ``s``: s×s block averaging (with its exact SVD) or bicubic.

``kind="average"``: ``(A x)[i, j]`` is the mean of the ``s×s`` block ``x[s i : s i + s, s j : s j + s]``
(each channel).  Per block ``A`` is the row ``(1/s²)·1ᵀ`` of ``s²`` entries, so its SVD is ``U = 1``,
singular value ``‖(1/s²)·1‖ = 1/s``, first right singular vector the constant ``1/s`` (the DC basis
vector of the orthonormal 2-D DCT of the block); the other ``s² − 1`` DCT basis vectors span the null
space.  So ``V`` is the block DCT, ``V_adjoint(x)[:, :M]`` holds the ``M = C·h·w`` block DC
coefficients in the order of ``y.flatten(1)`` (then the AC coefficients), ``U`` is the identity and every
singular value is ``1/s``.  Consequences: ``A Aᵀ = I/s²``, ``A⁺ = s² Aᵀ`` (replicate each value over
its block), and by Woodbury ``prox(z, y, γ) = z + γ/(s² + γ) · A⁺(y − A z)``.

``kind="bicubic"``: ``A`` is MATLAB ``imresize``'s antialiased bicubic downscaling (the kernel of
:mod:`innverse.physics.bicubic` stretched by ``s``, applied with stride ``s``; symmetric borders), with
its exact adjoint.  It has no closed-form SVD or prox: ``prox`` and ``A_pinv`` fall back to conjugate
gradients, and :meth:`svd` raises.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from innverse.errors import UserError
from innverse.physics.base import SVD, LinearOperator, check_images, gamma_like
from innverse.physics.bicubic import resample_axis, resample_axis_adjoint, resize_taps
from innverse.physics.dct import block_dct, block_idct

__all__ = ["Downsampling", "check_factor", "average_downsample"]

KINDS = ("average", "bicubic")


def check_factor(factor: Any) -> int:
    """A downsampling factor: an integer ``>= 1``."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise UserError(f"the downsampling factor must be an integer >= 1, got {factor!r}")
    return factor


def average_downsample(x: Tensor, s: int) -> Tensor:
    """Mean over each ``s×s`` block of ``(B, C, H, W)`` (``H, W`` multiples of ``s``)."""
    b, c, h, w = x.shape
    return x.reshape(b, c, h // s, s, w // s, s).mean(dim=(3, 5))


def _replicate(y: Tensor, s: int) -> Tensor:
    return y.repeat_interleave(s, dim=-2).repeat_interleave(s, dim=-1)


class Downsampling(LinearOperator):
    """``y = A x + n`` with ``A`` an ``s×s`` average (``kind="average"``) or bicubic downscaling.

    Images must have ``H`` and ``W`` divisible by ``factor``.  See the module docstring for the SVD
    (average only) and the closed-form prox and pseudo-inverse.
    """

    def __init__(self, factor: int, kind: str = "average", sigma: float = 0.0):
        super().__init__(sigma)
        self.factor = check_factor(factor)
        if kind not in KINDS:
            raise UserError(f"downsampling kind must be one of {', '.join(KINDS)}, got {kind!r}")
        self.kind = kind
        self.name = f"{kind} downsampling x{self.factor}"
        self.has_svd = kind == "average"
        self._taps: dict[tuple, tuple[Tensor, Tensor]] = {}

    def __repr__(self) -> str:
        return f"Downsampling(factor={self.factor}, kind={self.kind!r}, sigma={self.sigma:g})"

    def output_shape(self, x_shape) -> tuple[int, ...]:
        *lead, h, w = (int(n) for n in x_shape)
        s = self.factor
        if h % s or w % s:
            raise UserError(f"{self.name}: the image size {h}×{w} is not divisible by {s}")
        return (*lead, h // s, w // s)

    def _check_x(self, x: Tensor) -> None:
        check_images(x, self.name)
        self.output_shape(x.shape)

    def _x_shape_for(self, y: Tensor) -> tuple[int, ...]:
        c, h, w = y.shape[1:]
        return (c, h * self.factor, w * self.factor)

    def _axis_taps(self, n_in: int, device: torch.device) -> tuple[Tensor, Tensor]:
        key = (n_in, str(device))
        if key not in self._taps:
            index, weight = resize_taps(n_in, n_in // self.factor)
            self._taps[key] = (index.to(device), weight.to(device))
        return self._taps[key]

    def A(self, x: Tensor) -> Tensor:
        self._check_x(x)
        if self.kind == "average":
            return average_downsample(x, self.factor)
        h, w = x.shape[-2:]
        ih, wh = self._axis_taps(h, x.device)
        iw, ww = self._axis_taps(w, x.device)
        return resample_axis(resample_axis(x, ih, wh, dim=-2), iw, ww, dim=-1)

    def A_adjoint(self, y: Tensor) -> Tensor:
        check_images(y, self.name)
        s = self.factor
        if self.kind == "average":
            return _replicate(y, s) / (s * s)
        h, w = y.shape[-2] * s, y.shape[-1] * s
        ih, wh = self._axis_taps(h, y.device)
        iw, ww = self._axis_taps(w, y.device)
        t = resample_axis_adjoint(y, iw, ww, w, dim=-1)
        return resample_axis_adjoint(t, ih, wh, h, dim=-2)

    def A_pinv(self, y: Tensor) -> Tensor:
        """Average: each value replicated over its block; bicubic: minimum-norm solution by CG."""
        if self.kind == "average":
            return _replicate(check_images(y, self.name), self.factor)
        return super().A_pinv(y)

    def prox(self, z: Tensor, y: Tensor, gamma: Any) -> Tensor:
        """Average: ``z + γ/(s² + γ) · A⁺(y − A z)`` (exact); bicubic: conjugate gradients."""
        if self.kind != "average":
            return super().prox(z, y, gamma)
        g = gamma_like(gamma, z)
        s2 = float(self.factor * self.factor)
        return z + (g / (s2 + g)) * _replicate(y - self.A(z), self.factor)

    def _make_svd(self, x_shape: tuple[int, ...], device: torch.device) -> SVD:
        self.output_shape(x_shape)
        return _BlockAverageSVD(x_shape, self.factor, device)


class _BlockAverageSVD(SVD):
    """``V`` = block DCT (DC coefficients first), ``U = I``, singular values ``1/s``."""

    def __init__(self, x_shape: tuple[int, ...], s: int, device: torch.device):
        c, h, w = x_shape
        super().__init__(x_shape, (c, h // s, w // s), c * (h // s) * (w // s))
        self.s = s
        self._sing = torch.full((self.M,), 1.0 / s, dtype=torch.float64, device=device)

    def singular_values(self) -> Tensor:
        return self._sing

    def V_adjoint(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        coef = block_dct(x.reshape(b, *self.x_shape), self.s).flatten(-2)  # (B, C, h, w, s²)
        return torch.cat([coef[..., 0].reshape(b, -1), coef[..., 1:].reshape(b, -1)], dim=1)

    def V(self, v: Tensor) -> Tensor:
        b = v.shape[0]
        c, h, w = self.y_shape
        n = self.s * self.s
        dc = v[:, : self.M].reshape(b, c, h, w, 1)
        ac = v[:, self.M :].reshape(b, c, h, w, n - 1)
        coef = torch.cat([dc, ac], dim=-1).reshape(b, c, h, w, self.s, self.s)
        return block_idct(coef)

    def U_adjoint(self, y: Tensor) -> Tensor:
        return y.reshape(y.shape[0], -1)

    def U(self, u: Tensor) -> Tensor:
        return u.reshape(u.shape[0], *self.y_shape)
