"""Reflection removal app: loading separators (with clear refusals), padding to the model's size
factor, tiled inference, and ``innverse.remove_reflection`` on the image convention."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import innverse
from innverse.apps import dereflect as app
from innverse.apps.dereflect import (
    DEFAULT_MODEL,
    check_tiling,
    load_separator,
    pad_to_multiple,
    remove_reflection,
    remove_reflection_tensor,
    size_factor,
)
from innverse.errors import UserError
from innverse.models.dncnn import DnCNN
from innverse.models.durrnet import DURRNet
from innverse.models.unet_separator import UNetSeparator
from innverse.nn.testing import randomise_

TINY = {"features": 4, "stages": 1, "scales": 2, "prior_steps": 1, "prior_hidden": 4}


class Pointwise(nn.Module):
    """Stand-in separator acting pixel by pixel (so tiling cannot change its result); it refuses
    inputs whose sides are not multiples of ``size_factor`` and records the shapes it saw."""

    size_factor = 8

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.7, 0.2, 0.5]))
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x):
        assert x.shape[-1] % 8 == 0 and x.shape[-2] % 8 == 0, x.shape
        self.seen.append(tuple(x.shape))
        t = x * self.w.reshape(1, 3, 1, 1)
        return t, x.square() - t


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    net = randomise_(DURRNet(**TINY), 0.05, seed=1)
    return net.save(tmp_path_factory.mktemp("dr") / "tiny")


def test_size_factor_and_padding():
    assert size_factor(DURRNet(**TINY)) == 4
    assert size_factor(DURRNet(**{**TINY, "scales": 3})) == 8
    assert size_factor(UNetSeparator(4)) == 2 and size_factor(Pointwise()) == 8
    x = torch.rand(2, 3, 13, 6)
    p, (top, left, h, w) = pad_to_multiple(x, 8)
    assert p.shape == (2, 3, 16, 8) and (top, left, h, w) == (1, 1, 13, 6)
    assert torch.equal(p[..., top : top + h, left : left + w], x)
    assert torch.equal(p[..., 0, :][..., 1:-1], x[..., 1, :])  # reflection: row -1 is row 1
    q, box = pad_to_multiple(torch.rand(1, 3, 2, 3), 16)  # too short to reflect: replicated
    assert q.shape == (1, 3, 16, 16) and box == (7, 6, 2, 3)
    assert pad_to_multiple(x, 1)[0] is x


@pytest.mark.parametrize(("h", "w"), [(13, 21), (64, 64), (7, 5)])
def test_any_size_is_padded_and_cropped_back(h, w):
    m = Pointwise()
    x = torch.rand(2, 3, h, w)
    t, r = remove_reflection_tensor(x, m, tile=None)
    assert t.shape == r.shape == x.shape
    assert torch.allclose(t, x * m.w.reshape(1, 3, 1, 1)) and torch.allclose(r, x.square() - t)
    assert not t.requires_grad  # inference only


def test_tiles_blend_to_the_whole_image_result():
    m = Pointwise()
    x = torch.rand(1, 3, 150, 101, generator=torch.Generator().manual_seed(0))
    whole = remove_reflection_tensor(x, m, tile=None)
    m.seen.clear()
    tiled = remove_reflection_tensor(x, m, tile=64, overlap=16)
    assert len(m.seen) > 4 and all(s[-1] <= 64 + 7 and s[-2] <= 64 + 7 for s in m.seen)
    for a, b in zip(whole, tiled, strict=True):
        assert (a - b).abs().max() < 1e-6


def test_real_durrnet_any_size_and_tiles_close_to_whole(tiny):
    net = load_separator(tiny)
    x = torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(1))
    t, r = remove_reflection_tensor(x, net, tile=None)
    assert t.shape == r.shape == x.shape and torch.isfinite(t).all() and torch.isfinite(r).all()
    tt, rr = remove_reflection_tensor(x, net, tile=48, overlap=16)
    # not equal (the network sees beyond a tile), but the blend keeps the result close
    assert (tt - t).abs().mean() < 0.05 and (rr - r).abs().mean() < 0.05
    odd = torch.rand(2, 3, 9, 11)
    assert remove_reflection_tensor(odd, net, tile=None)[0].shape == odd.shape


def test_tiling_and_input_checks():
    assert check_tiling(None, None) == (None, 0) and check_tiling(0, None) == (None, 0)
    assert check_tiling(512, None) == (512, 32) and check_tiling(64, None) == (64, 16)
    for tile, overlap in [(8, None), (-1, None), (64, 64), (64, -1), (64.5, None), (True, None)]:
        with pytest.raises(UserError):
            check_tiling(tile, overlap)
    m = Pointwise()
    for bad in [torch.rand(1, 1, 8, 8), torch.rand(3, 8, 8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8)]:
        with pytest.raises(UserError, match="expects"):
            remove_reflection_tensor(bad, m)


def test_loading_refusals(tiny, tmp_path: Path):
    assert isinstance(load_separator(tiny), DURRNet) and not load_separator(tiny).training
    m = Pointwise()
    assert load_separator(m) is m
    shipped = load_separator(DEFAULT_MODEL)  # the shipped durrnet-lite
    assert isinstance(shipped, DURRNet) and shipped.config["features"] == 16 and not shipped.training
    with pytest.raises(UserError, match="unknown reflection-removal model 'nosuch'"):
        load_separator("nosuch")
    with pytest.raises(UserError, match="model file not found"):
        load_separator(tmp_path / "missing" / "model")
    DnCNN(depth=3, channels=4).save(tmp_path / "dn")
    with pytest.raises(UserError, match=r"dncnn checkpoint \(denoiser\), not a reflection-removal model"):
        load_separator(tmp_path / "dn")
    with pytest.raises(UserError, match="empty"):
        load_separator(" ")


def test_default_model_loads_once_weights_ship(tiny, tmp_path: Path, monkeypatch):
    """With ``durrnet-lite`` weights in the weights folder the default name loads them."""
    import shutil

    import innverse.models.hub as hub
    import innverse.models.registry as registry

    w = tmp_path / "weights"
    w.mkdir()
    shutil.copy(tiny / "model.safetensors", w / "durrnet-lite.safetensors")
    shutil.copy(tiny / "config.json", w / "durrnet-lite.json")
    monkeypatch.setattr(registry, "weights_dir", lambda: w)
    monkeypatch.setattr(hub, "weights_dir", lambda: w)
    net = load_separator()
    assert isinstance(net, DURRNet) and net.config["features"] == 4
    assert "durrnet-lite" in str(app._not_shipped("other"))  # listed as shipped in the refusal


def test_api_follows_the_convention(tiny):
    assert innverse.remove_reflection is not None and "remove_reflection" in innverse.__all__
    rng = np.random.default_rng(0)
    rgb = (rng.random((19, 23, 3)) * 255).astype(np.uint8)
    t, r = innverse.remove_reflection(rgb, model=tiny, device="cpu")
    assert t.dtype == r.dtype == np.uint8 and t.shape == r.shape == rgb.shape
    ref_t, ref_r = remove_reflection_tensor(
        torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255, load_separator(tiny), tile=None
    )
    exp = (ref_t.clamp(0, 1) * 255).round()[0].permute(1, 2, 0).numpy().astype(np.uint8)
    assert np.array_equal(t, exp)
    # float numpy batch, torch (3, H, W) and (B, 3, H, W): kind, dtype and layout kept
    f, _ = remove_reflection(rgb[None].astype(np.float32) / 255, tiny)
    assert f.shape == (1, 19, 23, 3) and f.dtype == np.float32
    x = torch.rand(3, 16, 12, dtype=torch.float64)
    tt, rr = remove_reflection(x, tiny)
    assert isinstance(tt, torch.Tensor) and tt.shape == rr.shape == x.shape and tt.dtype == torch.float64
    tb, _ = remove_reflection(x[None].float(), tiny, tile=None)
    assert tb.shape == (1, 3, 16, 12)
    u16 = (rng.random((10, 12, 3)) * 65535).astype(np.uint16)
    assert remove_reflection(u16, tiny)[0].dtype == np.uint16
    # gray in, gray out (the mean of the RGB results); alpha passed through
    gray = rgb[..., 0]
    g, gr = remove_reflection(gray, tiny)
    assert g.shape == gray.shape and gr.shape == gray.shape
    rgba = np.concatenate([rgb, np.full((19, 23, 1), 200, np.uint8)], axis=2)
    a, _ = remove_reflection(rgba, tiny)
    assert a.shape == rgba.shape and (a[..., 3] == 200).all()
    with pytest.raises(UserError, match="divide by 255"):
        remove_reflection(rgb.astype(np.float32), tiny)
    t_default, r_default = innverse.remove_reflection(rgb)  # the shipped default model
    assert t_default.shape == r_default.shape == rgb.shape and t_default.dtype == np.uint8


def test_api_defaults_match_the_app():
    sig = inspect.signature(innverse.api.remove_reflection).parameters
    assert sig["model"].default == app.DEFAULT_MODEL and sig["tile"].default == app.DEFAULT_TILE


def test_bundled_sample_is_a_synthetic_mixture():
    from innverse.data.io import read_image

    mix, t, r = (read_image(p)[0] for p in app.sample_paths())
    assert mix.shape == t.shape == r.shape == (128, 192, 3)
    # I = T + R wherever nothing clipped (8-bit rounding of each file: at most 1.5 levels apart)
    ok = (t + r) < 1
    assert ok.mean() > 0.5 and np.abs(mix - t - r)[ok].max() <= 1.5 / 255 + 1e-6
