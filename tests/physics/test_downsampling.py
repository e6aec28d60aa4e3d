"""Downsampling: block averaging and its SVD, bicubic (against PIL in the interior), bicubic upsampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from innverse.errors import UserError
from innverse.physics import Downsampling, bicubic_upsample
from innverse.physics.bicubic import cubic, resize_taps
from innverse.physics.dct import block_dct, block_idct, dct_matrix


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("s", [2, 3, 4])
def test_average_is_the_block_mean_and_its_svd(s):
    x = torch.rand(2, 3, 6 * s, 4 * s, generator=_gen(s), dtype=torch.float64)
    op = Downsampling(s)
    y = op.A(x)
    ref = torch.empty(2, 3, 6, 4, dtype=torch.float64)
    for i in range(6):
        for j in range(4):
            ref[..., i, j] = x[..., i * s : (i + 1) * s, j * s : (j + 1) * s].mean(dim=(-2, -1))
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-15)
    svd = op.svd(x.shape[1:])
    assert svd.M == 3 * 6 * 4 and svd.D == 3 * 6 * 4 * s * s
    assert torch.equal(svd.singular_values(), torch.full((svd.M,), 1.0 / s, dtype=torch.float64))
    v = svd.V_adjoint(x)
    # the first M spectral entries are the block sums / s, in the order of y.flatten(1)
    torch.testing.assert_close(v[:, : svd.M], s * y.flatten(1), rtol=0, atol=1e-13)
    torch.testing.assert_close(svd.U(svd.singular_values() * v[:, : svd.M]), y, rtol=0, atol=1e-14)
    # pinv replicates: A⁺ = s² Aᵀ, a right inverse
    p = op.A_pinv(y)
    torch.testing.assert_close(p, s * s * op.A_adjoint(y), rtol=0, atol=1e-15)
    torch.testing.assert_close(op.A(p), y, rtol=0, atol=1e-15)
    torch.testing.assert_close(svd.A_pinv(y), p, rtol=0, atol=1e-13)


def test_dct_matrix_and_block_transforms():
    for n in (1, 2, 3, 8):
        d = dct_matrix(n)
        torch.testing.assert_close(d @ d.T, torch.eye(n, dtype=torch.float64), rtol=0, atol=1e-14)
        assert torch.allclose(d[0], torch.full((n,), n**-0.5, dtype=torch.float64))
    x = torch.rand(2, 1, 16, 24, generator=_gen(0), dtype=torch.float64)
    c = block_dct(x, 8)
    assert c.shape == (2, 1, 2, 3, 8, 8)
    torch.testing.assert_close(block_idct(c), x, rtol=0, atol=1e-13)
    dc = 8 * x.reshape(2, 1, 2, 8, 3, 8).mean(dim=(3, 5))
    torch.testing.assert_close(c[..., 0, 0], dc, rtol=0, atol=1e-13)


def test_cubic_kernel_and_taps():
    t = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, -0.5], dtype=torch.float64)
    ref = torch.tensor([1.0, 0.5625, 0.0, -0.0625, 0.0, 0.0, 0.5625], dtype=torch.float64)
    torch.testing.assert_close(cubic(t), ref, rtol=0, atol=1e-15)
    # non-zero taps: 4s for even s; 4s - 3 for odd s (t = ±1 falls on a zero of the kernel); 1 for s = 1
    for n_in, n_out, taps in ((64, 16, 16), (63, 21, 9), (64, 32, 8), (16, 64, 4), (10, 10, 1)):
        idx, w = resize_taps(n_in, n_out)
        assert idx.shape == (n_out, taps) == w.shape
        assert int(idx.min()) >= 0 and int(idx.max()) < n_in
        torch.testing.assert_close(w.sum(1), torch.ones(n_out, dtype=torch.float64), rtol=0, atol=1e-14)
    idx, w = resize_taps(10, 10)  # factor 1 is the identity
    out = (torch.arange(10, dtype=torch.float64)[idx] * w).sum(1)
    torch.testing.assert_close(out, torch.arange(10, dtype=torch.float64), rtol=0, atol=1e-14)
    with pytest.raises(UserError, match="integer factor"):
        resize_taps(10, 4)


def _pil(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(size, Image.BICUBIC))


@pytest.mark.parametrize("s", [2, 3, 4])
def test_bicubic_matches_pil_away_from_the_border(s):
    """PIL resamples with the same antialiased Keys kernel but renormalises at the borders (MATLAB and
    innverse mirror); pixels whose taps stay inside the image agree to float32 precision."""
    a = np.random.default_rng(s).random((12 * s, 10 * s)).astype(np.float32)
    h, w = a.shape
    ours = Downsampling(s, kind="bicubic").A(torch.from_numpy(a).double()[None, None])[0, 0].numpy()
    ref = _pil(a, (w // s, h // s))
    m = 2  # outputs within 2 samples of the border reach outside the image
    np.testing.assert_allclose(ours[m:-m, m:-m], ref[m:-m, m:-m], rtol=0, atol=2e-6)
    up = bicubic_upsample(torch.from_numpy(a).double()[None, None], s)[0, 0].numpy()
    ref_up = _pil(a, (w * s, h * s))
    mu = 2 * s
    np.testing.assert_allclose(up[mu:-mu, mu:-mu], ref_up[mu:-mu, mu:-mu], rtol=0, atol=2e-6)


def test_bicubic_keeps_constants_and_border_mirror():
    x = torch.full((1, 2, 16, 12), 0.3, dtype=torch.float64)
    for s in (2, 4):
        down = Downsampling(s, "bicubic").A(x)
        assert down.shape == (1, 2, 16 // s, 12 // s)
        torch.testing.assert_close(down, torch.full_like(down, 0.3), rtol=0, atol=1e-15)
        up = bicubic_upsample(x, s)
        assert up.shape == (1, 2, 16 * s, 12 * s)
        torch.testing.assert_close(up, torch.full_like(up, 0.3), rtol=0, atol=1e-15)
    # a ramp is reproduced exactly in the interior by upsampling (cubic convolution is exact on lines)
    ramp = torch.arange(12, dtype=torch.float64).reshape(1, 1, 1, 12).expand(1, 1, 4, 12)
    up = bicubic_upsample(ramp, 2)[0, 0, 0]
    centres = (torch.arange(24, dtype=torch.float64) + 0.5) / 2 - 0.5
    torch.testing.assert_close(up[4:-4], centres[4:-4], rtol=0, atol=1e-13)


def test_bicubic_pinv_and_prox_by_conjugate_gradients():
    op = Downsampling(4, kind="bicubic")
    assert not op.has_svd
    y = torch.rand(2, 1, 6, 5, generator=_gen(1), dtype=torch.float64)
    x = op.A_pinv(y)
    assert x.shape == (2, 1, 24, 20)
    torch.testing.assert_close(op.A(x), y, rtol=0, atol=1e-9)


def test_average_prox_closed_form():
    op = Downsampling(3)
    z = torch.rand(1, 1, 9, 12, generator=_gen(2), dtype=torch.float64)
    y = torch.rand(1, 1, 3, 4, generator=_gen(3), dtype=torch.float64)
    for gamma in (1e-3, 1.0, 1e4):
        p = op.prox(z, y, gamma)
        grad = op.A_adjoint(op.A(p) - y) + (p - z) / gamma
        assert float(grad.abs().max()) < 1e-9
    # γ → ∞ projects z onto {A x = y}
    torch.testing.assert_close(op.A(op.prox(z, y, 1e12)), y, rtol=0, atol=1e-9)


def test_bicubic_upsample_errors():
    with pytest.raises(UserError, match="factor"):
        bicubic_upsample(torch.zeros(1, 1, 4, 4), 0)
    with pytest.raises(UserError, match="factor"):
        bicubic_upsample(torch.zeros(1, 1, 4, 4), 2.0)
    with pytest.raises(UserError, match="B, C, H, W"):
        bicubic_upsample(torch.zeros(4, 4), 2)
    assert bicubic_upsample(torch.zeros(1, 3, 4, 5), 3).shape == (1, 3, 12, 15)
