"""Inpainting: the mask, masked noise, the selection SVD in DDRM's layout, random masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from innverse.errors import UserError
from innverse.physics import Inpainting, random_mask


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_masks_of_every_form_agree():
    m = random_mask((6, 7), 0.5, _gen(0))
    x = torch.rand(2, 3, 6, 7, generator=_gen(1), dtype=torch.float64)
    ref = x * m
    for form in (m, m.double(), m.numpy(), m.numpy().astype(np.uint8), m[None], m[None].expand(3, 6, 7)):
        torch.testing.assert_close(Inpainting(form).A(x), ref, rtol=0, atol=0)


def test_noise_only_on_observed_pixels():
    m = random_mask((16, 16), 0.3, _gen(2))
    op = Inpainting(m, sigma=0.1)
    x = torch.rand(1, 1, 16, 16, generator=_gen(3))
    y = op(x, _gen(4))
    assert torch.equal(y[..., ~m], torch.zeros_like(y[..., ~m]))
    assert not torch.equal(y[..., m], x[..., m])
    assert torch.equal(op(x, _gen(4)), y)


def test_selection_svd_layout():
    m = torch.zeros(2, 3, 4, dtype=torch.bool)
    m[0, 0, 1] = m[1, 2, 3] = m[0, 1, 0] = True
    op = Inpainting(m)
    svd = op.svd((2, 3, 4))
    assert svd.M == 3 and svd.D == 24
    x = torch.arange(24, dtype=torch.float64).reshape(1, 2, 3, 4)
    v = svd.V_adjoint(x)
    assert v[0, :3].tolist() == [1.0, 4.0, 23.0]  # observed entries first, in flattening order
    torch.testing.assert_close(svd.U_adjoint(op.A(x)), v[:, :3])
    torch.testing.assert_close(svd.singular_values(), torch.ones(3, dtype=torch.float64))
    with pytest.raises(UserError, match="do not match the mask"):
        op.svd((3, 3, 4))


def test_prox_keeps_missing_pixels_and_averages_observed():
    m = random_mask((8, 8), 0.5, _gen(5))
    op = Inpainting(m)
    z = torch.rand(1, 2, 8, 8, generator=_gen(6), dtype=torch.float64)
    y = op.A(torch.rand(1, 2, 8, 8, generator=_gen(7), dtype=torch.float64))
    p = op.prox(z, y, 3.0)
    assert torch.equal(p[..., ~m], z[..., ~m])
    torch.testing.assert_close(p[..., m], (3.0 * y[..., m] + z[..., m]) / 4.0, rtol=0, atol=0)


def test_random_mask_is_seeded():
    a = random_mask((32, 32), 0.25, _gen(0))
    assert a.dtype == torch.bool and torch.equal(a, random_mask((32, 32), 0.25, _gen(0)))
    assert abs(float(a.double().mean()) - 0.25) < 0.05
    with pytest.raises(UserError, match="fraction"):
        random_mask((4, 4), 1.5)
