"""PSNR and SSIM (innverse.metrics) on tensors and numpy arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from innverse.metrics import psnr, ssim


def test_psnr_values_and_inputs():
    x = torch.zeros(2, 1, 8, 8)
    y = x.clone()
    y[0] += 0.1  # MSE 0.01 -> 20 dB; image 1 identical -> inf
    p = psnr(y, x)
    assert p.dtype == torch.float64 and p[0].item() == pytest.approx(20.0) and math.isinf(p[1].item())
    a = np.full((8, 8), 10, np.uint8)
    a.setflags(write=False)  # read-only arrays (e.g. from PIL images) are fine
    assert psnr(a, np.zeros((8, 8), np.uint8), data_range=255.0)[0].item() == pytest.approx(
        10 * math.log10(255**2 / 100)
    )
    assert psnr(y[0, 0], x[0, 0], crop=2)[0].item() == pytest.approx(20.0)
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(x, x[..., :4])
    with pytest.raises(ValueError, match="crop"):
        psnr(x, x, crop=4)


def test_ssim_bounds():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 32, 32, generator=g)
    assert ssim(x, x)[0].item() == pytest.approx(1.0)
    assert ssim(x + 0.2 * torch.randn(x.shape, generator=g), x)[0].item() < 0.9
    with pytest.raises(ValueError, match="SSIM window"):
        ssim(x[..., :8, :8], x[..., :8, :8])
