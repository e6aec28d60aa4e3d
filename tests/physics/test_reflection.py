"""synthesize_reflection: ERRNet's recipe, checked against an independent numpy/scipy rendition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from innverse.errors import UserError
from innverse.physics import synthesize_reflection
from innverse.physics.reflection import gaussian_taps


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _errnet_numpy(t: np.ndarray, r: np.ndarray, sigma: float, gamma: float = 1.3):
    """ERRNet's ReflectionSythesis_1 on (H, W, C) float arrays, written out with scipy."""
    signal = pytest.importorskip("scipy.signal")
    k1 = np.exp(-0.5 * ((np.arange(11) - 5) / sigma) ** 2)
    k1 /= k1.sum()
    k2 = np.outer(k1, k1)
    rb = np.stack([signal.convolve2d(r[..., c], k2, mode="same") for c in range(r.shape[2])], -1)
    m = t + rb
    if m.max() > 1:
        shift = (m[m > 1].mean() - 1) * gamma
        rb = np.clip(rb - shift, 0, 1)
        m = np.clip(rb + t, 0, 1)
    return m, rb


def test_matches_an_independent_rendition():
    g = _gen(0)
    t = torch.rand(3, 3, 20, 24, generator=g, dtype=torch.float64)
    r = torch.rand(3, 3, 20, 24, generator=g, dtype=torch.float64)
    t[2] *= 0.3  # the third pair does not overflow
    r[2] *= 0.3
    mix, t_out, r_eff = synthesize_reflection(t, r, (2.0, 5.0), _gen(7))
    assert torch.equal(t_out, t)
    sigmas = 2.0 + 3.0 * torch.rand(3, generator=_gen(7), dtype=torch.float64)
    for i in range(3):
        m_ref, rb_ref = _errnet_numpy(
            t[i].permute(1, 2, 0).numpy(), r[i].permute(1, 2, 0).numpy(), float(sigmas[i])
        )
        np.testing.assert_allclose(mix[i].permute(1, 2, 0).numpy(), m_ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(r_eff[i].permute(1, 2, 0).numpy(), rb_ref, rtol=0, atol=1e-12)
    assert float((mix[2] - (t[2] + r_eff[2])).abs().max()) < 1e-15  # no overflow: I = T + R_b exactly


def test_seeded_ranges_and_shapes():
    t = torch.rand(4, 3, 16, 16, generator=_gen(1))
    r = torch.rand(4, 3, 16, 16, generator=_gen(2))
    a = synthesize_reflection(t, r, generator=_gen(3))
    b = synthesize_reflection(t, r, generator=_gen(3))
    c = synthesize_reflection(t, r, generator=_gen(4))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])
    mix, _, r_eff = a
    assert mix.dtype == torch.float32 and mix.shape == t.shape
    assert float(mix.min()) >= 0 and float(mix.max()) <= 1
    assert float(r_eff.min()) >= 0 and float(r_eff.max()) <= 1
    torch.testing.assert_close(mix, (t + r_eff).clamp(0, 1), rtol=0, atol=0)
    single = synthesize_reflection(t[0], r[0], generator=_gen(3))
    assert single[0].shape == (3, 16, 16)
    torch.testing.assert_close(single[0], mix[0])  # the first draw of the same seed


def test_gaussian_taps_are_opencv_kernels():
    taps = gaussian_taps(11, torch.tensor([2.0, 5.0], dtype=torch.float64))
    torch.testing.assert_close(taps.sum(1), torch.ones(2, dtype=torch.float64))
    ref = np.exp(-0.5 * ((np.arange(11) - 5) / 2.0) ** 2)
    np.testing.assert_allclose(taps[0].numpy(), ref / ref.sum(), rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(sigma_range=(0.0, 2.0)), "sigma_range"),
        (dict(sigma_range=(3.0, 2.0)), "sigma_range"),
        (dict(sigma_range=5.0), "sigma_range"),
        (dict(gamma=-1.0), "gamma"),
        (dict(kernel_size=10), "kernel_size"),
    ],
)
def test_bad_arguments(kwargs, match):
    t = torch.rand(1, 3, 8, 8)
    with pytest.raises(UserError, match=match):
        synthesize_reflection(t, t, **kwargs)
    with pytest.raises(UserError, match="differ in shape"):
        synthesize_reflection(t, t[..., :4])
