"""Circular (periodic) blur ``y = k ⊛ x + n``, diagonalised by the discrete Fourier transform.

The kernel's centre is index ``size // 2`` along each axis (MATLAB's ``psf2otf`` convention):
``(k ⊛ x)[i, j] = Σ_ab k[a, b] · x[i − a + ca, j − b + cb]`` with indices taken modulo ``H, W``.  All
Fourier arithmetic is float64; results come back in the input's dtype.

The exact real SVD: in the unitary DFT, ``A`` multiplies frequency ``f`` by ``K_f`` (the OTF).  An
orthonormal *real* basis of ``R^{H×W}`` is built from the DFT: one coordinate ``Re X_f`` for each
self-conjugate frequency (``f = −f``), and ``√2 Re X_f``, ``√2 Im X_f`` for one representative ``f`` of
each pair ``{f, −f}``.  In that basis (``V``) the blur is ``|K_f|`` times a rotation by the phase of
``K_f``, so ``U`` is the same basis with the spectrum multiplied by ``K_f / |K_f|`` and the singular
values are ``|K_f|`` (twice for a pair).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from innverse.errors import UserError
from innverse.physics.base import SVD, LinearOperator, check_images, gamma_like

__all__ = ["psf2otf", "data_step", "CircularBlur", "as_kernel_tensor"]


def as_kernel_tensor(kernel: Any, dtype: torch.dtype = torch.float64) -> Tensor:
    """A 2-D, finite, non-empty blur kernel as a CPU tensor of ``dtype`` (values are not rescaled)."""
    if isinstance(kernel, Tensor):
        k = kernel.detach().to("cpu", dtype)
    else:
        try:
            k = torch.as_tensor(np.asarray(kernel), dtype=dtype)
        except (TypeError, ValueError, RuntimeError):
            raise UserError(
                f"a blur kernel must be a 2-D array of numbers, got {type(kernel).__name__}"
            ) from None
    if k.dim() != 2 or k.numel() == 0:
        raise UserError(f"a blur kernel must be a non-empty 2-D array, got shape {tuple(k.shape)}")
    if not bool(torch.isfinite(k).all()):
        raise UserError("blur kernel contains NaN or infinite values")
    return k


def psf2otf(kernel: np.ndarray | Tensor, shape: tuple[int, int], dtype=torch.float64) -> Tensor:
    """The optical transfer function (``rfft2``, shape ``(H, W//2+1)``) of a kernel for an H×W image.

    The kernel is zero-padded to H×W and circularly shifted so that its centre (index ``size // 2``
    along each axis) lands on (0, 0), as MATLAB's ``psf2otf`` does.
    """
    k = torch.as_tensor(np.asarray(kernel) if not isinstance(kernel, Tensor) else kernel, dtype=dtype)
    kh, kw = k.shape
    h, w = shape
    if kh > h or kw > w:
        raise UserError(f"kernel {kh}×{kw} is larger than the image {h}×{w}")
    pad = torch.zeros(h, w, dtype=dtype)
    pad[:kh, :kw] = k
    pad = torch.roll(pad, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
    return torch.fft.rfft2(pad)


def data_step(y_f: Tensor, otf: Tensor, z: Tensor, alpha: Any) -> Tensor:
    """Closed-form ``argmin_x ‖y − k⊛x‖² + α‖x − z‖²`` (circular boundary) via the FFT, float64.

    ``y_f = rfft2(y)`` (float64), ``otf = psf2otf(k, (H, W))``, ``z`` (…,H,W) real, ``α > 0`` (a float
    or a tensor broadcastable against ``z``): ``F⁻¹[(conj(K)·Y + α·Z) / (|K|² + α)]``.
    """
    h, w = z.shape[-2:]
    z_f = torch.fft.rfft2(z.to(torch.float64))
    num = torch.conj(otf) * y_f + alpha * z_f
    den = otf.real**2 + otf.imag**2 + alpha
    return torch.fft.irfft2(num / den, s=(h, w))


class CircularBlur(LinearOperator):
    """``A x = k ⊛ x`` with circular boundary, for images ``(…, H, W)`` at least as large as ``k``.

    ``kernel``: a 2-D array or tensor (used as given: normalise it to sum 1 beforehand if you want a
    mean-preserving blur, e.g. with :func:`innverse.data.kernels.load_kernel`).  ``A``, ``A_adjoint``,
    ``prox`` and ``A_pinv`` are exact FFT formulas; ``svd`` is the exact real DFT factorisation
    described in the module docstring.
    """

    name = "circular blur"
    has_svd = True

    def __init__(self, kernel: Any, sigma: float = 0.0):
        super().__init__(sigma)
        self.kernel = as_kernel_tensor(kernel)
        self._otfs: dict[tuple, Tensor] = {}

    def __repr__(self) -> str:
        kh, kw = self.kernel.shape
        return f"CircularBlur(kernel={kh}x{kw}, sigma={self.sigma:g})"

    def otf(self, shape: tuple[int, int], device: torch.device | str | None = None) -> Tensor:
        """The (cached) OTF ``psf2otf(kernel, shape)`` on ``device`` (complex128, ``(H, W//2+1)``)."""
        dev = torch.device(device) if device is not None else torch.device("cpu")
        key = (int(shape[0]), int(shape[1]), str(dev))
        if key not in self._otfs:
            self._otfs[key] = psf2otf(self.kernel, (key[0], key[1])).to(dev)
        return self._otfs[key]

    def _spectrum(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_images(x, self.name, dims=None)
        h, w = x.shape[-2:]
        return torch.fft.rfft2(x.to(torch.float64)), self.otf((h, w), x.device)

    def A(self, x: Tensor) -> Tensor:
        """``k ⊛ x`` (circular), computed in float64, returned in ``x``'s dtype."""
        x_f, otf = self._spectrum(x)
        return torch.fft.irfft2(x_f * otf, s=tuple(x.shape[-2:])).to(x.dtype)

    def A_adjoint(self, y: Tensor) -> Tensor:
        """``Aᵀ y``: correlation with ``k`` (the spectrum times ``conj(K)``)."""
        y_f, otf = self._spectrum(y)
        return torch.fft.irfft2(y_f * torch.conj(otf), s=tuple(y.shape[-2:])).to(y.dtype)

    def data_step(self, y_f: Tensor, z: Tensor, alpha: Any) -> Tensor:
        """:func:`data_step` with this kernel's OTF: ``argmin ‖y − k⊛x‖² + α‖x − z‖²`` (float64)
        from the precomputed ``y_f = rfft2(y.double())``, as plug-and-play iterations use it."""
        h, w = z.shape[-2:]
        return data_step(y_f, self.otf((h, w), z.device), z, alpha)

    def prox(self, z: Tensor, y: Tensor, gamma: Any) -> Tensor:
        """``argmin_x ½‖y − A x‖² + 1/(2γ)‖x − z‖²`` in closed form (``α = 1/γ`` in :func:`data_step`)."""
        check_images(z, self.name, dims=None)
        g = gamma_like(gamma, z.to(torch.float64))
        y_f = torch.fft.rfft2(check_images(y, self.name, dims=None).to(torch.float64))
        return self.data_step(y_f, z, 1.0 / g).to(z.dtype)

    def regularized_inverse(self, y: Tensor, alpha: float) -> Tensor:
        """``F⁻¹[conj(K)·Y / (|K|² + α)]`` (a Wiener filter when ``α`` is the noise-to-signal ratio)."""
        if not alpha > 0:
            raise UserError(f"the regularisation weight must be > 0, got {alpha}")
        y_f, otf = self._spectrum(y)
        h, w = y.shape[-2:]
        x = torch.fft.irfft2(torch.conj(otf) * y_f / (otf.real**2 + otf.imag**2 + alpha), s=(h, w))
        return x.to(y.dtype)

    def A_pinv(self, y: Tensor, rcond: float = 1e-12) -> Tensor:
        """``F⁻¹[Y / K]`` on frequencies with ``|K| > rcond · max|K|``, 0 elsewhere."""
        y_f, otf = self._spectrum(y)
        mag2 = otf.real**2 + otf.imag**2
        keep = mag2 > (rcond * float(mag2.max().sqrt())) ** 2
        inv = torch.where(keep, torch.conj(otf) / torch.where(keep, mag2, torch.ones_like(mag2)), 0)
        return torch.fft.irfft2(y_f * inv, s=tuple(y.shape[-2:])).to(y.dtype)

    def _make_svd(self, x_shape: tuple[int, ...], device: torch.device) -> SVD:
        c, h, w = x_shape
        return _DFTSVD(c, h, w, self.otf((h, w), device))


class _DFTSVD(SVD):
    """The real DFT factorisation of a circular blur (see the module docstring)."""

    def __init__(self, c: int, h: int, w: int, otf: Tensor):
        super().__init__((c, h, w), (c, h, w), c * h * w)
        self.h, self.w, self.wr = h, w, w // 2 + 1
        dev = otf.device
        kk = torch.arange(h).reshape(h, 1).expand(h, self.wr)
        ll = torch.arange(self.wr).reshape(1, self.wr).expand(h, self.wr)
        self_col = (ll == 0) | ((w % 2 == 0) & (ll == w // 2))  # columns holding their own conjugates
        self_conj = self_col & ((kk == 0) | ((h % 2 == 0) & (kk == h // 2)))
        rep = ~self_conj & (~self_col | (kk <= (h - 1) // 2))  # one representative per pair {f, -f}
        flat = torch.arange(h * self.wr).reshape(h, self.wr)
        self.i_self = flat[self_conj].to(dev)
        self.i_rep = flat[rep].to(dev)
        rep_in_col = self_col[rep]  # representatives whose conjugate is also stored (k -> h - k)
        self.j_rep = torch.nonzero(rep_in_col).flatten().to(dev)
        self.i_conj = flat[(h - kk[rep][rep_in_col]) % h, ll[rep][rep_in_col]].to(dev)
        assert self.i_self.numel() + 2 * self.i_rep.numel() == h * w
        k = otf.reshape(-1)
        k_self = k[self.i_self].real
        self.phase_self = torch.where(k_self < 0, -1.0, 1.0).to(torch.float64)
        k_rep = k[self.i_rep]
        mag = k_rep.abs()
        self.phase_rep = torch.where(mag > 0, k_rep / torch.where(mag > 0, mag, 1.0), 1.0 + 0j)
        s = torch.cat([k_self.abs(), mag, mag])
        self._sing = s.repeat(c)

    def singular_values(self) -> Tensor:
        return self._sing

    def _coords(self, x: Tensor, phase: bool) -> Tensor:
        b = x.shape[0]
        x_f = torch.fft.rfft2(x.reshape(b, *self.x_shape).to(torch.float64), norm="ortho").flatten(2)
        a = x_f[..., self.i_self].real
        r = x_f[..., self.i_rep]
        if phase:
            a = a * self.phase_self
            r = r * torch.conj(self.phase_rep)
        out = torch.cat([a, math.sqrt(2.0) * r.real, math.sqrt(2.0) * r.imag], dim=-1)
        return out.reshape(b, -1).to(x.dtype)

    def _image(self, v: Tensor, phase: bool) -> Tensor:
        b = v.shape[0]
        c = self.x_shape[0]
        n_self, n_rep = self.i_self.numel(), self.i_rep.numel()
        t = v.reshape(b, c, -1).to(torch.float64)
        a = t[..., :n_self]
        r = torch.complex(t[..., n_self : n_self + n_rep], t[..., n_self + n_rep :]) / math.sqrt(2.0)
        if phase:
            a = a * self.phase_self
            r = r * self.phase_rep
        spec = torch.zeros(b, c, self.h * self.wr, dtype=torch.complex128, device=v.device)
        spec[..., self.i_self] = a.to(torch.complex128)
        spec[..., self.i_rep] = r
        spec[..., self.i_conj] = torch.conj(r[..., self.j_rep])
        x = torch.fft.irfft2(spec.reshape(b, c, self.h, self.wr), s=(self.h, self.w), norm="ortho")
        return x.to(v.dtype)

    def V_adjoint(self, x: Tensor) -> Tensor:
        return self._coords(x, phase=False)

    def V(self, v: Tensor) -> Tensor:
        return self._image(v, phase=False)

    def U_adjoint(self, y: Tensor) -> Tensor:
        return self._coords(y, phase=True)

    def U(self, u: Tensor) -> Tensor:
        return self._image(u, phase=True)
