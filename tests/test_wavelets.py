"""Tests of innverse.wavelets (lifting DWT, noise estimation, thresholding), innverse.metrics and
the ``innverse wavelet`` command."""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
import pytest
import torch

from conftest import require_data
from innverse.metrics import gaussian_window, psnr, ssim
from innverse.wavelets import (
    band_noise_gains,
    default_level,
    denoise,
    denoise_data_scale,
    dwt,
    dwt2,
    estimate_sigma,
    estimate_sigma_data_scale,
    idwt,
    idwt2,
    mirror_pad,
    soft_threshold,
    sure_risk,
    wavedec2,
    waverec2,
)

PAIRS = [("haar", "haar"), ("cdf53", "bior2.2"), ("cdf97", "bior4.4")]


NAMES = [p[0] for p in PAIRS]


def _rand(*shape: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


# ------------------------------------------------------------------------------------ 1-D / pywt


@pytest.mark.parametrize("name,pname", PAIRS)
def test_dwt_1d_matches_pywt(name, pname):
    pywt = pytest.importorskip("pywt")
    x = _rand(3, 64, seed=1)
    a, d = dwt(x, name)
    ra, rd = pywt.dwt(x.numpy(), pname, mode="periodization")
    np.testing.assert_allclose(a.numpy(), ra, rtol=0, atol=1e-10)
    np.testing.assert_allclose(d.numpy(), rd, rtol=0, atol=1e-10)
    # also along another dimension
    a0, d0 = dwt(x.T.contiguous(), name, dim=0)
    np.testing.assert_allclose(a0.T.numpy(), ra, rtol=0, atol=1e-10)
    np.testing.assert_allclose(d0.T.numpy(), rd, rtol=0, atol=1e-10)
    np.testing.assert_allclose(idwt(a, d, name).numpy(), x.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name,pname", PAIRS)
def test_dwt_1d_impulse_alignment(name, pname):
    """Impulse responses: same phase, sign and normalisation as pywt at every position."""
    pywt = pytest.importorskip("pywt")
    n = 16
    eye = torch.eye(n, dtype=torch.float64)
    a, d = dwt(eye, name)
    ra, rd = pywt.dwt(eye.numpy(), pname, mode="periodization", axis=-1)
    np.testing.assert_allclose(a.numpy(), ra, atol=1e-12)
    np.testing.assert_allclose(d.numpy(), rd, atol=1e-12)


# ------------------------------------------------------------------------------------ 2-D / pywt


@pytest.mark.parametrize("name,pname", PAIRS)
@pytest.mark.parametrize("shape,level", [((32, 48), 1), ((64, 32), 3), ((2, 3, 64, 96), 4), ((16, 16), 4)])
def test_wavedec2_matches_pywt(name, pname, shape, level):
    pywt = pytest.importorskip("pywt")
    x = _rand(*shape, seed=2)
    ours = wavedec2(x, name, level)
    with warnings.catch_warnings():  # pywt warns about boundary effects at high levels
        warnings.simplefilter("ignore", UserWarning)
        ref = pywt.wavedec2(x.numpy(), pname, mode="periodization", level=level, axes=(-2, -1))
    assert len(ours) == len(ref) == level + 1
    np.testing.assert_allclose(ours[0].numpy(), ref[0], rtol=0, atol=1e-10)
    for j in range(1, level + 1):
        assert isinstance(ours[j], tuple) and len(ours[j]) == 3
        for k in range(3):
            assert ours[j][k].shape == ref[j][k].shape
            np.testing.assert_allclose(ours[j][k].numpy(), ref[j][k], rtol=0, atol=1e-10)
    back = waverec2(ours, name)
    assert back.shape == x.shape
    assert (back - x).abs().max().item() <= 1e-12


def test_aliases_give_identical_results():
    x = _rand(1, 1, 32, 32, seed=3)
    for a, b in (("cdf53", "bior2.2"), ("cdf97", "bior4.4"), ("haar", "db1"), ("CDF97", "cdf97")):
        ca, cb = wavedec2(x, a, 2), wavedec2(x, b, 2)
        assert torch.equal(ca[0], cb[0])
        assert all(torch.equal(p, q) for j in range(1, 3) for p, q in zip(ca[j], cb[j], strict=True))


# ---------------------------------------------------------------------------------- reconstruction


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "shape,level", [((8, 8), 3), ((24, 40), 3), ((2, 3, 64, 32), 5), ((1, 1, 96, 128), 4)]
)
def test_perfect_reconstruction_float64(name, shape, level):
    x = _rand(*shape, seed=4) * 10 + 3
    c = wavedec2(x, name, level)
    assert c[0].shape[-2:] == (shape[-2] // 2**level, shape[-1] // 2**level)
    err = (waverec2(c, name) - x).abs().max().item()
    assert err <= 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_float32_and_level0(name):
    x = _rand(2, 1, 32, 64, seed=5, dtype=torch.float32)
    c = wavedec2(x, name, 3)
    assert all(t.dtype == torch.float32 for t in [c[0], *c[1], *c[-1]])
    assert (waverec2(c, name) - x).abs().max().item() < 1e-5
    c0 = wavedec2(x, name, 0)
    assert len(c0) == 1 and torch.equal(waverec2(c0, name), x)


def test_2d_input_and_single_level_helpers():
    x = _rand(16, 24, seed=6)
    c = wavedec2(x, "cdf97", 2)
    assert c[0].shape == (4, 6) and c[1][0].shape == (4, 6) and c[2][2].shape == (8, 12)
    a, (h, v, d) = dwt2(x, "cdf97")
    assert torch.equal(a, wavedec2(x, "cdf97", 1)[0])
    assert (idwt2(a, (h, v, d), "cdf97") - x).abs().max() < 1e-12


def test_orthonormal_haar_preserves_energy():
    x = _rand(2, 1, 32, 32, seed=7)
    c = wavedec2(x, "haar", 5)
    energy = c[0].square().sum() + sum(b.square().sum() for lv in c[1:] for b in lv)
    assert abs(energy.item() - x.square().sum().item()) < 1e-9


def test_differentiable_gradcheck():
    x = _rand(1, 1, 8, 8, seed=8).requires_grad_(True)
    w = _rand(1, 1, 8, 8, seed=9)

    def f(t):
        c = wavedec2(t, "cdf97", 2)
        c = [c[0] * 2, *[tuple(torch.tanh(b) for b in lv) for lv in c[1:]]]
        return (waverec2(c, "cdf97") * w).sum()

    assert torch.autograd.gradcheck(f, (x,))


def test_default_level():
    assert default_level((256, 256)) == 5
    assert default_level((1, 1, 512, 512)) == 6
    assert default_level((480, 320)) == 5
    assert default_level((100, 60)) == 2
    assert default_level((10, 10)) == 1
    assert default_level((7, 8)) == 0
    x = _rand(1, 1, 64, 128, seed=10)
    assert len(wavedec2(x, "haar")) == default_level(x.shape) + 1 == 4


def test_errors():
    x = _rand(1, 1, 24, 40)
    with pytest.raises(ValueError, match=r"\(1, 1, 24, 40\).*not divisible"):
        wavedec2(x, "haar", 4)
    with pytest.raises(ValueError, match="too many levels"):
        wavedec2(x, "haar", 6)
    with pytest.raises(ValueError, match="unknown wavelet 'db7'"):
        wavedec2(x, "db7", 1)
    with pytest.raises(ValueError, match=">= 0"):
        wavedec2(x, "haar", -1)
    with pytest.raises(ValueError, match=r"\(1, 1, 23, 40\)"):
        wavedec2(_rand(1, 1, 23, 40), "cdf97")
    with pytest.raises(ValueError, match="odd"):
        dwt(_rand(5), "haar")
    with pytest.raises(TypeError):
        wavedec2([[0.0] * 8] * 8, "haar", 1)  # numpy arrays and tensors only
    with pytest.raises(ValueError, match="two distinct axes"):
        wavedec2(np.zeros((8, 8)), "haar", 1, axes=(0, 0))
    with pytest.raises(ValueError, match="needs axes"):
        wavedec2(np.zeros((2, 2, 8, 8, 1)), "haar", 1)
    c = wavedec2(x, "cdf53", 2)
    with pytest.raises(ValueError, match="do not match"):
        waverec2([c[0], c[2], c[1]], "cdf53")
    with pytest.raises(ValueError, match="tuple"):
        waverec2([c[0], c[1][:2]], "cdf53")


# ------------------------------------------------------------------------------------ noise gains


@pytest.mark.parametrize("name", NAMES)
def test_band_noise_gains_match_analysis_rows(name):
    """Gain of a band = norm of the analysis row of one of its coefficients (via autograd)."""
    level = 3
    gains = band_noise_gains(name, level)
    x = torch.zeros(1, 1, 64, 64, dtype=torch.float64, requires_grad=True)
    c = wavedec2(x, name, level)
    for j in range(1, level + 1):
        for k in range(3):
            (g,) = torch.autograd.grad(c[j][k][0, 0, 2, 3], x, retain_graph=True)
            assert abs(g.norm().item() - gains[j - 1][k]) < 1e-12
    if name == "haar":
        assert np.allclose(gains, 1.0)


# ---------------------------------------------------------------------------------- estimate_sigma


def test_estimate_sigma_data_scale_on_noise_and_shapes():
    noise = 0.1 * _rand(2, 1, 256, 256, seed=11)  # data scale: any values, channels first
    s = estimate_sigma_data_scale(noise)
    assert isinstance(s, torch.Tensor) and s.shape == (2,)
    assert torch.allclose(s, torch.full((2,), 0.1, dtype=torch.float64), rtol=0.03)
    s2 = estimate_sigma_data_scale(noise[0, 0].numpy())
    assert isinstance(s2, float) and abs(s2 - 0.1) < 0.003
    assert isinstance(estimate_sigma_data_scale(noise[0, 0, :101, :99]), float)
    sn = estimate_sigma_data_scale(noise.numpy())
    assert isinstance(sn, np.ndarray) and sn.shape == (2,)
    assert estimate_sigma_data_scale(torch.ones(32, 32)) == 0.0


def test_estimate_sigma_is_on_0_255():
    y = 0.5 + 0.1 * _rand(2, 1, 256, 256, seed=11)
    s = estimate_sigma(y)  # a torch batch: a (B,) numpy array, 0-255 scale
    assert isinstance(s, np.ndarray) and s.shape == (2,)
    np.testing.assert_allclose(s, estimate_sigma_data_scale(y).numpy() * 255, rtol=1e-12)
    assert abs(estimate_sigma(y[0, 0, :101, :99].numpy()) - 25.5) < 1
    assert estimate_sigma(torch.full((32, 32), 0.5)) == 0.0


# ---------------------------------------------------------------------------------------- denoise


def _smooth_image(h: int = 64, w: int = 80) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    img = 0.3 + 0.3 * torch.sin(3 * xx) * torch.cos(2 * yy) + 0.3 * (xx + yy > 1).float()
    return img[None, None].to(torch.float32)


@pytest.mark.parametrize("method", ["bayes", "visu"])
def test_denoise_improves_synthetic_image(method):
    x = _smooth_image()
    y = x + 0.1 * _rand(*x.shape, seed=12, dtype=torch.float32)
    z = denoise(y, sigma=25.5, method=method)  # 0-255 scale
    assert z.shape == y.shape and z.dtype == torch.float32
    assert psnr(z.clamp(0, 1), x).item() > psnr(y, x).item() + 5
    torch.testing.assert_close(z, denoise_data_scale(y, sigma=0.1, method=method), atol=0, rtol=0)


def test_denoise_data_scale_types_shapes_and_sizes():
    x = _smooth_image(37, 53)
    y = x + 0.05 * _rand(*x.shape, seed=13, dtype=torch.float32)
    z = denoise_data_scale(y, 0.05)
    assert z.shape == (1, 1, 37, 53)
    zn = denoise_data_scale(y[0, 0].numpy(), 0.05)
    assert isinstance(zn, np.ndarray) and zn.shape == (37, 53) and zn.dtype == np.float32
    np.testing.assert_allclose(zn, z[0, 0].numpy(), atol=1e-5)
    z64 = denoise_data_scale(y[0, 0].double().numpy(), None, method="visu", level=2)
    assert z64.dtype == np.float64 and z64.shape == (37, 53)
    # batches and any number of channels (channels first): each image/channel denoised independently
    y2 = torch.flip(y, dims=(-1,)) + 0.05
    yb = torch.cat([y, y2], dim=1).repeat(2, 1, 1, 1)
    zb = denoise_data_scale(yb, sigma=torch.tensor([0.05, 0.05]))
    assert zb.shape == (2, 2, 37, 53)
    torch.testing.assert_close(zb[0, 0], z[0, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(zb[1, 1], denoise_data_scale(y2, 0.05)[0, 0], atol=1e-5, rtol=0)
    # tiny images work (fewer levels), through the user-facing function too
    assert denoise_data_scale(torch.rand(1, 1, 5, 6), 0.1).shape == (1, 1, 5, 6)
    assert denoise(torch.rand(5, 6), 25).shape == (5, 6)


def test_denoise_sigma_zero_is_identity_and_errors():
    y = _rand(1, 1, 40, 40, seed=14)
    out = denoise_data_scale(y, sigma=0.0)
    assert (out - y).abs().max() < 1e-12
    u = 0.5 + 0.1 * y  # on [0, 1] for the user-facing function, whose errors are UserErrors (ValueErrors)
    assert (denoise(u, 0) - u).abs().max() < 1e-12
    for fn, s in ((denoise_data_scale, 0.1), (denoise, 25)):
        x = y if fn is denoise_data_scale else u
        with pytest.raises(ValueError, match="method"):
            fn(x, s, method="sure")
        with pytest.raises(ValueError, match="mode"):
            fn(x, s, mode="garrote")
        with pytest.raises(ValueError, match="unknown wavelet"):
            fn(x, s, wavelet="sym8")
        with pytest.raises(ValueError, match="sigma"):
            fn(x, -s)
        with pytest.raises(ValueError, match="one value per image"):
            fn(x, [s, s])
        with pytest.raises(ValueError, match="too many levels"):
            fn(x, s, level=7)  # 40 + 2 * 16 = 72 pixels allow 6 levels


def test_thresholds_and_sure():
    b = torch.tensor([-3.0, -0.5, 0.2, 2.0])
    assert torch.equal(soft_threshold(b, 1.0), torch.tensor([-2.0, 0.0, 0.0, 1.0]))
    # SURE is unbiased: its average over noise draws matches the true risk of soft thresholding
    theta = torch.zeros(1, 1, 64, 64, dtype=torch.float64)
    theta[..., :8, :] = 3.0
    g = torch.Generator().manual_seed(15)
    risks, sures = [], []
    for _ in range(40):
        band = theta + torch.randn(theta.shape, generator=g, dtype=torch.float64)
        t = torch.tensor(1.5, dtype=torch.float64)
        risks.append((soft_threshold(band, t) - theta).square().sum().item())
        sures.append(sure_risk(band, t, torch.tensor(1.0, dtype=torch.float64)).item())
    assert abs(np.mean(sures) - np.mean(risks)) < 0.03 * np.mean(risks)


def test_mirror_pad_matches_numpy():
    x = _rand(1, 1, 3, 4, seed=16)
    for mode in ("reflect", "symmetric"):
        got = mirror_pad(x, (5, 2, 7, 1), mode)[0, 0].numpy()
        ref = np.pad(x[0, 0].numpy(), ((5, 2), (7, 1)), mode=mode)
        np.testing.assert_array_equal(got, ref)


# -------------------------------------------------------------------------------------- Set12 data


def _set12(names):
    from innverse.data.io import read_image

    folder = require_data("Set12")
    out = []
    for n in names:
        a, _ = read_image(folder / n)
        out.append(torch.from_numpy(a)[None, None])
    return out


@pytest.mark.data
def test_set12_quality_and_sigma_estimate():
    imgs = _set12(["02.png", "05.png"])  # 256x256 each
    sigma = 25  # 0-255 scale
    for i, x in enumerate(imgs):
        g = torch.Generator().manual_seed(i)
        y = x + sigma / 255 * torch.randn(x.shape, generator=g, dtype=torch.float32)
        noisy = psnr(y.clamp(0, 1), x).item()
        bayes = psnr(denoise(y, sigma).clamp(0, 1), x).item()
        visu = psnr(denoise(y, sigma, method="visu").clamp(0, 1), x).item()
        blind = psnr(denoise(y).clamp(0, 1), x).item()
        assert bayes > noisy + 3
        assert visu > noisy + 2
        assert blind > noisy + 3
        est = float(estimate_sigma(y)[0])
        assert abs(est / sigma - 1) < 0.1


# ---------------------------------------------------------------------------------------- metrics


def test_psnr_known_mse_and_crop():
    ref = torch.zeros(2, 1, 10, 10, dtype=torch.float64)
    x = ref.clone()
    x[0] += 0.1  # MSE 0.01 -> 20 dB
    x[1, :, 0, :] = 1.0  # one bad row: MSE 0.1 -> 10 dB, cropped away with crop=1
    p = psnr(x, ref)
    assert p.shape == (2,)
    assert abs(p[0].item() - 20.0) < 1e-9 and abs(p[1].item() - 10.0) < 1e-9
    assert math.isinf(psnr(x, ref, crop=1)[1].item())
    assert abs(psnr(x * 255, ref, data_range=255.0)[0].item() - 20.0) < 1e-9
    assert psnr(x[0, 0], ref[0, 0]).shape == (1,)
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(x, ref[..., :5])


def _ssim_reference(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """SSIM as skimage computes it with gaussian_weights=True: scipy's Gaussian filter
    (sigma 1.5, truncate 3.5 -> 11 taps, reflect borders), population statistics, then the map's
    mean after removing the 5-pixel border."""
    from scipy.ndimage import gaussian_filter

    def f(t):
        return gaussian_filter(t, sigma=1.5, truncate=3.5, mode="reflect")

    mx, my = f(a), f(b)
    vx, vy, cxy = f(a * a) - mx * mx, f(b * b) - my * my, f(a * b) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s[5:-5, 5:-5].mean())


def test_ssim_identity_reference_and_colour():
    pytest.importorskip("scipy")
    rng = np.random.default_rng(17)
    a = rng.random((40, 33))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    ta, tb = torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None]
    assert abs(ssim(ta, ta).item() - 1.0) < 1e-12
    assert abs(ssim(tb, ta).item() - _ssim_reference(b, a)) < 1e-10
    # colour: the mean of the channels' SSIM
    a3 = rng.random((1, 3, 24, 24))
    b3 = np.clip(a3 + 0.2 * rng.standard_normal(a3.shape), 0, 1)
    s3 = ssim(torch.from_numpy(b3), torch.from_numpy(a3)).item()
    per = [_ssim_reference(b3[0, c], a3[0, c]) for c in range(3)]
    assert abs(s3 - np.mean(per)) < 1e-10
    assert ssim(torch.from_numpy(b3).repeat(2, 1, 1, 1), torch.from_numpy(a3).repeat(2, 1, 1, 1)).shape == (
        2,
    )
    assert abs(gaussian_window().sum().item() - 1.0) < 1e-12
    with pytest.raises(ValueError, match="smaller"):
        ssim(ta[..., :8, :8], ta[..., :8, :8])


# -------------------------------------------------------------------------------------------- CLI


def _cli(argv):
    from innverse.commands import wavelet as cmd

    parser = argparse.ArgumentParser(prog="innverse")
    cmd.add_parser(parser.add_subparsers(dest="command"))
    return cmd.run(parser.parse_args(argv))


def _write_png(path, array):
    from PIL import Image

    Image.fromarray(array).save(path)


def test_cli_denoise_gray_and_force(tmp_path, capsys):
    from PIL import Image

    from innverse.errors import UserError

    x = (_smooth_image(48, 40)[0, 0].numpy() * 255).round().astype(np.uint8)
    rng = np.random.default_rng(18)
    noisy = np.clip(x + rng.normal(0, 20, x.shape), 0, 255).astype(np.uint8)
    src, dst = tmp_path / "noisy.png", tmp_path / "out.png"
    _write_png(src, noisy)
    assert _cli(["wavelet", "denoise", str(src), "-o", str(dst), "--sigma", "20"]) == 0
    with Image.open(dst) as im:
        assert im.mode == "L" and im.size == (40, 48)
        out = np.asarray(im, dtype=np.float64)
    err_in = np.abs(noisy.astype(float) - x).mean()
    assert np.abs(out - x).mean() < 0.7 * err_in
    assert "sigma 20)" in capsys.readouterr().out
    before = dst.read_bytes()
    with pytest.raises(UserError, match="out.png: output exists"):
        _cli(["wavelet", "denoise", str(src), "-o", str(dst)])
    assert dst.read_bytes() == before
    assert _cli(["wavelet", "denoise", str(src), "-o", str(dst), "--force", "--method", "visu"]) == 0
    assert "estimated sigma" in capsys.readouterr().out
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_cli_colour_and_errors(tmp_path):
    from PIL import Image

    from innverse.errors import UserError

    rng = np.random.default_rng(19)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    src = tmp_path / "c.png"
    _write_png(src, rgb)
    assert _cli(["wavelet", "denoise", str(src), "-o", str(tmp_path / "c_out.png"), "--level", "2"]) == 0
    with Image.open(tmp_path / "c_out.png") as im:
        assert im.mode == "RGB" and im.size == (30, 20)
    with pytest.raises(UserError, match="missing.png"):
        _cli(["wavelet", "denoise", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o.png")])
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(UserError, match="bad.png"):
        _cli(["wavelet", "denoise", str(bad), "-o", str(tmp_path / "o.png")])
    with pytest.raises(UserError, match="sigma"):
        _cli(["wavelet", "denoise", str(src), "-o", str(tmp_path / "o.png"), "--sigma", "-3"])
    with pytest.raises(UserError, match="o.xyz"):
        _cli(["wavelet", "denoise", str(src), "-o", str(tmp_path / "o.xyz")])
    with pytest.raises(UserError, match="missing action"):
        _cli(["wavelet"])
    assert not (tmp_path / "o.png").exists()
