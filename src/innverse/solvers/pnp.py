"""Plug-and-play deblurring with a blind denoiser and a noise estimator (WINNet paper, Algorithm 1).

Model: ``y = k ⊛ x + n`` with circular convolution.  With ``z₀ = y``, ``β₀ = NENet(y)`` (or the given
σ), ``β₁ = 10·β₀`` and ``k = 1``, repeat while ``β_k > β₀`` and ``k ≤ max_iter``::

    α   = λ·β₀² / β_k²
    x_k = argmin ‖y − k⊛x‖² + α‖x − z_{k−1}‖²  =  F⁻¹[(conj(K)·Y + α·Z) / (|K|² + α)]
    β_{k+1} = NENet(x_k)
    z_k = WINNet_blind(x_k, 2·β_{k+1})

and return ``z``.  The default ``λ = 0.23``.  The data step is the prox of the forward operator
:class:`innverse.physics.CircularBlur` (``prox(z, y, γ)`` with ``γ = 1/α``), evaluated by its
:meth:`~innverse.physics.CircularBlur.data_step` from the FFT of ``y`` computed once per image.
:func:`wiener_deconv` is a plain Wiener filter baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from innverse.data import color as colorlib
from innverse.physics.blur import CircularBlur, data_step
from innverse.solvers.denoise import (
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    estimate_gray,
    estimate_sigma,
    model_device,
)
from innverse.solvers.tiled import tiled_apply

__all__ = [
    "DEFAULT_LAMBDA",
    "DEFAULT_MAX_ITER",
    "MIN_BETA",
    "data_step",
    "wiener_deconv",
    "pnp_deblur",
    "deblur_tensor",
]

DEFAULT_LAMBDA = 0.23
DEFAULT_MAX_ITER = 30
#: smallest β₀ (data scale) used; a noise-free estimate would otherwise stop the loop at once
MIN_BETA = 0.5 / 255.0


def _operator(kernel: np.ndarray | torch.Tensor | CircularBlur) -> CircularBlur:
    return kernel if isinstance(kernel, CircularBlur) else CircularBlur(kernel)


def wiener_deconv(
    y: torch.Tensor, kernel: np.ndarray | torch.Tensor | CircularBlur, nsr: float
) -> torch.Tensor:
    """Wiener deconvolution ``F⁻¹[conj(K)·Y / (|K|² + nsr)]`` of (…,H,W) ``y`` (circular boundary).

    ``kernel``: a 2-D kernel or a :class:`~innverse.physics.CircularBlur`.  ``nsr``: noise-to-signal
    power ratio (> 0), e.g. ``σ² / var(x)``.
    """
    if not nsr > 0:
        raise ValueError(f"nsr must be > 0, got {nsr}")
    return _operator(kernel).regularized_inverse(y, nsr)


@torch.no_grad()
def pnp_deblur(
    y: torch.Tensor,
    kernel: np.ndarray | torch.Tensor | CircularBlur,
    denoiser: Any,
    estimator: Any,
    beta0: float | torch.Tensor | None = None,
    lam: float = DEFAULT_LAMBDA,
    max_iter: int = DEFAULT_MAX_ITER,
    tile: int | None = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Deblur a gray batch ``y`` (N,1,H,W) in [0, 1]; each image runs its own loop.

    ``kernel``: a 2-D blur kernel or the forward operator :class:`~innverse.physics.CircularBlur`
    (the operator's ``sigma`` is not used: β₀ is given or estimated).  ``denoiser(x, sigma)`` is a
    blind gray denoiser, ``estimator(x) -> (N,)`` a noise estimator, both on the data scale.
    ``beta0``: known noise std per image (data scale; float or (N,)), else estimated.
    Returns ``(z, info)`` with ``info = {"iterations": [n per image], "betas": [[β₀, β₁, …] per image]}``
    (data scale).
    """
    if y.dim() != 4 or y.shape[1] != 1:
        raise ValueError(f"pnp_deblur expects (N,1,H,W), got {tuple(y.shape)}")
    if not lam > 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    n, _, h, w = y.shape
    dev = model_device(denoiser, y.device)
    y = y.to(dev, torch.float32)
    op = _operator(kernel)
    op.otf((h, w), dev)  # checks the kernel against the image size before any model runs
    if beta0 is None:
        est_dev = model_device(estimator, dev)
        b0 = estimate_gray(estimator, y.to(est_dev)).to(dev)
    else:
        b0 = torch.as_tensor(beta0, dtype=torch.float32, device=dev).reshape(-1).expand(n)
    b0 = b0.clamp_min(MIN_BETA)
    out = torch.empty_like(y)
    iterations: list[int] = []
    betas: list[list[float]] = []
    for i in range(n):
        yi = y[i : i + 1]
        y_f = torch.fft.rfft2(yi.to(torch.float64))
        beta_0 = float(b0[i])
        beta = 10.0 * beta_0
        seq = [beta_0, beta]
        z = yi
        k = 1
        while beta > beta_0 and k <= max_iter:
            alpha = lam * beta_0**2 / beta**2
            x = op.data_step(y_f, z, alpha).to(torch.float32)
            beta = float(estimate_gray(estimator, x.to(model_device(estimator, dev))).reshape(-1)[0])
            seq.append(beta)
            s = torch.full((1,), 2.0 * beta, dtype=torch.float32, device=dev)
            z = tiled_apply(lambda t, s=s: denoiser(t, s), x, tile=tile, overlap=overlap).to(
                dev, torch.float32
            )
            k += 1
        out[i : i + 1] = z
        iterations.append(k - 1)
        betas.append(seq)
    return out, {"iterations": iterations, "betas": betas}


