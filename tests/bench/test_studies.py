"""The studies behind the README tables, on tiny inputs: wavelet baselines, the CLI on 8-bit files,
shipped-vs-released weights, colour handling (innverse.bench.wavelet, cli_files, pretrained, color)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from innverse.bench.cli_files import cli_on_8bit, render_cli, write_noisy_8bit
from innverse.bench.color import color_rows, load_color_models, run_config
from innverse.bench.pretrained import (
    read_official,
    render_pretrained,
    run_pretrained,
    scored_sigmas,
    update_cards,
)
from innverse.bench.protocol import add_seeded_noise, load_images
from innverse.bench.wavelet import render_wavelet, wavelet_rows
from innverse.errors import UserError
from innverse.metrics import psnr
from innverse.models import WINNet

from .conftest import TINY


def test_wavelet_rows(assets):
    images = load_images(assets["data"], limit=2)
    rows = wavelet_rows("tiny", images, [25.0], ["bayes", "visu"])
    assert [(r["sigma"], r["method"]) for r in rows] == [(25.0, "bayes"), (25.0, "visu")]
    x = images[1][1]
    unclipped = float(psnr(add_seeded_noise(x, 25.0, 1), x)[0])
    assert rows[0]["per_image"][1]["noisy_psnr"] == pytest.approx(unclipped, abs=1e-12)
    assert rows[0]["psnr"] > rows[0]["noisy_psnr"] and 0 <= rows[0]["sigma_mae"] < 25
    assert "| tiny | 25 | bayes |" in render_wavelet(rows)


def test_cli_on_8bit(assets, tmp_path):
    images = load_images(assets["data"], limit=2)
    clean8 = write_noisy_8bit(images, 15.0, tmp_path / "n")
    a = np.asarray(Image.open(tmp_path / "n" / "img0.png"))
    c8 = np.round(images[0][1][0, 0].numpy() * 255).astype(np.uint8)
    y = add_seeded_noise(torch.from_numpy(c8 / 255.0).float()[None, None], 15.0, 0)
    assert np.array_equal(clean8["img0.png"], c8)
    assert np.array_equal(a, np.clip(np.round(y[0, 0].numpy() * 255), 0, 255).astype(np.uint8))
    calls = []

    def copy_cli(argv):  # an "identity denoiser" command: copies the noisy files
        calls.append(argv)
        shutil.copytree(argv[1], argv[3])
        return 0

    (row,) = cli_on_8bit(images, [15.0], copy_cli, ensemble=True)
    assert [c[4:] for c in calls] == [["--sigma", "15"], [], ["--sigma", "15", "--ensemble"]]
    assert row["mean"]["nonblind"] == row["mean"]["noisy"] == row["mean"]["blind"] == row["mean"]["ensemble"]
    assert "+0.00" in render_cli([row])
    with pytest.raises(UserError, match="failed"):
        cli_on_8bit(images, [15.0], lambda argv: 1)


def test_pretrained_scores_and_cards(assets, tmp_path):
    prev = tmp_path / "prev.json"
    off = {"official_psnr": 30.0, "official_ssim": 0.8}
    prev.write_text(
        json.dumps({"rows": [{"name": "winnet-s25", "results": [{"set": "tiny", "sigma": 25, **off}]}]})
    )
    cached = read_official([prev])
    assert cached[("winnet-s25", "tiny", 25)]["official_psnr"] == 30.0
    with pytest.raises(UserError, match="--official-from"):
        read_official([tmp_path / "missing.json"])
    (row,) = run_pretrained(["winnet-s25"], [str(assets["data"])], cached)
    (r,) = row["results"]
    assert r["set"] == "tiny" and r["sigma"] == 25 and r["delta_db"] == pytest.approx(r["psnr"] - 30.0)
    assert "| winnet-s25 | tiny | 25 |" in render_pretrained([row])
    (card,) = update_cards([row], {"threads": 1}, tmp_path)
    saved = json.loads(card.read_text())
    assert saved["psnr"] == {"tiny": {"25": round(r["psnr"], 3)}} and saved["measured"]["threads"] == 1
    blind = WINNet(**TINY, blind=True)
    assert scored_sigmas("nenet", None) == (15, 25, 50) and scored_sigmas("x", blind) == (15, 25, 50)
    assert scored_sigmas("winnet-s15", WINNet(**TINY)) == (15,)


def test_color_configs(assets):
    torch.manual_seed(0)
    images = load_images(assets["data"], gray=False, limit=1)
    rgb = torch.cat([images[0][1]] * 3, dim=1)
    dev = torch.device("cpu")
    models, names = load_color_models(["opponent+blind", "opponent-unscaled+blind"], 25.0, None,
                                      str(assets["wb"]), dev)  # fmt: skip
    assert names == {"blind": str(assets["wb"])}
    per, secs = color_rows([("a.png", rgb)], 25.0, ["opponent+blind", "opponent-unscaled+blind"], models, dev)
    assert set(per["a.png"]) == {"noisy", "opponent+blind", "opponent-unscaled+blind"}
    assert set(secs) == {"opponent+blind", "opponent-unscaled+blind"}
    y = add_seeded_noise(rgb, 25.0, 0)
    assert run_config("opponent-unscaled+blind", y, 25 / 255, models, None).shape == rgb.shape
    with pytest.raises(UserError, match="configuration"):
        load_color_models(["lab+blind"], 25.0, None, None, dev)
