"""Degradations and blur kernels: seeded noise, circular FFT blur, kernel files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import require_data
from innverse import metrics
from innverse.data.degrade import add_seeded_noise, blur, psf2otf, psnr, seeded_noise
from innverse.data.kernels import load_kernel
from innverse.errors import UserError


def test_seeded_noise_convention():
    n = seeded_noise((1, 1, 4, 5), 25, 7)
    ref = 25 / 255 * torch.randn(1, 1, 4, 5, generator=torch.Generator().manual_seed(7))
    assert n.dtype == torch.float32 and torch.equal(n, ref)
    x = torch.rand(1, 1, 4, 5, dtype=torch.float64)
    assert torch.equal(seeded_noise(x, 25, 7), ref)
    assert torch.equal(add_seeded_noise(x, 25, 7), x + ref.double())


def test_psnr_is_the_metric_over_the_whole_array():
    rng = np.random.default_rng(0)
    ref = rng.random((2, 9, 7, 3), dtype=np.float32)  # two pages of a colour image
    x = np.clip(ref + rng.normal(0, 0.1, ref.shape).astype(np.float32), 0, 1)
    mse = float(np.mean((x.astype(np.float64) - ref) ** 2))
    assert psnr(x, ref) == pytest.approx(10 * math.log10(1 / mse), abs=1e-10)
    assert psnr(x, ref) == float(metrics.psnr(x.reshape(1, -1), ref.reshape(1, -1))[0])
    assert psnr(torch.from_numpy(x), ref) == psnr(x, ref) and psnr(ref, ref) == math.inf


def test_fft_blur_matches_circular_convolution():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    x = rng.random((20, 23))
    for shape in ((5, 5), (4, 6), (7, 3)):
        k = rng.random(shape)
        k /= k.sum()
        ours = blur(torch.from_numpy(x)[None, None], k)[0, 0].numpy()
        if all(n % 2 == 1 for n in shape):  # odd kernels: scipy's centre is the same
            np.testing.assert_allclose(ours, scipy_ndimage.convolve(x, k, mode="wrap"), atol=1e-12)
        # direct check of the definition: y[i,j] = sum k[a,b] x[i-a+ca, j-b+cb] (circular)
        ca, cb = shape[0] // 2, shape[1] // 2
        direct = np.zeros_like(x)
        for a in range(shape[0]):
            for b in range(shape[1]):
                direct += k[a, b] * np.roll(x, (a - ca, b - cb), axis=(0, 1))
        np.testing.assert_allclose(ours, direct, atol=1e-12)


def test_psf2otf_delta_is_one():
    k = np.zeros((5, 5))
    k[2, 2] = 1
    otf = psf2otf(k, (16, 16))
    torch.testing.assert_close(otf, torch.ones_like(otf))


def test_kernel_loading(tmp_path):
    k = np.arange(1, 10, dtype=float).reshape(3, 3)
    np.save(tmp_path / "k.npy", k)
    np.testing.assert_allclose(load_kernel(tmp_path / "k.npy"), k / k.sum())
    from innverse.data.io import write_image

    write_image(tmp_path / "k.png", k / 9.0)
    kk = load_kernel(str(tmp_path / "k.png"))
    assert math.isclose(kk.sum(), 1.0) and kk.shape == (3, 3)
    np.save(tmp_path / "zero.npy", np.zeros((3, 3)))
    with pytest.raises(UserError, match="sums to 0"):
        load_kernel(tmp_path / "zero.npy")
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    with pytest.raises(UserError, match="not a readable"):
        load_kernel(tmp_path / "bad.npy")
    with pytest.raises(UserError, match="no such kernel"):
        load_kernel(tmp_path / "missing.npy")
    with pytest.raises(UserError, match="1..8"):
        load_kernel("levin:9")


@pytest.mark.data
def test_levin_kernels():
    require_data("kernels", "Levin09.mat")
    sizes = [load_kernel(f"levin:{i}").shape for i in range(1, 9)]
    assert sizes == [(19, 19), (17, 17), (15, 15), (27, 27), (13, 13), (21, 21), (23, 23), (23, 23)]
    for i in range(1, 9):
        k = load_kernel(f"levin:{i}")
        assert math.isclose(k.sum(), 1.0, abs_tol=1e-12) and k.min() >= 0
