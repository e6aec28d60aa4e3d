"""The released checkpoints' study and the re-statement of the released computation
(innverse.bench.released, innverse.bench.released_code); needs the released files."""

from __future__ import annotations

import pytest
import torch

from conftest import require_data
from innverse.bench.protocol import add_seeded_noise, load_images
from innverse.bench.released import exactness, nenet_rows, official_path, quality, render_released
from innverse.bench.released_code import ReleasedWINNet, dct_matrix16
from innverse.metrics import psnr


def test_dct_matrix16_is_orthonormal():
    m = dct_matrix16(torch.float64)
    assert torch.allclose(m @ m.T, torch.eye(16, dtype=torch.float64), atol=1e-14)


@pytest.mark.data
def test_released_computation_matches_innverse():
    from innverse.models import load_model

    require_data("weights", "winnet-official", "WINNet_lvl_2_nlvl_25", "net_WINNet.pth")
    x = load_images(require_data("Set12"), limit=1)[0][1][..., :96, :96]
    y = add_seeded_noise(x, 25, 0)
    p = official_path("WINNet_lvl_2_nlvl_25", "net_WINNet.pth")
    ours = load_model(p)(y, 25 / 255)
    rel = ReleasedWINNet(p)(y, 25.0)
    # the same network; only the border handling differs (replicate-padded split vs reflect + circular)
    assert float(psnr(rel.clamp(0, 1), x)[0]) > float(psnr(y.clamp(0, 1), x)[0]) + 8
    assert float(psnr(rel[..., 16:-16, 16:-16], ours[..., 16:-16, 16:-16])[0]) > 45


@pytest.mark.data
def test_released_study_on_one_crop():
    require_data("weights", "winnet-official", "NENet", "net_NENet.pth")
    images = [(n, x[..., :48, :48]) for n, x in load_images(require_data("Set12"), limit=1)]
    rows = quality(images)
    assert [r["model"] for r in rows[:3]] == [
        "official K=1 s15",
        "official K=2 s15",
        "official blind [0,55] (true sigma)",
    ]
    assert len(rows) == 9 and all(r["psnr"] > 20 for r in rows)
    nen = nenet_rows(images)
    assert [r["sigma"] for r in nen] == [5, 15, 25, 50]
    ex = exactness(images)
    assert ex["float32_worst_psnr"] > 100 and ex["float64_max_abs_error"] < 1e-12
    md = render_released({"set": "crop", "quality": rows, "nenet": nen, "exactness": ex})
    assert "| official K=1 s25 | 25 |" in md and "Round trip (K=2)" in md
