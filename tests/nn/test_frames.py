"""innverse.nn.frames (the DCT frame) and the frame contract's checker, assert_left_inverse."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from innverse.nn import DCTFrame, Frame, dct_matrix
from innverse.nn.testing import assert_left_inverse


def test_dct_matrix_is_orthonormal() -> None:
    c = dct_matrix(16)
    assert torch.allclose(c @ c.T, torch.eye(16, dtype=torch.float64), atol=1e-14)


def test_dct_frame_is_tight_and_exact() -> None:
    f = DCTFrame()
    x = torch.randn(2, 1, 13, 17, dtype=torch.float64)
    y = f.analysis(x)
    assert y.shape == (2, 16, 13, 17) and f.redundancy == 16
    assert torch.equal(f(x), y)  # forward is the analysis
    assert assert_left_inverse(f, x, 1e-12) <= 1e-12
    assert f.roundtrip_error(x) <= 1e-12
    # tight frame: ||W x||^2 = 16 ||x||^2
    assert torch.allclose((y**2).sum(), 16 * (x**2).sum(), rtol=1e-12)
    # channel 0 is the DC filter (constant 1/4): a box mean
    ones = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    assert torch.allclose(f.analysis(ones)[:, 0], torch.full((1, 8, 8), 4.0, dtype=torch.float64))
    # a left inverse, not a right inverse: synthesis projects onto the range of the analysis
    z = torch.randn_like(y)
    assert (f.analysis(f.synthesis(z)) - z).abs().max() > 0.1


def test_dct_frame_float32_and_several_channels() -> None:
    f = DCTFrame(2)
    x = torch.randn(3, 2, 5, 4)
    y = f.analysis(x)
    assert y.shape == (3, 8, 5, 4)
    # band-major layout: band k of channel c is channel k * C + c, equal to the 1-channel frame's band k
    for c in range(2):
        torch.testing.assert_close(y[:, c::2], f.analysis(x[:, c : c + 1]), rtol=0, atol=0)
    assert assert_left_inverse(f, x, 1e-5) <= 1e-5
    with pytest.raises(ValueError, match="multiple of 4"):
        f.synthesis(torch.zeros(1, 6, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        f.analysis(torch.zeros(4, 4))


def test_assert_left_inverse_detects_broken_frames() -> None:
    class Lossy(Frame):
        redundancy = 2

        def analysis(self, x: Tensor, **cond) -> Tensor:
            return torch.cat((x, x), 1)

        def synthesis(self, y: Tensor, **cond) -> Tensor:
            return 0.5 * y[:, :1] + 0.49 * y[:, 1:]

    class Undersampled(Frame):
        def analysis(self, x: Tensor, **cond) -> Tensor:
            return x[..., ::2]

        def synthesis(self, y: Tensor, **cond) -> Tensor:
            return torch.repeat_interleave(y, 2, dim=-1)

    x = torch.rand(2, 1, 4, 4, dtype=torch.float64)
    with pytest.raises(AssertionError, match="left-inverse max error"):
        assert_left_inverse(Lossy(), x, 1e-6)
    with pytest.raises(AssertionError, match="not a frame"):
        assert_left_inverse(Undersampled(), x, 1e-6)
