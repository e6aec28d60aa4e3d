"""The contract of a forward operator ``y = A(x) + n`` and of its singular value decomposition.

Conventions (they hold for every operator in :mod:`innverse.physics`):

* Images are ``(B, C, H, W)`` tensors on the data scale ``[0, 1]``; ``sigma`` (the std of the additive
  Gaussian noise) is on that scale too (``25 / 255`` for "σ = 25").
* ``A(x)`` is the noise-free forward map; ``noise(y, generator)`` adds ``sigma · z`` with ``z`` drawn
  float32 on the generator's device (``y``'s device when no generator is given; then moved to ``y``'s
  device and dtype), so a seeded CPU generator
  gives the same noise for CPU and CUDA, float32 and float64 images.  ``op(x, generator)`` is
  ``noise(A(x), generator)``.  With ``torch.Generator().manual_seed(i)`` and ``sigma = s / 255`` the
  noise equals :func:`innverse.data.degrade.seeded_noise` exactly.
* :class:`LinearOperator` adds ``A_adjoint`` (``Aᵀ``, exact: ``⟨A x, y⟩ = ⟨x, Aᵀ y⟩``), ``prox`` and
  ``A_pinv``.  ``prox(z, y, gamma)`` returns

  ``argmin_x ½‖y − A x‖² + 1/(2γ)‖x − z‖²  =  (γ AᵀA + I)⁻¹ (γ Aᵀ y + z)``,

  the same minimiser as deepinv's ``prox_l2(z, y, gamma)`` (which scales the objective by γ).
  ``gamma`` is a positive float or a ``(B,)`` tensor.  Operators with a closed form override it; the
  fallback solves the normal equations by conjugate gradients.
* An operator with ``has_svd`` gives ``svd(x_shape)``: an :class:`SVD` of the matrix of ``A`` for
  images of per-sample shape ``x_shape = (C, H, W)``, in the layout DDRM uses (``V, Vt, U, Ut,
  singulars, add_zeros``): ``V_adjoint(x)`` is ``(B, D)`` with ``D = C·H·W``; its first ``M`` entries
  pair with ``singular_values()`` (``(M,)``, not sorted, possibly containing zeros);
  ``A x = U(s ⊙ V_adjoint(x)[:, :M])``.  ``V`` is orthogonal (``D×D``), ``U`` has ``M`` orthonormal
  columns (it is square for all operators here except the thin SVD of inpainting).
* A non-linear operator has ``linear = False`` and no adjoint; methods that need linearity call
  :meth:`Operator.require_linear`, which raises :class:`~innverse.errors.UserError` with one line.
  ``A_surrogate(x)`` is a differentiable stand-in for ``A`` (``A`` itself when ``A`` is differentiable).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from innverse.errors import UserError

__all__ = [
    "Operator",
    "LinearOperator",
    "SVD",
    "conjugate_gradient",
    "check_images",
    "check_sigma",
    "gamma_like",
]


def check_sigma(sigma: Any) -> float:
    """A noise std on the data scale: a finite float ``>= 0``."""
    if isinstance(sigma, bool):
        raise UserError(f"sigma must be a number, got {sigma!r}")
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        raise UserError(f"sigma must be a number, got {sigma!r}") from None
    if not math.isfinite(s) or s < 0:
        raise UserError(f"sigma must be a finite number >= 0 (data scale), got {sigma!r}")
    return s


def check_images(x: Any, who: str, dims: int | None = 4) -> Tensor:
    """``x`` must be a floating tensor of ``dims`` dimensions (``None``: at least 2)."""
    if not isinstance(x, Tensor):
        raise UserError(f"{who}: expected a torch tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise UserError(f"{who}: expected a floating-point tensor, got dtype {x.dtype}")
    if dims is None:
        if x.dim() < 2:
            raise UserError(f"{who}: expected (..., H, W), got shape {tuple(x.shape)}")
    elif x.dim() != dims:
        raise UserError(f"{who}: expected images (B, C, H, W), got shape {tuple(x.shape)}")
    return x


def gamma_like(gamma: Any, x: Tensor) -> Tensor:
    """``gamma`` (a positive float or a ``(B,)`` tensor) as a tensor broadcastable against ``x``."""
    g = torch.as_tensor(gamma, dtype=x.dtype, device=x.device)
    if g.dim() == 1 and g.numel() == x.shape[0]:
        g = g.reshape(-1, *([1] * (x.dim() - 1)))
    elif g.dim() != 0:
        raise UserError(f"gamma must be a number or a ({x.shape[0]},) tensor, got shape {tuple(g.shape)}")
    if not bool(torch.isfinite(g).all()) or not bool((g > 0).all()):
        raise UserError("gamma must be finite and > 0")
    return g


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """Per-sample inner product, shape ``(B, 1, …, 1)``."""
    return (a * b).sum(dim=tuple(range(1, a.dim())), keepdim=True)


def conjugate_gradient(
    apply: Callable[[Tensor], Tensor],
    b: Tensor,
    x0: Tensor | None = None,
    max_iter: int = 200,
    tol: float = 1e-10,
) -> Tensor:
    """Solve ``apply(x) = b`` for a symmetric positive-(semi)definite ``apply``, batched over dim 0.

    Each sample stops when its residual norm is ``<= tol · ‖b‖`` (converged samples are frozen);
    at most ``max_iter`` iterations.
    """
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b - apply(x)
    p = r.clone()
    rs = _dot(r, r)
    thresh = (tol**2) * _dot(b, b)
    tiny = torch.finfo(b.dtype).tiny
    for _ in range(max_iter):
        active = rs > thresh
        if not bool(active.any()):
            break
        ap = apply(p)
        pap = _dot(p, ap)
        alpha = torch.where(active & (pap > 0), rs / pap.clamp_min(tiny), torch.zeros_like(rs))
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = _dot(r, r)
        beta = torch.where(active, rs_new / rs.clamp_min(tiny), torch.zeros_like(rs))
        p = r + beta * p
        rs = torch.where(active, rs_new, rs)
    return x


class SVD:
    """``A = U diag(s) Vᵀ`` for images of per-sample shape ``x_shape`` (layout: module docstring).

    Subclasses implement :meth:`V_adjoint`, :meth:`V`, :meth:`U_adjoint`, :meth:`U` and
    :meth:`singular_values`; ``A``, ``A_adjoint``, ``A_pinv`` and ``prox`` follow from them.  All
    methods accept a batch ``(B, …)`` and return the input's dtype.
    """

    def __init__(self, x_shape: Sequence[int], y_shape: Sequence[int], rank: int):
        self.x_shape = tuple(int(n) for n in x_shape)
        self.y_shape = tuple(int(n) for n in y_shape)
        self.D = math.prod(self.x_shape)
        self.M = int(rank)

    # -- the factors (subclasses) -------------------------------------------------------------------
    def V_adjoint(self, x: Tensor) -> Tensor:
        """``Vᵀ x``: images ``(B, *x_shape)`` to spectral vectors ``(B, D)``."""
        raise NotImplementedError

    def V(self, v: Tensor) -> Tensor:
        """``V v``: ``(B, D)`` to images ``(B, *x_shape)``."""
        raise NotImplementedError

    def U_adjoint(self, y: Tensor) -> Tensor:
        """``Uᵀ y``: measurements ``(B, *y_shape)`` to ``(B, M)``."""
        raise NotImplementedError

    def U(self, u: Tensor) -> Tensor:
        """``U u``: ``(B, M)`` to measurements ``(B, *y_shape)``."""
        raise NotImplementedError

    def singular_values(self) -> Tensor:
        """The ``M`` singular values (float64, on the CPU unless the subclass says otherwise)."""
        raise NotImplementedError

    # -- derived ------------------------------------------------------------------------------------
    def add_zeros(self, u: Tensor) -> Tensor:
        """Pad ``(B, M)`` with trailing zeros to ``(B, D)`` (DDRM's ``add_zeros``)."""
        return torch.nn.functional.pad(u.reshape(u.shape[0], -1), (0, self.D - self.M))

    def _s(self, like: Tensor) -> Tensor:
        return self.singular_values().to(device=like.device, dtype=like.dtype)

    def A(self, x: Tensor) -> Tensor:
        """``U diag(s) Vᵀ x``."""
        return self.U(self._s(x) * self.V_adjoint(x)[:, : self.M])

    def A_adjoint(self, y: Tensor) -> Tensor:
        """``V diag(s) Uᵀ y``."""
        return self.V(self.add_zeros(self._s(y) * self.U_adjoint(y)))

    def A_pinv(self, y: Tensor, rcond: float = 1e-12) -> Tensor:
        """``V diag(s⁺) Uᵀ y``; singular values ``<= rcond · max(s)`` count as zero."""
        s = self._s(y)
        keep = s > rcond * s.max().clamp_min(torch.finfo(s.dtype).tiny)
        inv = torch.where(keep, 1.0 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
        return self.V(self.add_zeros(inv * self.U_adjoint(y)))

    def prox(self, z: Tensor, y: Tensor, gamma: Any) -> Tensor:
        """``argmin_x ½‖y − A x‖² + 1/(2γ)‖x − z‖²`` component by component in the V basis."""
        v = self.V_adjoint(z)
        g = gamma_like(gamma, v)
        s = self._s(v)
        head = (g * s * self.U_adjoint(y) + v[:, : self.M]) / (g * s * s + 1.0)
        return self.V(torch.cat([head, v[:, self.M :]], dim=1))


class Operator:
    """A forward operator ``y = A(x) + n`` with Gaussian noise of std ``sigma`` (data scale [0, 1])."""

    #: whether ``A`` is linear (DDRM, ILVR and ``prox`` need it)
    linear: ClassVar[bool] = False
    #: a short name used in messages
    name: str = "operator"

    def __init__(self, sigma: float = 0.0):
        self.sigma = check_sigma(sigma)

    def A(self, x: Tensor) -> Tensor:
        """The noise-free forward map."""
        raise NotImplementedError

    def A_surrogate(self, x: Tensor) -> Tensor:
        """A differentiable stand-in for :meth:`A` (for gradient-based guidance such as DPS)."""
        return self.A(x)

    def output_shape(self, x_shape: Sequence[int]) -> tuple[int, ...]:
        """The per-sample shape of ``A(x)`` for images of per-sample shape ``x_shape``."""
        return tuple(int(n) for n in x_shape)

    def noise(self, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``y + sigma · z``, ``z`` standard normal drawn float32 on the generator's device (or ``y``'s)."""
        if self.sigma == 0:
            return y
        dev = generator.device if generator is not None else y.device
        z = torch.randn(tuple(y.shape), generator=generator, device=dev, dtype=torch.float32)
        return y + (self.sigma * z).to(device=y.device, dtype=y.dtype)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``noise(A(x), generator)``: a seeded noisy measurement."""
        return self.noise(self.A(x), generator)

    def require_linear(self, who: str) -> None:
        """Raise a one-line :class:`UserError` when ``who`` (e.g. ``"ddrm"``) cannot use this operator."""
        if not self.linear:
            raise UserError(f"{who} needs a linear forward operator; {self.name} is non-linear")

    def require_svd(self, who: str) -> None:
        """Raise a one-line :class:`UserError` unless this operator has an SVD."""
        self.require_linear(who)
        if not getattr(self, "has_svd", False):
            raise UserError(
                f"{who} needs an operator with a singular value decomposition; {self.name} has none"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sigma={self.sigma:g})"


class LinearOperator(Operator):
    """A linear ``A`` with its adjoint, ``prox`` of ½‖y − A x‖², pseudo-inverse and (maybe) an SVD."""

    linear = True
    #: whether :meth:`svd` is available
    has_svd: bool = False
    #: conjugate-gradient settings of the fallback :meth:`prox` and :meth:`A_pinv`
    cg_max_iter: int = 500
    cg_tol: float = 1e-12

    def __init__(self, sigma: float = 0.0):
        super().__init__(sigma)
        self._svds: dict[tuple, SVD] = {}

    def A_adjoint(self, y: Tensor) -> Tensor:
        """``Aᵀ y``."""
        raise NotImplementedError

    def prox(self, z: Tensor, y: Tensor, gamma: Any) -> Tensor:
        """``argmin_x ½‖y − A x‖² + 1/(2γ)‖x − z‖²``, here by conjugate gradients on
        ``(γ AᵀA + I) x = γ Aᵀ y + z`` started at ``z``, to the relative residual :attr:`cg_tol` in at
        most :attr:`cg_max_iter` iterations (closed forms override this)."""
        g = gamma_like(gamma, z)
        rhs = g * self.A_adjoint(y) + z
        return conjugate_gradient(
            lambda v: g * self.A_adjoint(self.A(v)) + v, rhs, z, self.cg_max_iter, self.cg_tol
        )

    def prox_l2(self, z: Tensor, y: Tensor, gamma: Any) -> Tensor:
        """Alias of :meth:`prox` (deepinv's name; the minimiser is the same)."""
        return self.prox(z, y, gamma)

    def A_pinv(self, y: Tensor) -> Tensor:
        """The pseudo-inverse ``A⁺ y``.  Fallback: the SVD when there is one, else the minimum-norm
        solution ``Aᵀ w`` with ``A Aᵀ w = y`` by conjugate gradients (exact when ``A`` has full row
        rank)."""
        if self.has_svd:
            return self.svd(self._x_shape_for(y), device=y.device).A_pinv(y)
        w = conjugate_gradient(lambda v: self.A(self.A_adjoint(v)), y, None, self.cg_max_iter, self.cg_tol)
        return self.A_adjoint(w)

    def _x_shape_for(self, y: Tensor) -> tuple[int, ...]:
        """The per-sample image shape whose ``A`` has the shape of ``y`` (square operators)."""
        return tuple(y.shape[1:])

    def svd(self, x_shape: Sequence[int], device: torch.device | str | None = None) -> SVD:
        """The :class:`SVD` of ``A`` for images of per-sample shape ``x_shape = (C, H, W)``."""
        if not self.has_svd:
            raise UserError(f"{self.name} has no closed-form singular value decomposition")
        shape = tuple(int(n) for n in x_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise UserError(f"svd: x_shape must be (C, H, W), got {tuple(x_shape)}")
        dev = torch.device(device) if device is not None else torch.device("cpu")
        key = (shape, str(dev))
        if key not in self._svds:
            self._svds[key] = self._make_svd(shape, dev)
        return self._svds[key]

    def _make_svd(self, x_shape: tuple[int, ...], device: torch.device) -> SVD:
        raise NotImplementedError
