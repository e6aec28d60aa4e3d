"""Solvers with stand-in models: tiling, colour transforms, the denoise API, kernels, degradations, PnP."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import innverse.api as api
from _standins import MadEstimator
from conftest import require_data
from innverse.data import color as colorlib
from innverse.data.degrade import add_noise, blur, psf2otf, psnr, seeded_noise
from innverse.data.kernels import gaussian_kernel, load_kernel
from innverse.errors import UserError
from innverse.solvers.denoise import check_sigma, denoise_tensor, resolve_device
from innverse.solvers.pnp import data_step, pnp_deblur, wiener_deconv
from innverse.solvers.tiled import tile_starts, tiled_apply


class BlurDenoiser(nn.Module):
    """Stand-in denoiser: a Gaussian blur whose width grows with σ (reflect padding)."""

    kind = "winnet"
    blind = True
    min_size = 8

    def forward(self, y: torch.Tensor, sigma) -> torch.Tensor:
        s = float(torch.as_tensor(sigma, dtype=torch.float32).mean())
        std = 0.6 + 8.0 * s
        r = torch.arange(-4, 5, dtype=y.dtype)
        g = torch.exp(-0.5 * (r / std) ** 2)
        g = g / g.sum()
        c = y.shape[1]
        yp = F.pad(y, (4, 4, 4, 4), mode="reflect")
        out = F.conv2d(yp, g.view(1, 1, 1, 9).expand(c, 1, 1, 9).contiguous(), groups=c)
        return F.conv2d(out, g.view(1, 1, 9, 1).expand(c, 1, 9, 1).contiguous(), groups=c)




def smooth_image(h: int = 96, w: int = 80, c: int = 1, seed: int = 0) -> torch.Tensor:
    """A smooth synthetic test image in [0.1, 0.9], (1,C,H,W)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, c, h // 8 + 2, w // 8 + 2, generator=g)
    x = F.interpolate(base, size=(h, w), mode="bicubic", align_corners=False)
    return (0.1 + 0.8 * (x - x.min()) / (x.max() - x.min())).float()


# ---------------------------------------------------------------------------------------------- tiling


def test_tile_starts_cover():
    for size in (1, 64, 65, 100, 257, 1000):
        starts = tile_starts(size, 64, 16)
        assert starts[0] == 0 and (size <= 64 or starts[-1] == size - 64)
        covered = np.zeros(size, bool)
        for s in starts:
            covered[s : s + 64] = True
        assert covered.all()


def test_tiled_identity_is_exact():
    x = torch.rand(2, 3, 150, 301)
    y = tiled_apply(lambda t: t * 1.0, x, tile=64, overlap=16)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)


def test_tiled_matches_untiled_blur():
    clean = smooth_image(200, 170)
    noisy = add_noise(clean, 25, seed=0)
    den = BlurDenoiser()
    whole = den(noisy, 25 / 255)
    tiled = tiled_apply(lambda t: den(t, 25 / 255), noisy, tile=64, overlap=24)
    assert abs(psnr(whole, clean) - psnr(tiled, clean)) <= 0.01
    assert (whole - tiled).abs().max() < 0.02


def test_small_image_runs_whole():
    calls = []
    x = torch.rand(1, 1, 40, 50)
    tiled_apply(lambda t: calls.append(t.shape) or t, x, tile=64, overlap=16)
    assert calls == [torch.Size([1, 1, 40, 50])]


def test_tiles_are_bounded_on_large_image():
    """A 12-megapixel gray image: fn only ever sees one tile; buffers are image-sized."""
    x = torch.zeros(1, 1, 3000, 4000)
    x[..., ::7, :] = 1.0
    biggest = []

    def fn(t: torch.Tensor) -> torch.Tensor:
        biggest.append(t.numel())
        return t

    y = tiled_apply(fn, x, tile=512, overlap=32)
    assert max(biggest) <= 512 * 512
    assert torch.equal(y, x) or (y - x).abs().max() < 1e-6


