"""ILVR: low-pass replacement with the projector A^+ A, exact consistency, refusals."""

from __future__ import annotations

import pytest
import torch

from innverse.errors import UserError
from innverse.physics import Downsampling, QuantizedDownsampling
from innverse.sampling import ILVR, GuidedSampler, generators_for

from ._toy import mse, problem


def test_low_pass_is_a_projector_and_the_result_is_consistent():
    prior, op, x, y, mmse = problem(16)
    s = ILVR(prior, op, 40)
    v = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(s.low_pass(s.low_pass(v)), s.low_pass(v))
    out = s.sample(y, generators_for(0, 16), clamp=False)
    torch.testing.assert_close(op.A(out), y, rtol=0, atol=1e-12)  # the last replacement is noise-free
    free = GuidedSampler(prior, op, 40).sample(y, generators_for(0, 16), clamp=False)
    assert mse(out, x) < 4 * mmse, (mse(out, x), mmse)
    assert mse(out, x) < 0.1 * mse(free, x)


def test_bicubic_degradation_uses_its_own_projector():
    """Any linear operator: with bicubic downscaling A^+ (by conjugate gradients) keeps A(x) = y."""
    prior, _, _, _, _ = problem(1)
    op = Downsampling(2, "bicubic")
    y = op.A(torch.rand(2, 1, 8, 8, dtype=torch.float64) * 0.5 + 0.25)
    out = ILVR(prior, op, 6).sample(y, generators_for(0, 2), clamp=False)
    torch.testing.assert_close(op.A(out), y, rtol=0, atol=1e-8)


def test_refuses_a_non_linear_operator():
    prior, _, _, _, _ = problem(1)
    with pytest.raises(UserError, match="ilvr needs a linear forward operator"):
        ILVR(prior, QuantizedDownsampling(2), 5)
