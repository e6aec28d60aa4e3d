"""The hiding benchmark: LSB substitution bit by bit, the steganalysis CNN, the PNG round trip and a
small end-to-end run (tiny model, synthetic data root)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from innverse.bench.hiding import (
    benchmark_hiding,
    hiding_figure,
    hinet_method,
    lsb_method,
    png_round_trip,
    score_method,
    ssim_separable,
    steganalysis_accuracy,
    train_steganalyser,
)
from innverse.bench.lsb import lsb_hide, lsb_reveal
from innverse.models.hinet import HiNet
from innverse.models.steganalysis import Steganalyser
from innverse.nn.testing import randomise_


def _levels(*v: int) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float32).reshape(1, 1, 1, -1) / 255


def test_lsb_bits():
    cover, s = _levels(0b10110110, 255, 0), _levels(0b01011100, 0, 255)
    st = lsb_hide(cover, [s], 4)
    assert torch.equal((st * 255).round(), torch.tensor([[[[0b10110101, 0b11110000, 0b00001111]]]]).float())
    (r,) = lsb_reveal(st, 1, 4)
    assert torch.equal((r * 255).round(), torch.tensor([[[[0b01011000, 0b00001000, 0b11111000]]]]).float())
    secrets = [_levels(0b11000000), _levels(0b01000000), _levels(0b10111111), _levels(0b00111111)]
    st = lsb_hide(_levels(0b10101010), secrets, 2)
    assert round(float(st.flatten()[0]) * 255) == 0b11011000  # all 8 bits are secret bits
    got = [round(float(x.flatten()[0]) * 255) for x in lsb_reveal(st, 4, 2)]
    assert got == [0b11100000, 0b01100000, 0b10100000, 0b00100000]
    st1 = lsb_hide(_levels(0b10101010), secrets, 1)
    assert round(float(st1.flatten()[0]) * 255) == 0b10101010 & 0xF0 | 0b1010
    with pytest.raises(ValueError):
        lsb_hide(cover, [s, s, s], 3)


def test_lsb_error_is_bounded():
    torch.manual_seed(0)
    c, s = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    st = lsb_hide(c, [s], 4)
    assert (st - c).abs().max() <= 16 / 255 and (lsb_reveal(st, 1, 4)[0] - s).abs().max() <= 8.5 / 255


def test_steganalyser_shapes_and_learns_lsb():
    net = Steganalyser()
    assert net(torch.rand(3, 3, 20, 24)).shape == (3,)
    assert net.residuals(torch.full((1, 3, 8, 8), 0.5)).abs().max() < 1e-4  # high-pass: flat -> 0
    g = torch.Generator().manual_seed(0)
    yy = torch.linspace(0, 1, 32)
    phase = torch.rand(64, 1, 1, 1, generator=g) * 6
    base = 0.5 + 0.4 * torch.sin(6 * yy[:, None] + 4 * yy[None, :] + phase)
    covers = base.expand(-1, 3, -1, -1).contiguous()
    covers = (covers * 255).round() / 255
    stegos = lsb_hide(covers, [torch.rand(64, 3, 32, 32, generator=g)], 4)
    det, held = train_steganalyser(covers, stegos, steps=60, batch=16)
    assert held > 0.8 and steganalysis_accuracy(det, covers[:8], stegos[:8]) > 0.8


def test_png_round_trip_and_score(tmp_path: Path):
    torch.manual_seed(0)
    net = randomise_(HiNet(secrets=1, blocks=1, hidden=4), std=0.02).eval()
    c, s = torch.rand(3, 3, 16, 16), torch.rand(3, 1, 3, 16, 16)
    m = hinet_method(net, "tiny", seed=0)
    st = m.hide(c, [s[:, 0]])
    assert torch.equal(png_round_trip(st, tmp_path, "x"), st)
    r = score_method(m, c, s, tmp_path)
    row = r["row"]
    assert row["images"] == 3 and np.isfinite(row["stego_psnr"]) and row["hide_seconds"] > 0
    lsb = score_method(lsb_method(1, 4), c, s, tmp_path)["row"]
    assert 28 < lsb["stego_psnr"] < 36 and 30 < lsb["secret_psnr"] < 40
    fig = hiding_figure([("tiny", c[0], r["stego"][0], s[0, 0], r["revealed"][0, 0])])
    assert fig.dtype == np.uint8 and fig.shape[2] == 3


@pytest.mark.slow
def test_benchmark_end_to_end(tmp_path: Path):
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    (root / "CBSD68").mkdir(parents=True)
    yy, xx = np.mgrid[0:64, 0:64] / 64
    for i in range(58):
        wave = np.sin((3 + i % 5) * xx + (2 + i % 3) * yy)[..., None]
        a = 0.5 + 0.3 * wave + 0.05 * rng.random((64, 64, 3))
        Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8)).save(root / "CBSD68" / f"{i:03d}.png")
    models = []
    for n in (1, 4):
        torch.manual_seed(n)
        net = randomise_(HiNet(secrets=n, blocks=1, hidden=4), std=0.02)
        models.append(str(net.save(tmp_path / f"m{n}")))
    res = benchmark_hiding(
        tmp_path / "out",
        models=models,
        data=str(root),
        steg_images=12,
        steg_crop=16,
        steg_steps=2,
        tile=32,
        log=None,
    )
    names = [r["method"] for r in res["rows"]]
    assert names == ["m1", "m4", "lsb-4", "lsb-2x4", "lsb-1x4"]
    assert all(r["images"] == 8 and 0 <= r["steg_accuracy"] <= 1 for r in res["rows"])
    assert "anchor_delta" in res["rows"][0] and "anchor_delta" not in res["rows"][1]
    out = tmp_path / "out"
    assert json.loads((out / "hiding.json").read_text())["rows"][2]["method"] == "lsb-4"
    assert re.search(r"\|\s*lsb-4\s*\|", (out / "hiding.md").read_text())
    assert (out / "hiding.png").is_file()


def test_separable_ssim_matches_the_metric():
    from innverse.metrics import ssim

    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 24, 20, generator=g)
    b = (a + 0.1 * torch.randn(2, 3, 24, 20, generator=g)).clamp(0, 1)
    torch.testing.assert_close(ssim_separable(a, b), ssim(a, b), atol=1e-12, rtol=0)
