"""QuantizedDownsampling: JPEG-like quantisation (against PIL's JPEG codec), non-linearity,
determinism and the straight-through surrogate."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from innverse.errors import UserError
from innverse.physics import Downsampling, QuantizedDownsampling
from innverse.physics.quantized import JPEG_LUMINANCE, jpeg_quantize, quantization_table


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _smooth(h: int, w: int, seed: int) -> torch.Tensor:
    base = torch.rand(1, 1, h // 8 + 1, w // 8 + 1, generator=_gen(seed), dtype=torch.float64)
    x = torch.nn.functional.interpolate(base, size=(h, w), mode="bicubic", align_corners=False)
    return (0.1 + 0.8 * (x - x.min()) / (x.max() - x.min())).double()


def test_quantization_tables():
    assert torch.equal(quantization_table(50), torch.tensor(JPEG_LUMINANCE, dtype=torch.float64))
    assert torch.equal(quantization_table(100), torch.ones(8, 8, dtype=torch.float64))
    t75 = quantization_table(75)
    assert t75[0, 0] == 8 and t75[7, 7] == 50  # floor((16*50 + 50)/100), floor((99*50 + 50)/100)
    assert int(quantization_table(1).max()) == 255
    for bad in (0, 101, 50.0, True):
        with pytest.raises(UserError, match="quality"):
            quantization_table(bad)


@pytest.mark.parametrize("quality", [30, 75])
def test_close_to_the_jpeg_codec(quality):
    """PIL's libjpeg (integer DCT, 8-bit output) with the same table decodes to within a small fraction
    of the compression error of our float JPEG-like quantiser (with the table transposed, the difference
    is about the compression error itself)."""
    rng = np.random.default_rng(0)  # flat patches whose edges cut through the 8x8 blocks, plus a ripple
    img = np.kron(rng.random((5, 6)), np.ones((8, 8)))[4:36, 4:44] + 0.05 * np.sin(0.9 * np.arange(40))
    img = (np.clip(img, 0, 1) * 200 + 20).round()
    table = quantization_table(quality)
    buf = io.BytesIO()
    Image.fromarray(img.astype(np.uint8)).save(
        buf, format="JPEG", qtables=[table.numpy().astype(int).flatten().tolist()], subsampling=0
    )
    dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float64)
    ours = jpeg_quantize(torch.from_numpy(img / 255)[None, None], table)[0, 0].numpy() * 255
    codec_error = np.abs(img - dec).mean()
    assert codec_error > 3 and np.abs(ours - dec).mean() < min(0.15 * codec_error, 1.0)


def test_constant_block_by_hand():
    """A constant block c has only a DC coefficient 8·(255c − 128); Q rounds it to a multiple of T[0,0]."""
    c = 0.5
    x = torch.full((1, 1, 8, 8), c, dtype=torch.float64)
    t = quantization_table(50)
    dc = 8 * (255 * c - 128)
    expect = (round(dc / 16) * 16 / 8 + 128) / 255
    torch.testing.assert_close(jpeg_quantize(x, t), torch.full_like(x, expect), rtol=0, atol=1e-13)


def test_operator_is_nonlinear_deterministic_and_idempotent():
    op = QuantizedDownsampling(factor=4, quality=50)
    a, b = _smooth(32, 32, 1), _smooth(32, 32, 2)
    ya = op.A(a)
    assert ya.shape == (1, 1, 8, 8) and torch.equal(op.A(a), ya)
    assert float((op.A(a + b) - op.A(a) - op.A(b)).abs().max()) > 1e-3
    assert float((op.A(0.5 * a) - 0.5 * ya).abs().max()) > 1e-3
    # re-quantising an unclipped result changes nothing
    table = op.table
    assert float(ya.min()) > 0 and float(ya.max()) < 1
    torch.testing.assert_close(jpeg_quantize(ya, table), ya, rtol=0, atol=1e-12)
    # quantisation error is bounded by half a quantisation step per coefficient
    low = Downsampling(4).A(a)
    err_coef = (ya - low) * 255
    assert float(err_coef.abs().max()) < 0.5 * float(table.max())
    # the result is computed in float64 whatever the input dtype
    torch.testing.assert_close(op.A(a.float()).double(), ya, rtol=0, atol=1e-6)


def test_padding_for_sizes_not_multiple_of_eight():
    op = QuantizedDownsampling(factor=2, quality=90)
    x = _smooth(20, 28, 3)  # low-res 10x14: padded to 16x16 and cropped
    y = op.A(x)
    assert y.shape == (1, 1, 10, 14)
    assert float((y - Downsampling(2).A(x)).abs().max()) < 0.05


def test_straight_through_surrogate():
    op = QuantizedDownsampling(factor=4, quality=50)
    x = _smooth(32, 32, 4).requires_grad_(True)
    s = op.A_surrogate(x)
    assert torch.equal(s.detach(), op.A(x.detach()))
    s.square().sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    xr = x.detach().clone().requires_grad_(True)
    op.A(xr).square().sum().backward()
    assert xr.grad is None or float(xr.grad.abs().sum()) == 0  # the exact map has no useful gradient


def test_seeded_noise_and_refusals():
    op = QuantizedDownsampling(factor=4, sigma=0.05)
    x = _smooth(16, 16, 5)
    assert torch.equal(op(x, _gen(1)), op(x, _gen(1)))
    assert not hasattr(op, "A_adjoint")
    with pytest.raises(UserError, match="ilvr needs a linear forward operator"):
        op.require_linear("ilvr")
