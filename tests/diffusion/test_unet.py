"""Tests of :mod:`innverse.diffusion.unet`."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from innverse.diffusion.unet import UNet, Upsample, timestep_embedding
from innverse.errors import UserError

TINY = dict(width=8, mults=(1, 2), blocks=1, groups=4)


def _randomise(m: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give the zero-initialised branches random weights, so outputs depend on every layer."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.2)
    return m


def test_shapes_config_and_zero_init() -> None:
    m = UNet(2, **TINY)
    x, t = torch.randn(3, 2, 16, 16), torch.tensor([0, 10, 999])
    y = m(x, t)
    assert y.shape == x.shape and y.is_contiguous()
    assert all(not r.conv2.weight.detach().any() for lev in m.down for r in lev.res)  # identity blocks
    assert y.abs().max() > 0
    assert UNet(**m.config).config == m.config
    m3 = UNet(1, out_channels=2, width=8, mults=(1, 2, 2), blocks=(1, 2, 1), attention=(1, 2), groups=4)
    assert m3(torch.randn(1, 1, 16, 16), torch.tensor([5])).shape == (1, 2, 16, 16)
    assert m3.config["blocks"] == [1, 2, 1] and m3.config["attention"] == [1, 2]
    assert len(m3.down[1].res) == 2 and len(m3.up[1].res) == 3 and len(m3.up[1].attn) == 3


def test_scalar_t_and_float_t() -> None:
    m = _randomise(UNet(1, **TINY))
    x = torch.randn(2, 1, 8, 8)
    a = m(x, torch.tensor(7))
    b = m(x, torch.tensor([7, 7]))
    c = m(x, torch.tensor([7.0, 7.0]))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(b, c, rtol=0, atol=0)
    assert not torch.allclose(m(x, torch.tensor([8, 8])), b)


def test_memory_formats_agree() -> None:
    m = _randomise(UNet(1, width=8, mults=(1, 2, 2), blocks=(1, 1, 2), groups=4).double())
    x, t = torch.randn(2, 1, 16, 16, dtype=torch.float64), torch.tensor([3, 400])
    a = m(x, t)
    m.set_memory_format(torch.contiguous_format)
    torch.testing.assert_close(m(x, t), a, rtol=1e-12, atol=1e-12)


def test_subpixel_upsample_equals_nearest_then_conv() -> None:
    torch.manual_seed(0)
    u = Upsample(6).double()
    for shape in ((2, 6, 5, 7), (1, 6, 1, 1), (1, 6, 4, 4)):
        x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
        ref = u.conv(F.interpolate(x, scale_factor=2, mode="nearest"))
        out = u(x)
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-13)
        g = torch.randn_like(ref)
        gx, gw = torch.autograd.grad(out, (x, u.conv.weight), g)
        rx, rw = torch.autograd.grad(ref, (x, u.conv.weight), g)
        torch.testing.assert_close(gx, rx, rtol=0, atol=1e-12)
        torch.testing.assert_close(gw, rw, rtol=0, atol=1e-12)


def test_timestep_embedding() -> None:
    t = torch.tensor([0, 1, 500, 999])
    e = timestep_embedding(t, 32)
    assert e.shape == (4, 32)
    torch.testing.assert_close(e[0], torch.cat([torch.ones(16), torch.zeros(16)]))
    diffusers = pytest.importorskip("diffusers")
    from diffusers.models.embeddings import get_timestep_embedding

    ref = get_timestep_embedding(t, 32, flip_sin_to_cos=True, downscale_freq_shift=0)
    torch.testing.assert_close(e, ref, rtol=1e-5, atol=1e-5)
    assert diffusers is not None


def test_gradients_reach_every_parameter() -> None:
    m = _randomise(UNet(1, **TINY))
    loss = m(torch.randn(2, 1, 8, 8), torch.tensor([1, 900])).square().mean()
    loss.backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_errors() -> None:
    with pytest.raises(UserError):
        UNet(1, width=8, mults=(1, 2), groups=3)
    with pytest.raises(UserError):
        UNet(1, width=8, mults=(1, 2), attention=(2,), groups=4)
    with pytest.raises(UserError):
        UNet(1, width=8, mults=(1, 2), blocks=(1, 1, 1), groups=4)
    m = UNet(1, **TINY)
    with pytest.raises(UserError, match="multiples of 2"):
        m(torch.randn(1, 1, 9, 9), torch.tensor([0]))
    with pytest.raises(UserError, match="expects"):
        m(torch.randn(1, 3, 8, 8), torch.tensor([0]))
