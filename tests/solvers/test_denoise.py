"""Denoising solver and API with stand-in models: tiling, colour, batches, σ, ensembles; real models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import innverse.api as api
from _standins import BlurDenoiser, MadEstimator, smooth_image
from conftest import require_data
from innverse.data import color as colorlib
from innverse.data.degrade import add_seeded_noise, psnr
from innverse.errors import UserError
from innverse.solvers.denoise import (
    CALL_PIXELS,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    check_sigma,
    denoise_tensor,
)


def test_nonblind_model_falls_back_to_rgb():
    class NonBlind(BlurDenoiser):
        blind = False

    x = torch.rand(1, 3, 16, 16)
    with pytest.warns(UserWarning, match="blind"):
        a = denoise_tensor(x, 0.1, NonBlind(), tile=None, color="opponent")
    b = denoise_tensor(x, 0.1, NonBlind(), tile=None, color="rgb")
    torch.testing.assert_close(a, b)


def test_check_sigma():
    assert check_sigma(None) is None and check_sigma(25) == 25.0
    for bad in (-1, float("nan"), 256, "abc", True):
        with pytest.raises(UserError):
            check_sigma(bad)
    assert issubclass(UserError, ValueError)


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
    noisy = add_seeded_noise(clean, 25, 3)
    out, info = api.denoise(noisy, model=BlurDenoiser(), estimator=MadEstimator(), return_info=True)
    assert info["estimated"] and abs(info["sigma"][0] - 25) < 3
    assert psnr(out, clean) > psnr(noisy, clean) + 3
    s = api.estimate_noise(noisy[0], estimator=MadEstimator())
    assert isinstance(s, float) and abs(s - 25) < 3
    batch = api.estimate_noise(torch.cat([noisy, noisy]), estimator=MadEstimator())
    assert batch.shape == (2,)


def test_denoise_tiled_equals_untiled_api():
    noisy = add_seeded_noise(smooth_image(150, 130, c=3), 15, 0)
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


class Spy:
    """Records the batch shape and σ of every call; a pointwise (position-independent) denoiser."""

    kind = "winnet"
    blind = True
    min_size = 8

    def __init__(self):
        self.calls: list[tuple[tuple[int, ...], torch.Tensor]] = []

    def __call__(self, y, sigma):
        s = torch.as_tensor(sigma, dtype=y.dtype).reshape(-1, 1, 1, 1)
        self.calls.append((tuple(y.shape), s.flatten().clone()))
        return y * (1 - s) + 0.5 * s


@pytest.mark.parametrize("space", colorlib.COLOR_SPACES)
def test_colour_tiles_equal_the_whole_image_transform(space):
    """Colour is transformed per RGB tile: a pointwise model gives the whole-image result exactly."""
    x = smooth_image(300, 340, c=3)
    sig = torch.tensor([0.1])
    whole = denoise_tensor(x, sig, Spy(), tile=None, color=space)
    spy = Spy()
    tiled = denoise_tensor(x, sig, spy, tile=160, overlap=16, color=space)
    torch.testing.assert_close(tiled, whole, rtol=0, atol=2e-6)
    # 2 x 3 tiles of 158 x 124 (more than CALL_PIXELS): one call per channel of a tile, at its σ
    assert [c[0] for c in spy.calls] == [(1, 1, 158, 124)] * 18
    gains = (0.1 * colorlib.noise_gains(space)).float()
    for k in range(0, len(spy.calls), 3):
        got = torch.cat([spy.calls[k + j][1] for j in range(3)])
        torch.testing.assert_close(got, gains)


def test_colour_tiled_blur_within_a_hundredth_of_a_db():
    clean = smooth_image(150, 130, c=3)
    noisy = add_seeded_noise(clean, 15, 0)
    # "rgb": the stand-in blurs a whole batch at its mean σ, so the three σ must agree here
    a = denoise_tensor(noisy, 15 / 255, BlurDenoiser(), tile=None, color="rgb")
    b = denoise_tensor(noisy, 15 / 255, BlurDenoiser(), tile=64, overlap=DEFAULT_OVERLAP, color="rgb")
    assert abs(psnr(a, clean) - psnr(b, clean)) < 0.01


def test_small_images_of_a_batch_share_a_call_large_ones_do_not():
    spy = Spy()
    denoise_tensor(torch.rand(1, 3, 32, 32), 0.1, spy, tile=None)
    assert [c[0] for c in spy.calls] == [(3, 1, 32, 32)]  # 3 x 1024 px < CALL_PIXELS: one call
    spy = Spy()
    side = int(CALL_PIXELS**0.5) + 1
    out = denoise_tensor(torch.rand(2, 1, side, side), torch.tensor([0.1, 0.2]), spy, tile=None)
    assert [c[0] for c in spy.calls] == [(1, 1, side, side)] * 2
    torch.testing.assert_close(torch.cat([c[1] for c in spy.calls]), torch.tensor([0.1, 0.2]))
    assert out.shape == (2, 1, side, side)


def test_default_tiling_bounds_every_call_on_a_large_colour_image():
    spy = Spy()
    x = torch.rand(1, 3, 1200, 1000)
    out = denoise_tensor(x, 0.05, spy)
    assert out.shape == x.shape
    assert max(c[0][0] * c[0][2] * c[0][3] for c in spy.calls) <= DEFAULT_TILE**2
    assert len(spy.calls) == 3 * 4 * 4  # 4 x 4 tiles of at most 320 px, three channels each


def test_ensemble_runs_per_tile():
    x = smooth_image(80, 90)
    model = lambda y, s: y.square()  # noqa: E731 - equivariant: the ensemble changes nothing
    a = denoise_tensor(x, 0.1, model, tile=32, overlap=8, ensemble=True)
    torch.testing.assert_close(a, x.square(), rtol=0, atol=1e-6)


@pytest.mark.data
def test_shipped_models_blind_colour_on_a_set_image():
    """The default blind colour path (NENet + winnet-blind, opponent colour) on a CBSD68 crop."""
    from innverse.bench.protocol import resolve_set
    from innverse.data.listing import list_images

    require_data("CBSD68")
    from innverse.data.io import read_image

    img, _ = read_image(list_images(resolve_set("CBSD68"))[0])
    clean = torch.from_numpy(np.ascontiguousarray(img[:96, :128].transpose(2, 0, 1)))[None].float()
    noisy = add_seeded_noise(clean, 25, 0)
    out, info = api.denoise(noisy, return_info=True)
    assert info["estimated"] and abs(info["sigma"][0] - 25) < 2
    assert psnr(out, clean) > psnr(noisy, clean) + 6


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
    noisy = add_seeded_noise(clean, 25, 0)
    out = api.denoise(noisy, sigma=25, model=str(winnet), tile=None)
    assert psnr(out, clean) > psnr(noisy, clean) + 4
    sigma = api.estimate_noise(noisy[0, 0].numpy(), estimator=str(nenet))
    assert abs(sigma - 25) < 3