def test_tiled_bad_overlap():
    with pytest.raises(ValueError):
        tiled_apply(lambda t: t, torch.rand(1, 1, 100, 100), tile=32, overlap=32)


# ---------------------------------------------------------------------------------------------- colour


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


def test_nonblind_model_falls_back_to_rgb():
    class NonBlind(BlurDenoiser):
        blind = False

    x = torch.rand(1, 3, 16, 16)
    with pytest.warns(UserWarning, match="blind"):
        a = denoise_tensor(x, 0.1, NonBlind(), tile=None, color="opponent")
    b = denoise_tensor(x, 0.1, NonBlind(), tile=None, color="rgb")
    torch.testing.assert_close(a, b)


def test_denoise_color_identity_model():
    x = torch.rand(2, 3, 16, 16)
    for space in colorlib.COLOR_SPACES:
        y = colorlib.denoise_color(lambda t, s: t, x, torch.tensor([0.1, 0.2]), space)
        torch.testing.assert_close(y, x, rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------------------ denoise API


def test_check_sigma():
    assert check_sigma(None) is None and check_sigma(25) == 25.0
    for bad in (-1, float("nan"), 256, "abc", True):
        with pytest.raises(UserError):
            check_sigma(bad)
    assert issubclass(UserError, ValueError)


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(UserError):
        resolve_device("tpu")


@pytest.mark.parametrize(
    "make",
    [
        lambda a: (a[0, 0] * 255).round().numpy().astype(np.uint8),  # H×W uint8
        lambda a: (a[0].permute(1, 2, 0) * 65535).round().numpy().astype(np.uint16),  # H×W×3 uint16
        lambda a: a[0].permute(1, 2, 0).numpy().astype(np.float64),  # H×W×3 float64
        lambda a: a.clone(),  # B×C×H×W float32 tensor
        lambda a: a[0].clone(),  # C×H×W tensor
        lambda a: (a[0, 0] * 255).round().to(torch.uint8),  # H×W uint8 tensor
    ],
)
def test_denoise_keeps_kind_dtype_shape(make):
    img = make(smooth_image(40, 48, c=3))
    out = api.denoise(img, sigma=25, model=BlurDenoiser())
    assert type(out) is type(img) and out.dtype == img.dtype and out.shape == img.shape


def test_denoise_alpha_passthrough():
    rgba = np.random.default_rng(0).integers(0, 256, (24, 24, 4), dtype=np.uint8)
    out = api.denoise(rgba, sigma=10, model=BlurDenoiser())
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])


def test_denoise_improves_and_blind_reports_sigma():
    clean = smooth_image(96, 96)
    noisy = add_noise(clean, 25, seed=3)
    out, info = api.denoise(noisy, model=BlurDenoiser(), estimator=MadEstimator(), return_info=True)
    assert info["estimated"] and abs(info["sigma"][0] - 25) < 3
    assert psnr(out, clean) > psnr(noisy, clean) + 3
    s = api.estimate_noise(noisy[0], estimator=MadEstimator())
    assert isinstance(s, float) and abs(s - 25) < 3
    batch = api.estimate_noise(torch.cat([noisy, noisy]), estimator=MadEstimator())
    assert batch.shape == (2,)


def test_denoise_tiled_equals_untiled_api():
    noisy = add_noise(smooth_image(150, 130, c=3), 15, seed=0)
    a = api.denoise(noisy, sigma=15, model=BlurDenoiser(), tile=None)
    b = api.denoise(noisy, sigma=15, model=BlurDenoiser(), tile=64, overlap=24)
    assert abs(psnr(a, noisy) - psnr(b, noisy)) < 0.01


@pytest.mark.parametrize(
    "bad,match",
    [
        (dict(sigma=-1), ">= 0"),
        (dict(sigma=float("nan")), "NaN"),
        (dict(sigma=300), "<= 255"),
        (dict(color="lab"), "colour"),
    ],
)
def test_denoise_bad_arguments(bad, match):
    with pytest.raises(UserError, match=match):
        api.denoise(np.zeros((16, 16), np.float32), model=BlurDenoiser(), **{"sigma": 5, **bad})


