"""The camera-shake trajectory model and its sub-pixel rasterisation."""

from __future__ import annotations

import numpy as np
import pytest

from innverse.data.shake import rasterize_trajectory, shake_kernel, shake_trajectory


def test_trajectory_has_the_requested_length_and_is_seeded():
    x = shake_trajectory(np.random.default_rng(0), length=30.0, anxiety=0.005, samples=500)
    assert x.shape == (500,) and x[0] == 0
    assert abs(np.abs(np.diff(x)).sum() - 30.0) < 1e-9
    steps = np.abs(np.diff(x))
    assert np.allclose(steps, 30.0 / 499)  # constant speed
    again = shake_trajectory(np.random.default_rng(0), length=30.0, anxiety=0.005, samples=500)
    np.testing.assert_array_equal(x, again)


def test_zero_anxiety_is_a_straight_line():
    x = shake_trajectory(np.random.default_rng(3), length=12.0, anxiety=0.0, samples=200)
    d = np.diff(x)
    assert np.allclose(d, d[0]) and abs(abs(x[-1]) - 12.0) < 1e-9


def test_rasterisation_conserves_mass_and_centroid():
    """Bilinear splatting keeps the total weight and the weighted mean position exactly."""
    x = shake_trajectory(np.random.default_rng(1), length=20.0, anxiety=0.01, samples=1000)
    for exposure in (1.0, 0.5, 0.1234):
        psf, row0, col0 = rasterize_trajectory(x, exposure)
        w = np.clip(exposure * x.size - np.arange(x.size), 0, 1)
        assert abs(psf.sum() - w.sum()) < 1e-9
        rows, cols = np.arange(psf.shape[0]) + row0, np.arange(psf.shape[1]) + col0
        cy = (psf.sum(1) * rows).sum() / psf.sum()
        cx = (psf.sum(0) * cols).sum() / psf.sum()
        assert abs(cy - (w * x.imag).sum() / w.sum()) < 1e-9
        assert abs(cx - (w * x.real).sum() / w.sum()) < 1e-9


def test_shorter_exposures_cover_a_prefix_of_the_trajectory():
    x = shake_trajectory(np.random.default_rng(2), length=25.0, anxiety=0.003)
    full, r0, c0 = rasterize_trajectory(x, 1.0)
    half, r1, c1 = rasterize_trajectory(x, 0.5)
    dr, dc = int(r1 - r0), int(c1 - c0)
    assert dr >= 0 and dc >= 0
    inside = full[dr : dr + half.shape[0], dc : dc + half.shape[1]]
    assert np.all(inside + 1e-12 >= half)  # the half exposure is part of the full one


def test_shake_kernel_is_normalised_and_centred():
    k = shake_kernel(5, length=30.0, anxiety=0.002)
    assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert abs(k.sum() - 1) < 1e-12 and k.min() >= 0
    r = np.arange(k.shape[0])
    assert abs((k.sum(1) * r).sum() - k.shape[0] // 2) <= 0.5
    assert abs((k.sum(0) * r).sum() - k.shape[1] // 2) <= 0.5


@pytest.mark.parametrize("kwargs", [dict(length=0.0), dict(anxiety=2.0), dict(samples=1)])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        shake_trajectory(np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match="exposure"):
        rasterize_trajectory(np.zeros(3, complex), 0.0)
