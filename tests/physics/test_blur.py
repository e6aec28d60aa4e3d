"""CircularBlur: the definition, the DFT SVD on odd/even sizes, the FFT formulas, and plug-and-play
deblurring on the operator reproducing the previous FFT code bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from _standins import MadEstimator
from innverse.data.degrade import blur, seeded_noise
from innverse.data.kernels import gaussian_kernel
from innverse.errors import UserError
from innverse.physics import CircularBlur
from innverse.physics.blur import data_step, psf2otf
from innverse.solvers.denoise import estimate_gray, model_device
from innverse.solvers.pnp import MIN_BETA, deblur_tensor, pnp_deblur, wiener_deconv
from innverse.solvers.tiled import tiled_apply


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_matches_the_circular_convolution_definition():
    rng = np.random.default_rng(0)
    x = rng.random((2, 11, 14))
    for shape in ((5, 5), (4, 6), (7, 3), (1, 1)):
        k = rng.standard_normal(shape)
        ours = CircularBlur(k).A(torch.from_numpy(x)).numpy()
        ca, cb = shape[0] // 2, shape[1] // 2
        direct = np.zeros_like(x)
        for a in range(shape[0]):
            for b in range(shape[1]):
                direct += k[a, b] * np.roll(x, (a - ca, b - cb), axis=(-2, -1))
        np.testing.assert_allclose(ours, direct, rtol=0, atol=1e-12)


@pytest.mark.parametrize("hw", [(7, 9), (8, 10), (7, 10), (8, 9), (1, 6), (5, 1), (2, 2)])
def test_dft_svd_on_odd_and_even_sizes(hw):
    h, w = hw
    k = torch.rand(min(3, h), min(2, w), generator=_gen(1), dtype=torch.float64) - 0.4
    op = CircularBlur(k)
    svd = op.svd((2, h, w))
    x = torch.randn(3, 2, h, w, generator=_gen(2), dtype=torch.float64)
    torch.testing.assert_close(svd.V(svd.V_adjoint(x)), x, rtol=0, atol=1e-12)
    torch.testing.assert_close(svd.U(svd.U_adjoint(x)), x, rtol=0, atol=1e-12)
    torch.testing.assert_close(svd.A(x), op.A(x), rtol=0, atol=1e-12)
    # orthonormal: ‖Vᵀx‖ = ‖x‖ and Vᵀ of the basis is an orthogonal matrix
    basis = torch.eye(h * w, dtype=torch.float64).reshape(-1, 1, h, w)
    vt = op.svd((1, h, w)).V_adjoint(basis)
    torch.testing.assert_close(vt @ vt.T, torch.eye(h * w, dtype=torch.float64), rtol=0, atol=1e-12)


def test_pinv_with_zeros_in_the_transfer_function():
    """A 2-wide box on an even width has an exact zero at the Nyquist frequency: pinv is the
    minimum-norm least-squares solution (the dense pseudo-inverse), not a right inverse."""
    op = CircularBlur(torch.ones(1, 2, dtype=torch.float64) / 2)
    h, w = 4, 6
    basis = torch.eye(h * w, dtype=torch.float64).reshape(-1, 1, h, w)
    a = op.A(basis).reshape(h * w, -1).T
    ours = op.A_pinv(basis).reshape(h * w, -1).T
    torch.testing.assert_close(ours, torch.linalg.pinv(a), rtol=0, atol=1e-12)
    via_svd = op.svd((1, h, w)).A_pinv(basis).reshape(h * w, -1).T
    torch.testing.assert_close(via_svd, ours, rtol=0, atol=1e-12)
    assert int((op.svd((1, h, w)).singular_values() < 1e-12).sum()) == h  # one zero per row frequency


def test_prox_is_the_data_step_with_alpha_one_over_gamma():
    k = gaussian_kernel(7, 1.2)
    op = CircularBlur(k)
    z = torch.rand(2, 1, 16, 20, generator=_gen(3), dtype=torch.float64)
    y = op.A(torch.rand(2, 1, 16, 20, generator=_gen(4), dtype=torch.float64))
    y_f = torch.fft.rfft2(y)
    torch.testing.assert_close(op.prox(z, y, 4.0), data_step(y_f, psf2otf(k, (16, 20)), z, 0.25))
    torch.testing.assert_close(op.data_step(y_f, z, 0.25), data_step(y_f, psf2otf(k, (16, 20)), z, 0.25))
    gam = torch.tensor([0.5, 8.0], dtype=torch.float64)
    both = op.prox(z, y, gam)
    torch.testing.assert_close(both[1:], op.prox(z[1:], y[1:], 8.0), rtol=0, atol=1e-14)


def test_regularized_inverse_is_wiener_and_degrade_blur_is_the_operator():
    k = gaussian_kernel(5, 1.0)
    y = torch.rand(1, 1, 12, 12, generator=_gen(5))
    op = CircularBlur(k)
    assert torch.equal(wiener_deconv(y, k, 0.01), op.regularized_inverse(y, 0.01))
    assert torch.equal(wiener_deconv(y, op, 0.01), wiener_deconv(y, k, 0.01))
    assert torch.equal(blur(y, k), op.A(y))
    with pytest.raises(UserError, match="> 0"):
        op.regularized_inverse(y, 0.0)


def test_otf_cache_and_psf2otf_of_a_delta():
    d = np.zeros((5, 5))
    d[2, 2] = 1
    op = CircularBlur(d)
    otf = op.otf((16, 16))
    assert op.otf((16, 16)) is otf
    torch.testing.assert_close(otf, torch.ones_like(otf))
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(op.A(x), x, rtol=0, atol=1e-15)


# ------------------------------------------------------------------------------- PnP on the operator


class _SmoothingDenoiser(torch.nn.Module):
    """A deterministic stand-in denoiser: Gaussian smoothing whose width grows with σ."""

    min_size = 8

    def forward(self, y: torch.Tensor, sigma) -> torch.Tensor:
        std = 0.6 + 8.0 * float(torch.as_tensor(sigma, dtype=torch.float32).mean())
        r = torch.arange(-4, 5, dtype=y.dtype)
        g = torch.exp(-0.5 * (r / std) ** 2)
        g = g / g.sum()
        yp = F.pad(y, (4, 4, 4, 4), mode="reflect")
        out = F.conv2d(yp, g.view(1, 1, 1, 9))
        return F.conv2d(out, g.view(1, 1, 9, 1))


def _legacy_psf2otf(kernel, shape):
    k = torch.as_tensor(np.asarray(kernel), dtype=torch.float64)
    kh, kw = k.shape
    pad = torch.zeros(*shape, dtype=torch.float64)
    pad[:kh, :kw] = k
    return torch.fft.rfft2(torch.roll(pad, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1)))


@torch.no_grad()
def _legacy_pnp(y, kernel, denoiser, estimator, beta0=None, lam=0.23, max_iter=30, tile=512, overlap=32):
    """Algorithm 1 exactly as the solver computed it before the operator existed (FFT code inline)."""
    n, _, h, w = y.shape
    dev = model_device(denoiser, y.device)
    y = y.to(dev, torch.float32)
    otf = _legacy_psf2otf(kernel, (h, w)).to(dev)
    if beta0 is None:
        b0 = estimate_gray(estimator, y).to(dev)
    else:
        b0 = torch.as_tensor(beta0, dtype=torch.float32, device=dev).reshape(-1).expand(n)
    b0 = b0.clamp_min(MIN_BETA)
    out = torch.empty_like(y)
    its = []
    for i in range(n):
        yi = y[i : i + 1]
        y_f = torch.fft.rfft2(yi.to(torch.float64))
        beta_0 = float(b0[i])
        beta = 10.0 * beta_0
        z, k = yi, 1
        while beta > beta_0 and k <= max_iter:
            alpha = lam * beta_0**2 / beta**2
            z_f = torch.fft.rfft2(z.to(torch.float64))
            num = torch.conj(otf) * y_f + alpha * z_f
            den = otf.real**2 + otf.imag**2 + alpha
            x = torch.fft.irfft2(num / den, s=(h, w)).to(torch.float32)
            beta = float(estimate_gray(estimator, x).reshape(-1)[0])
            s = torch.full((1,), 2.0 * beta, dtype=torch.float32, device=dev)
            z = tiled_apply(lambda t, s=s: denoiser(t, s), x, tile=tile, overlap=overlap)
            z = z.to(dev, torch.float32)
            k += 1
        out[i : i + 1] = z
        its.append(k - 1)
    return out, its


def _blocky(seed: int, h: int = 48, w: int = 40) -> torch.Tensor:
    base = 0.1 + 0.8 * torch.rand(1, 1, h // 8, w // 8, generator=_gen(seed))
    return F.interpolate(base, size=(h, w), mode="nearest")


@pytest.mark.parametrize("kernel_kind", ["gaussian", "random"])
def test_pnp_on_the_operator_equals_the_previous_fft_code(kernel_kind):
    rng = np.random.default_rng(7)
    k = gaussian_kernel(9, 1.5) if kernel_kind == "gaussian" else rng.random((6, 7))
    k = k / k.sum()
    x = torch.cat([_blocky(1), _blocky(2)])
    y = blur(x, k) + seeded_noise(x.shape, 2.55, 3)
    den, est = _SmoothingDenoiser(), MadEstimator()
    ref, ref_its = _legacy_pnp(y, k, den, est, max_iter=6)
    for kern in (k, CircularBlur(k)):
        z, info = pnp_deblur(y, kern, den, est, max_iter=6)
        assert torch.equal(z, ref) and info["iterations"] == ref_its
    ref2, _ = _legacy_pnp(y, k, den, est, beta0=0.02, max_iter=4, tile=32, overlap=8)
    z2, _ = pnp_deblur(y, CircularBlur(k), den, est, beta0=0.02, max_iter=4, tile=32, overlap=8)
    assert torch.equal(z2, ref2)
    assert ref_its[0] > 1  # the loop really iterated


def test_deblur_tensor_accepts_the_operator():
    k = gaussian_kernel(7, 1.2)
    x = torch.rand(1, 3, 32, 32, generator=_gen(9))
    y = blur(x, k) + seeded_noise(x.shape, 2.55, 0)
    a, _ = deblur_tensor(y, k, _SmoothingDenoiser(), MadEstimator(), sigma255=2.55, max_iter=2)
    b, _ = deblur_tensor(y, CircularBlur(k), _SmoothingDenoiser(), MadEstimator(), sigma255=2.55, max_iter=2)
    assert torch.equal(a, b)
