"""The one user-facing convention (innverse.convention) through innverse.denoise / estimate_noise / deblur
and innverse.wavelets.denoise / estimate_sigma / wavedec2: value rule, σ scale, layouts, types; and the
API's helpers for ready models (load once, name the default choice, check_range, a reused blur)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import innverse
from innverse import convention, wavelets
from innverse.data.io import read_image, sample_path
from innverse.errors import UserError

SIGMA = 15


def _psnr(a: np.ndarray, ref: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - ref) ** 2)))


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    """A 64×64 crop of the bundled sample photograph, float32 on [0, 1]."""
    img, _ = read_image(sample_path())
    return np.ascontiguousarray(img[64:128, 96:160])


@pytest.fixture(scope="module")
def noisy_u8(clean) -> np.ndarray:
    rng = np.random.default_rng(0)
    y = clean + SIGMA / 255 * rng.standard_normal(clean.shape)
    return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8)


def _colour(clean: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.stack([clean, clean[::-1], 1 - clean], axis=2).astype(np.float32)
    rng = np.random.default_rng(seed)
    return rgb, (rgb + SIGMA / 255 * rng.standard_normal(rgb.shape)).astype(np.float32)


# ------------------------------------------------------------------------------------ the value rule


def test_float_copy_of_an_8_bit_image_is_refused(noisy_u8):
    with pytest.raises(UserError) as e:
        innverse.denoise(noisy_u8.astype(np.float32), sigma=SIGMA)
    lo, hi = int(noisy_u8.min()), int(noisy_u8.max())
    assert str(e.value) == (
        f"float images must be on [0, 1]; this one spans [{lo}, {hi}] — divide by 255 or pass uint8"
    )


def test_uint8_input_is_scaled_and_denoised(noisy_u8, clean):
    out = innverse.denoise(noisy_u8, sigma=SIGMA)
    assert out.dtype == np.uint8 and out.shape == noisy_u8.shape
    assert _psnr(out / 255.0, clean) > _psnr(noisy_u8 / 255.0, clean) + 4
    same = innverse.denoise(noisy_u8.astype(np.float32) / 255, sigma=SIGMA)  # the rule's remedy
    assert np.abs(np.rint(np.clip(same, 0, 1) * 255) - out).max() <= 1


def test_estimate_noise_on_0_255_float_raises(noisy_u8):
    with pytest.raises(UserError, match=r"float images must be on \[0, 1\]"):
        innverse.estimate_noise(noisy_u8.astype(np.float64))
    s = innverse.estimate_noise(noisy_u8)
    assert isinstance(s, float) and abs(s - SIGMA) < 3


@pytest.mark.parametrize(
    "call",
    [
        lambda x: innverse.denoise(x, sigma=SIGMA),
        lambda x: innverse.denoise(x),
        lambda x: innverse.estimate_noise(x),
        lambda x: innverse.deblur(x, np.ones((3, 3)), sigma=2),
        lambda x: wavelets.denoise(x, SIGMA),
        lambda x: wavelets.denoise(x),
        lambda x: wavelets.estimate_sigma(x),
    ],
    ids=["denoise", "denoise-blind", "estimate_noise", "deblur", "wavelet-denoise", "wavelet-blind",
         "estimate_sigma"],
)  # fmt: skip
def test_every_user_facing_function_applies_the_rule(call, noisy_u8):
    with pytest.raises(UserError, match=r"this one spans \[.*\] — divide by 255 or pass uint8"):
        call(noisy_u8.astype(np.float32))
    with pytest.raises(UserError, match=r"divide by 255"):
        call(torch.from_numpy(noisy_u8.astype(np.float32)))
    with pytest.raises(UserError, match=r"divide by 65535 or pass uint16"):
        call(noisy_u8.astype(np.float32) * 257)
    with pytest.raises(UserError, match="rescale it to"):
        call(noisy_u8.astype(np.float32) / 255 - 4)


def test_noise_overshoot_is_accepted_up_to_the_documented_bounds():
    assert (convention.FLOAT_MIN, convention.FLOAT_MAX) == (-3.0, 4.0)
    rng = np.random.default_rng(2)
    x = np.clip(rng.random((32, 32)), 0, 1).astype(np.float32)
    x[0, 0], x[0, 1] = convention.FLOAT_MIN, convention.FLOAT_MAX  # on the bounds: accepted
    assert wavelets.denoise(x, 50).shape == x.shape
    for bad in (convention.FLOAT_MAX + 0.01, convention.FLOAT_MIN - 0.01):
        x[0, 2] = bad
        with pytest.raises(UserError, match=r"float images must be on \[0, 1\]"):
            wavelets.denoise(x, 50)
    # unclipped noise at sigma = 55 on a large image stays inside the bounds
    big = 0.5 + 55 / 255 * rng.standard_normal((1000, 1000))
    assert convention.float_range_problem(float(big.min()), float(big.max())) is None


def test_nan_and_other_dtypes_are_refused():
    for bad, match in [
        (np.full((16, 16), np.nan, np.float32), "NaN"),
        (np.zeros((16, 16), np.int32), "unsupported array dtype int32"),
        (np.zeros((16, 16), bool), "unsupported array dtype bool"),
        (torch.zeros(16, 16, dtype=torch.int64), "unsupported tensor dtype"),
        ([[0.0] * 16] * 16, "numpy array or a torch tensor"),
    ]:
        with pytest.raises(UserError, match=match):
            wavelets.estimate_sigma(bad)
        with pytest.raises(UserError, match=match):
            innverse.estimate_noise(bad)


# ---------------------------------------------------------------------------------- layouts and types


def test_numpy_hwc_colour_equals_torch_1chw(clean):
    _, noisy = _colour(clean)
    a = innverse.denoise(noisy, sigma=SIGMA)
    b = innverse.denoise(torch.from_numpy(noisy).permute(2, 0, 1)[None].contiguous(), sigma=SIGMA)
    assert isinstance(a, np.ndarray) and a.shape == noisy.shape
    assert isinstance(b, torch.Tensor) and b.shape == (1, 3, 64, 64)
    np.testing.assert_array_equal(a, b[0].permute(1, 2, 0).numpy())


def test_wavelet_denoise_reads_numpy_hwc_as_colour_not_chw(clean):
    rgb, noisy = _colour(clean, seed=3)
    a = wavelets.denoise(noisy, SIGMA)
    planes = [wavelets.denoise(noisy[..., c], SIGMA) for c in range(3)]  # each colour channel on its own
    np.testing.assert_allclose(a, np.stack(planes, axis=2), atol=1e-6)
    assert _psnr(np.clip(a, 0, 1), rgb) > _psnr(noisy, rgb) + 2
    misread = wavelets.denoise_data_scale(noisy, SIGMA / 255)  # channels-first: 64×64×3 read as C×H×W
    assert _psnr(np.clip(a, 0, 1), rgb) > _psnr(np.clip(misread, 0, 1), rgb) + 1.5
    t = wavelets.denoise(torch.from_numpy(noisy).permute(2, 0, 1).contiguous(), SIGMA)
    np.testing.assert_allclose(a, t.permute(1, 2, 0).numpy(), atol=1e-6)


def test_wrong_layouts_are_refused_with_a_hint(clean):
    chw = np.stack([clean] * 3)  # numpy C×H×W
    with pytest.raises(UserError, match=r"numpy arrays are channels-last .* np\.moveaxis\(a, 0, -1\)"):
        innverse.denoise(chw, sigma=SIGMA)
    with pytest.raises(UserError, match="channels-last"):
        wavelets.denoise(chw, SIGMA)
    hwc = torch.from_numpy(np.stack([clean] * 3, axis=2))  # torch H×W×C
    with pytest.raises(UserError, match=r"torch tensors are channels-first .* t\.permute\(2, 0, 1\)"):
        wavelets.estimate_sigma(hwc)
    with pytest.raises(UserError, match="channels"):
        innverse.denoise(np.zeros((16, 16, 5), np.float32), sigma=5)


@pytest.mark.parametrize(
    "make",
    [
        lambda a: np.rint(a[..., 0] * 255).astype(np.uint8),  # H×W uint8
        lambda a: np.rint(a * 65535).astype(np.uint16),  # H×W×3 uint16
        lambda a: a.astype(np.float64),  # H×W×3 float64
        lambda a: np.stack([a, a]),  # N×H×W×C batch
        lambda a: torch.from_numpy(a).permute(2, 0, 1).contiguous(),  # C×H×W
        lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].double(),  # B×C×H×W float64
        lambda a: torch.from_numpy(np.rint(a[..., 0] * 255).astype(np.uint8)),  # H×W uint8 tensor
    ],
)
def test_wavelet_denoise_returns_the_input_kind_dtype_and_shape(make, clean):
    _, noisy = _colour(clean)
    img = make(np.clip(noisy, 0, 1))
    out = wavelets.denoise(img, SIGMA)
    assert type(out) is type(img) and out.dtype == img.dtype and tuple(out.shape) == tuple(img.shape)


def test_alpha_is_passed_through_by_wavelet_denoise():
    rgba = np.random.default_rng(4).integers(0, 256, (24, 24, 4), dtype=np.uint8)
    out = wavelets.denoise(rgba, 10)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])


def test_batches_give_per_image_values(clean, noisy_u8):
    batch = np.stack([noisy_u8, noisy_u8])[..., None]  # N×H×W×1
    s = innverse.estimate_noise(batch)
    assert isinstance(s, np.ndarray) and s.shape == (2,) and s[0] == s[1]
    assert s[0] == pytest.approx(innverse.estimate_noise(noisy_u8))
    w = wavelets.estimate_sigma(torch.from_numpy(batch).permute(0, 3, 1, 2))
    assert isinstance(w, np.ndarray) and w.shape == (2,)
    assert w[0] == pytest.approx(wavelets.estimate_sigma(noisy_u8))


# ------------------------------------------------------------------------------- one σ scale (0–255)


def test_wavelet_functions_take_and_give_sigma_on_0_255(clean):
    rng = np.random.default_rng(5)
    noisy = (clean + 25 / 255 * rng.standard_normal(clean.shape)).astype(np.float32)
    est = wavelets.estimate_sigma(noisy)
    assert isinstance(est, float) and abs(est - 25) < 3
    assert est == pytest.approx(wavelets.estimate_sigma_data_scale(noisy) * 255, rel=1e-6)
    # the data-scale building block computes numpy input in float64, the convention in float32
    ref = wavelets.denoise_data_scale(noisy, 25 / 255)
    np.testing.assert_allclose(wavelets.denoise(noisy, 25), ref, atol=2e-6)
    np.testing.assert_allclose(wavelets.denoise(noisy), wavelets.denoise_data_scale(noisy), atol=2e-6)
    t = torch.from_numpy(noisy)
    torch.testing.assert_close(
        wavelets.denoise(t, 25), wavelets.denoise_data_scale(t, 25 / 255), atol=0, rtol=0
    )
    per_image = wavelets.denoise(np.stack([noisy, noisy])[..., None], sigma=[25, 0])
    np.testing.assert_allclose(per_image[1, ..., 0], noisy, atol=1e-5)  # sigma 0: untouched
    assert np.abs(per_image[0, ..., 0] - noisy).mean() > 0.02
    with pytest.raises(UserError, match="<= 255"):
        wavelets.denoise(noisy, 300)
    with pytest.raises(UserError, match=">= 0"):
        wavelets.denoise(noisy, -1)
    with pytest.raises(UserError, match="one value per image"):
        wavelets.denoise(noisy, [10, 20])


def test_wavedec2_accepts_numpy_and_torch_alike(clean):
    pywt = pytest.importorskip("pywt")
    rgb, _ = _colour(clean)
    c = wavelets.wavedec2(rgb.astype(np.float64), "cdf97", 2)  # numpy H×W×C: H and W are transformed
    assert isinstance(c[0], np.ndarray) and c[0].shape == (16, 16, 3)
    ref = pywt.wavedec2(rgb.astype(np.float64), "bior4.4", mode="periodization", level=2, axes=(0, 1))
    np.testing.assert_allclose(c[1][2], ref[1][2], atol=1e-10)
    t = wavelets.wavedec2(torch.from_numpy(np.moveaxis(rgb, 2, 0).copy()), "cdf97", 2)
    assert isinstance(t[0], torch.Tensor) and t[0].shape == (3, 16, 16) and t[0].dtype == torch.float32
    np.testing.assert_allclose(np.moveaxis(t[0].numpy(), 0, 2), c[0], atol=1e-5)
    back = wavelets.waverec2(c, "cdf97")
    assert isinstance(back, np.ndarray)
    np.testing.assert_allclose(back, rgb, atol=1e-12)
    p = wavelets.wavedec2(np.moveaxis(rgb, 2, 0), "haar", 1, axes=(-2, -1))  # pywt's default axes
    assert p[0].shape == (3, 32, 32) and p[0].dtype == np.float32


# ------------------------------------------------------------------- ready models and their helpers


@pytest.fixture
def loaded_names(monkeypatch):
    """Pretrained names load stand-ins (fast), and the names are recorded."""
    import innverse.models
    from _standins import BlurDenoiser, MadEstimator

    names: list[str] = []

    def fake(name, device="cpu"):
        names.append(str(name))
        return MadEstimator() if str(name) == "nenet" else BlurDenoiser()

    monkeypatch.setattr(innverse.models, "load_model", fake)
    return names


@pytest.mark.parametrize(
    "sigma, channels, color, expected",
    [
        (25, 1, "opponent", "winnet-s25"),
        (20, 1, "opponent", "winnet-blind"),
        (None, 1, "opponent", "winnet-blind"),
        (25, 3, "opponent", "winnet-blind"),  # each opponent channel has its own σ
        (15, 3, "ycbcr", "winnet-blind"),
        (25, 3, "rgb", "winnet-s25"),
    ],
)
def test_denoiser_name_is_what_denoise_loads(loaded_names, clean, sigma, channels, color, expected):
    from innverse.api import denoiser_name

    assert denoiser_name(sigma, color=color if channels == 3 else None) == expected
    image = clean if channels == 1 else _colour(clean)[1]
    innverse.denoise(image, sigma, color=color)
    assert loaded_names[0] == expected


def test_denoiser_name_checks_its_arguments():
    from innverse.api import denoiser_name

    with pytest.raises(UserError, match="<= 255"):
        denoiser_name(300)
    with pytest.raises(UserError, match="unknown colour handling 'lab'"):
        denoiser_name(25, color="lab")


def test_load_helpers_give_ready_models(loaded_names):
    from _standins import BlurDenoiser, MadEstimator
    from innverse.api import load_denoiser, load_estimator, min_image_size

    m = BlurDenoiser().train()
    assert load_denoiser(m) is m and not m.training
    e = MadEstimator()
    assert load_estimator(e) is e
    assert loaded_names == []  # ready models are not loaded again
    ready = [load_denoiser(sigma=25), load_denoiser(sigma=25, color="opponent"), load_estimator()]
    assert loaded_names == ["winnet-s25", "winnet-blind", "nenet"]  # the default choices
    assert [type(r).__name__ for r in ready] == ["BlurDenoiser", "BlurDenoiser", "MadEstimator"]
    with pytest.raises(UserError, match="noise estimator"):
        load_denoiser("nenet")
    assert min_image_size(m, e, None) == 8 and min_image_size() == 1


def test_ready_models_give_the_results_of_names(noisy_u8):
    """Loading once and passing the models is the same computation as naming them per call."""
    from innverse.api import load_denoiser, load_estimator

    den, est = load_denoiser(sigma=None), load_estimator()
    a, info_a = innverse.denoise(noisy_u8, return_info=True)
    b, info_b = innverse.denoise(noisy_u8, model=den, estimator=est, return_info=True)
    assert np.array_equal(a, b) and info_a == info_b and info_a["estimated"]
    with pytest.raises(UserError, match="not a noise estimator"):
        load_estimator("winnet-s25")


def test_check_range_false_accepts_strong_unclipped_noise_but_not_nan(clean):
    from _standins import BlurDenoiser, MadEstimator

    rng = np.random.default_rng(3)
    y = (clean + 250 / 255 * rng.standard_normal(clean.shape)).astype(np.float32)
    y[0, 0] = 4.6  # a noise peak as a larger image at this σ has some, beyond the default bound
    den, est = BlurDenoiser(), MadEstimator()
    calls = [
        lambda x, **k: innverse.denoise(x, 250, model=den, **k),
        lambda x, **k: innverse.denoise(x, model=den, estimator=est, **k),
        lambda x, **k: innverse.estimate_noise(x, estimator=est, **k),
        lambda x, **k: innverse.deblur(x, np.ones((3, 3)), 250, model=den, estimator=est, max_iter=2, **k),
    ]
    nan = y.copy()
    nan[3, 4] = np.nan
    for call in calls:
        with pytest.raises(UserError, match=r"float images must be on \[0, 1\]"):
            call(y)
        out = call(y, check_range=False)
        assert np.all(np.isfinite(out)) and np.shape(out) in (y.shape, ())
        with pytest.raises(UserError, match="NaN"):
            call(nan, check_range=False)


def test_deblur_takes_a_circular_blur_as_given(clean):
    from _standins import BlurDenoiser, MadEstimator
    from innverse.physics import CircularBlur

    den, est = BlurDenoiser(), MadEstimator()
    k = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float64) / 16  # sums to 1 exactly
    y = CircularBlur(k).A(torch.from_numpy(clean)[None, None])[0, 0].numpy()

    def run(kernel):
        return innverse.deblur(y, kernel, 2, model=den, estimator=est, max_iter=3, return_info=True)

    (a, ia), (b, ib) = run(k), run(CircularBlur(k))
    assert np.array_equal(a, b) and ia == ib
    # an array is normalised to sum 1, an operator is used as it is
    assert np.array_equal(run(2 * k)[0], a)
    assert not np.array_equal(run(CircularBlur(2 * k))[0], a)
    with pytest.raises(UserError, match="larger than the image"):
        run(CircularBlur(np.ones((70, 3))))
