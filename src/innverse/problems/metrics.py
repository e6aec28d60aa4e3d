"""Distances between sample sets and posterior-quality scores for the posterior INNs.

* :func:`imq_mmd_matrix` -- the multi-scale inverse multiquadric MMD matrix of Ardizzone et al.'s
  released code, ``sum_(C, a) C^a ((C + d^2) / a)^(-a)``, used as a *training loss* (its mean is the
  biased MMD^2 estimate);
* :func:`mmd2` -- the unbiased MMD^2 estimate between two sample sets with the kernel
  ``k(a, b) = sum_h h^2 / (h^2 + ||a - b||^2)`` (inverse multiquadrics at widths ``h``), the
  *evaluation* score (0 in expectation when both sets come from one distribution);
* :func:`calibration_error` -- Ardizzone et al.'s calibration error of posterior quantiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "imq_mmd_matrix",
    "mmd2",
    "EVAL_WIDTHS",
    "FORWARD_KERNELS",
    "BACKWARD_KERNELS",
    "calibration_error",
    "quantile_ranks",
]

#: Ardizzone et al.'s latent-space kernels ((C, a) pairs) for the forward MMD
FORWARD_KERNELS = ((0.2, 2.0), (1.5, 2.0), (3.0, 2.0))
#: their 8-modes x-space kernels for the backward MMD
BACKWARD_KERNELS = ((0.1, 0.1), (0.8, 0.5), (0.2, 2.0))
#: inverse multiquadric widths of the evaluation MMD (the 8-modes example of FrEIA uses these)
EVAL_WIDTHS = (0.05, 0.2, 0.9)


def _sqdist(a: Tensor, b: Tensor) -> Tensor:
    """Squared Euclidean distances ``(N, M)`` (by the expanded square: one matrix product)."""
    aa, bb = (a * a).sum(1), (b * b).sum(1)
    return (aa[:, None] + bb[None, :] - 2.0 * (a @ b.T)).clamp_min(0.0)


def _imq(d: Tensor, c: float, a: float) -> Tensor:
    """``c^a ((c + d) / a)^(-a)``, with the common exponents written without ``pow``."""
    base = (c + d) / a
    if a == 1.0:
        v = base.reciprocal()
    elif a == 2.0:
        v = base.reciprocal().square()
    elif a == 0.5:
        v = base.rsqrt()
    else:
        v = torch.exp(-a * torch.log(base))
    return c**a * v


def imq_mmd_matrix(x: Tensor, y: Tensor, kernels: Sequence[tuple[float, float]]) -> Tensor:
    """``K_xx + K_yy - 2 K_xy`` (``(N, N)``, ``x`` and ``y`` both ``(N, D)``) with the generalised inverse
    multiquadric kernel ``k(d^2) = sum_(C, a) C^a ((C + d^2) / a)^(-a)``; ``mean()`` of it is the biased
    MMD^2 estimate (Ardizzone et al.'s training loss)."""
    if x.shape != y.shape:
        raise ValueError(f"imq_mmd_matrix needs equal shapes; got {tuple(x.shape)} and {tuple(y.shape)}")
    dxx, dyy, dxy = _sqdist(x, x), _sqdist(y, y), _sqdist(x, y)
    out = torch.zeros_like(dxx)
    for c, a in kernels:
        out = out + _imq(dxx, c, a) + _imq(dyy, c, a) - 2 * _imq(dxy, c, a)
    return out


def mmd2(x: Tensor, y: Tensor, widths: Sequence[float] = EVAL_WIDTHS) -> float:
    """Unbiased MMD^2 between samples ``x`` (N, D) and ``y`` (M, D) (float64 arithmetic) with the
    kernel ``sum_h h^2 / (h^2 + ||a - b||^2)``."""
    x, y = x.double(), y.double()
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError("mmd2 needs at least two samples on each side")

    def k(a: Tensor, b: Tensor) -> Tensor:
        d = _sqdist(a, b)
        return sum(h * h / (h * h + d) for h in widths)  # type: ignore[return-value]

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(sxx + syy - 2 * kxy.mean())


def quantile_ranks(samples: Tensor, truth: Tensor) -> Tensor:
    """For posterior ``samples`` (B, n, D) and true values ``truth`` (B, D): the fraction of samples
    below the truth per observation and dimension, ``(B, D)`` in [0, 1]."""
    return (samples < truth[:, None, :]).double().mean(1)


def calibration_error(
    samples: Tensor, truth: Tensor, levels: Sequence[float] | None = None
) -> tuple[float, list[float]]:
    """Calibration error of posterior quantiles (Ardizzone et al. 2019, Sec. 4.2).

    For each confidence ``q`` the central ``q``-interval of every posterior (per dimension) should
    contain the true value a fraction ``q`` of the time; ``e_q`` = observed fraction - ``q``.  Returns
    ``(median over q and dimensions of |e_q|, [e_q averaged over dimensions] per q)`` for ``q`` in
    ``levels`` (default 0.01, 0.02, ..., 0.99).
    """
    qs = [i / 100 for i in range(1, 100)] if levels is None else list(levels)
    r = quantile_ranks(samples, truth)  # (B, D)
    errs = []
    for q in qs:
        inside = ((r >= 0.5 - q / 2) & (r <= 0.5 + q / 2)).double().mean(0)  # (D,)
        errs.append(inside - q)
    e = torch.stack(errs)  # (Q, D)
    return float(e.abs().median()), [float(v) for v in e.mean(1)]
