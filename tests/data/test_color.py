"""Colour transforms for gray denoisers: exactness, unit range, noise gains, per-channel σ."""

from __future__ import annotations

import math

import pytest
import torch

from innverse.data import color as colorlib


def test_opponent_orthonormal_and_exact():
    m = colorlib.OPPONENT
    torch.testing.assert_close(m @ m.T, torch.eye(3, dtype=torch.float64))
    x = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    torch.testing.assert_close(colorlib.opponent_to_rgb(colorlib.rgb_to_opponent(x)), x, rtol=0, atol=1e-12)


def test_ycbcr_exact_and_reference_values():
    x = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    torch.testing.assert_close(colorlib.ycbcr_to_rgb(colorlib.rgb_to_ycbcr(x)), x, rtol=0, atol=1e-12)
    white = torch.ones(1, 3, 1, 1, dtype=torch.float64)
    torch.testing.assert_close(
        colorlib.rgb_to_ycbcr(white).flatten(), torch.tensor([1.0, 0.5, 0.5], dtype=torch.float64)
    )
    red = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).view(1, 3, 1, 1)
    torch.testing.assert_close(
        colorlib.rgb_to_ycbcr(red).flatten(),
        torch.tensor([0.299, 0.5 - 0.168735892, 1.0], dtype=torch.float64),
    )


def test_opponent_preserves_white_noise():
    n = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    t = colorlib.rgb_to_opponent(n).flatten(2)[0]
    cov = t @ t.T / t.shape[1]
    torch.testing.assert_close(cov, torch.eye(3, dtype=torch.float64), rtol=0, atol=0.02)


@pytest.mark.parametrize("space", colorlib.COLOR_SPACES)
def test_forward_inverse_exact_unit_range_and_noise_gains(space):
    x = torch.rand(1, 3, 32, 32, dtype=torch.float64)
    torch.testing.assert_close(colorlib.inverse(colorlib.forward(x, space), space), x, rtol=0, atol=1e-12)
    corners = torch.tensor(
        [[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=torch.float64
    ).T.reshape(1, 3, 8, 1)
    t = colorlib.forward(corners, space)  # the RGB cube's corners map onto [0, 1] exactly
    torch.testing.assert_close(t.amin(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(t.amax(dim=(0, 2, 3)), torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-12)
    n = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    std = (colorlib.forward(n, space) - colorlib.forward(torch.zeros_like(n), space)).std(dim=(0, 2, 3))
    torch.testing.assert_close(std, colorlib.noise_gains(space), rtol=0.02, atol=0)


def test_noise_gains_values():
    torch.testing.assert_close(
        colorlib.noise_gains("opponent"),
        torch.tensor([1 / math.sqrt(3), 1 / math.sqrt(2), math.sqrt(6) / 4], dtype=torch.float64),
    )
    assert torch.equal(colorlib.noise_gains("rgb"), torch.ones(3, dtype=torch.float64))


def test_denoise_color_passes_per_channel_sigma():
    seen = []

    def gray(t, s):
        seen.append(s.clone())
        return t

    colorlib.denoise_color(gray, torch.rand(2, 3, 8, 8), torch.tensor([0.1, 0.2]), "opponent")
    g = colorlib.noise_gains("opponent").float()
    torch.testing.assert_close(seen[0], torch.cat([0.1 * g, 0.2 * g]))


def test_denoise_color_identity_model():
    x = torch.rand(2, 3, 16, 16)
    for space in colorlib.COLOR_SPACES:
        y = colorlib.denoise_color(lambda t, s: t, x, torch.tensor([0.1, 0.2]), space)
        torch.testing.assert_close(y, x, rtol=0, atol=1e-5)
