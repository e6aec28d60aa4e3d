"""Plug-and-play deblurring with stand-in models: the data step, Wiener, the PnP loop, the deblur API."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import innverse.api as api
from _standins import BlurDenoiser, MadEstimator, smooth_image
from innverse.data.degrade import blur, psf2otf, psnr, seeded_noise
from innverse.data.kernels import gaussian_kernel
from innverse.errors import UserError
from innverse.solvers.pnp import data_step, pnp_deblur, wiener_deconv


def blocky_image(h: int = 64, w: int = 64, c: int = 1, seed: int = 0) -> torch.Tensor:
    """Piecewise-constant blocks in [0.1, 0.9] (sharp edges, so blur matters), (1,C,H,W)."""
    g = torch.Generator().manual_seed(seed)
    base = 0.1 + 0.8 * torch.rand(1, c, h // 8, w // 8, generator=g)
    return F.interpolate(base, size=(h, w), mode="nearest")


def _blurred(seed: int = 0):
    x = blocky_image(seed=seed).double()
    k = gaussian_kernel(9, 1.5)
    y = blur(x, k) + seeded_noise(x.shape, 2.55, seed).double()
    return x, k, y


def test_data_step_reduces_misfit_and_is_the_minimiser():
    x, k, y = _blurred()
    otf = psf2otf(k, y.shape[-2:])
    y_f = torch.fft.rfft2(y)
    z = torch.zeros_like(y)
    alpha = 0.05
    xs = data_step(y_f, otf, z, alpha)

    def misfit(v):
        return float(((y - blur(v, k)) ** 2).sum())

    def objective(v):
        return misfit(v) + alpha * float(((v - z) ** 2).sum())

    assert misfit(xs) < misfit(z)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        d = torch.randn(xs.shape, generator=g, dtype=xs.dtype) * 1e-3
        assert objective(xs) < objective(xs + d)


def test_wiener_improves_blurred_image():
    x, k, y = _blurred()
    w = wiener_deconv(y, k, nsr=1e-2)
    assert psnr(w, x) > psnr(y, x)


def test_pnp_runs_and_reports():
    x, k, y = _blurred()
    z, info = pnp_deblur(y.float(), k, BlurDenoiser(), MadEstimator(), max_iter=5)
    assert z.shape == y.shape and torch.isfinite(z).all()
    n = info["iterations"][0]
    assert 0 <= n <= 5 and len(info["betas"][0]) == n + 2
    assert info["betas"][0][1] == pytest.approx(10 * info["betas"][0][0])
    assert psnr(z, x) > psnr(y, x)
    z0, info0 = pnp_deblur(y.float(), k, BlurDenoiser(), MadEstimator(), beta0=0.01, max_iter=0)
    assert info0["iterations"] == [0] and torch.equal(z0, y.float())


def test_api_deblur_colour_and_gray():
    x = smooth_image(48, 48, c=3)
    k = gaussian_kernel(7, 1.2)
    y = blur(x, k) + seeded_noise(x.shape, 2.55, 0)
    out, info = api.deblur(
        y.numpy()[0].transpose(1, 2, 0),
        k,
        sigma=2.55,
        model=BlurDenoiser(),
        estimator=MadEstimator(),
        max_iter=3,
        return_info=True,
    )
    assert out.shape == (48, 48, 3) and len(info["iterations"]) == 3
    assert info["sigma"] == [pytest.approx(2.55)]
    with pytest.raises(UserError, match="larger than the image"):
        api.deblur(
            np.zeros((10, 10), np.float32), np.ones((15, 15)), model=BlurDenoiser(), estimator=MadEstimator()
        )
    with pytest.raises(UserError, match="sums to"):
        api.deblur(
            np.zeros((20, 20), np.float32), np.zeros((3, 3)), model=BlurDenoiser(), estimator=MadEstimator()
        )