@torch.no_grad()
def deblur_tensor(
    x: torch.Tensor,
    kernel: np.ndarray | torch.Tensor | CircularBlur,
    denoiser: Any,
    estimator: Any,
    sigma255: float | None = None,
    lam: float = DEFAULT_LAMBDA,
    max_iter: int = DEFAULT_MAX_ITER,
    tile: int | None = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    color: str = colorlib.DEFAULT_COLOR_SPACE,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Deblur (B,C,H,W) in [0, 1], C ∈ {1, 3}, by :func:`pnp_deblur` on every gray plane.

    Colour images are mapped with ``color`` (the blur commutes with a per-pixel linear map, and the
    noise std stays σ, see :mod:`innverse.data.color`) and deblurred plane by plane.  β₀ is
    ``sigma255 / 255`` when given, else the estimator's σ̂ per image (mean over R, G, B) shared by its
    planes.  ``info``: ``sigma`` (β₀ per image, 0–255 scale), ``iterations`` (per plane) and ``betas``
    (β sequence per plane, 0–255 scale).
    """
    b, c, h, w = x.shape
    if c not in (1, 3):
        raise ValueError(f"deblur_tensor expects 1 or 3 channels, got {c}")
    if sigma255 is None:
        beta0 = estimate_sigma(x, estimator)
    else:
        beta0 = torch.full((b,), sigma255 / 255.0, device=x.device)
    planes = colorlib.forward(x, color) if c == 3 else x
    z, info = pnp_deblur(
        planes.reshape(b * c, 1, h, w),
        kernel,
        denoiser,
        estimator,
        beta0=beta0.to(x.device).repeat_interleave(c),
        lam=lam,
        max_iter=max_iter,
        tile=tile,
        overlap=overlap,
    )
    z = z.to(x.device).reshape(b, c, h, w)
    out = colorlib.inverse(z, color) if c == 3 else z
    return out, {
        "sigma": [float(v) * 255.0 for v in beta0],
        "iterations": info["iterations"],
        "betas": [[v * 255.0 for v in seq] for seq in info["betas"]],
    }