def test_denoise_bad_inputs():
    den = BlurDenoiser()
    with pytest.raises(UserError, match="needs at least 8"):
        api.denoise(np.zeros((4, 20), np.uint8), sigma=5, model=den)
    with pytest.raises(UserError, match="dtype"):
        api.denoise(np.zeros((16, 16), np.int32), sigma=5, model=den)
    with pytest.raises(UserError, match="channels"):
        api.denoise(np.zeros((16, 16, 5), np.float32), sigma=5, model=den)
    with pytest.raises(UserError, match="NaN"):
        api.denoise(np.full((16, 16), np.nan, np.float32), sigma=5, model=den)
    with pytest.raises(UserError, match="numpy array or a torch tensor"):
        api.denoise([[0.0] * 16] * 16, sigma=5, model=den)


def test_denoise_tensor_per_image_sigma():
    x = torch.rand(2, 1, 20, 20)
    seen = []

    def model(y, s):
        seen.append(s.clone())
        return y

    denoise_tensor(x, torch.tensor([0.1, 0.2]), model, tile=None)
    torch.testing.assert_close(seen[0], torch.tensor([0.1, 0.2]))


def test_self_ensemble_averages_the_eight_dihedral_results():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 12, 17, generator=g)  # non-square: rotations change the shape

    def model(y, s):  # not equivariant: a position-dependent nonlinearity of the input's row/col
        return y.square() + 0.1 * torch.arange(y.shape[-1], dtype=y.dtype)

    out = denoise_tensor(x, 0.1, model, tile=None, ensemble=True)
    manual = []
    for k in range(4):
        for flip in (False, True):
            t = torch.rot90(x, k, (-2, -1))
            t = t.flip(-1) if flip else t
            r = model(t, 0.1)
            r = r.flip(-1) if flip else r
            manual.append(torch.rot90(r, -k, (-2, -1)))
    torch.testing.assert_close(out, torch.stack(manual).mean(0))
    assert not torch.allclose(out, denoise_tensor(x, 0.1, model, tile=None))
    # an equivariant model gives the plain result back
    torch.testing.assert_close(denoise_tensor(x, 0.1, lambda y, s: y * 2, tile=None, ensemble=True), 2 * x)


# ------------------------------------------------------------------------------------- degradations


def test_seeded_noise_convention():
    n = seeded_noise((1, 1, 4, 5), 25, seed=7)
    ref = 25 / 255 * torch.randn(1, 1, 4, 5, generator=torch.Generator().manual_seed(7))
    assert n.dtype == torch.float32 and torch.equal(n, ref)


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


# ---------------------------------------------------------------------------------------------- kernels


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


# ------------------------------------------------------------------------------------------------- PnP


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


# ------------------------------------------------------------------------------------- real models


def _official(*parts: str):
    models = pytest.importorskip("innverse.models")
    if not hasattr(models, "load_model"):
        pytest.skip("innverse.models.load_model not available")
    return require_data("weights", "winnet-official", *parts)


@pytest.mark.data
def test_real_winnet_and_nenet_small_crop():
    torch.set_num_threads(1)  # on the shared 2-core machine, 2 OpenMP threads made WINNet ~30x slower
    winnet = _official("WINNet_lvl_1_nlvl_25", "net_WINNet.pth")
    nenet = _official("NENet", "net_NENet.pth")
    from innverse.data.io import read_image

    img, _ = read_image(require_data("Set12", "05.png"))
    clean = torch.from_numpy(img[96:160, 96:160].copy())[None, None]
    noisy = add_noise(clean, 25, seed=0)
    out = api.denoise(noisy, sigma=25, model=str(winnet), tile=None)
    assert psnr(out, clean) > psnr(noisy, clean) + 4
    sigma = api.estimate_noise(noisy[0, 0].numpy(), estimator=str(nenet))
    assert abs(sigma - 25) < 3
