"""The reflection-removal benchmark: FLOP counting against a hand count, the identity row, the test
pairs of a synthetic data root, and an end-to-end run (tiny models) through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import require_data
from innverse.bench.dereflect import (
    benchmark_dereflect,
    count_flops,
    identity_separator,
    load_test_pairs,
    render_dereflect,
    score_separator,
)
from innverse.errors import UserError
from innverse.metrics import psnr
from innverse.models.durrnet import DURRNet
from innverse.models.unet_separator import UNetSeparator
from innverse.nn.testing import randomise_
from innverse.train.tasks.durrnet import TEST_FIRST

TINY = {"features": 4, "stages": 1, "scales": 2, "prior_steps": 1, "prior_hidden": 4}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A data root whose CBSD68/ holds TEST_FIRST + 3 small colour images (the last 3 are the test split)."""
    r = tmp_path_factory.mktemp("cbsd")
    (r / "CBSD68").mkdir()
    rng = np.random.default_rng(0)
    for i in range(TEST_FIRST + 3):
        a = (rng.random((36, 44, 3)) * 255).astype(np.uint8)
        Image.fromarray(a).save(r / "CBSD68" / f"{i:03d}.png")
    return r


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    return {
        "durrnet": randomise_(DURRNet(**TINY), 0.05, seed=1).save(d / "dr" / "model"),
        "unet": randomise_(UNetSeparator(4), 0.05, seed=2).save(d / "unet"),
    }


def _conv_macs_by_hooks(net: nn.Module, x: torch.Tensor) -> int:
    total = 0

    def hook(m, inp, out):
        nonlocal total
        total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        net(x)
    for h in hs:
        h.remove()
    return total


def test_flops_match_a_hand_count():
    w = 5
    net = UNetSeparator(w)
    macs = _conv_macs_by_hooks(net, torch.rand(1, 3, 64, 64))
    assert count_flops(net, size=64) == pytest.approx(2 * macs / 4096 * 1e6 / 1e9, rel=1e-9)
    # by hand, per pixel: full-resolution convolutions + the half-resolution ones / 4
    full = (3 * w + w * w + 3 * w * w + w * w + w * 6) * 9
    half = (w * 2 * w + 3 * (2 * w) ** 2) * 9 / 4
    assert count_flops(net) == pytest.approx(2 * (full + half) / 1e3, rel=1e-9)
    # DURRNet's dictionaries are functional convolutions (no module): counted as well
    d = DURRNet(**TINY)
    assert count_flops(d, size=64) * 1e3 / 2 > _conv_macs_by_hooks(d, torch.rand(1, 3, 64, 64)) / 4096


def test_identity_scores_the_input_itself():
    g = torch.Generator().manual_seed(0)
    t, r = torch.rand(3, 3, 24, 24, generator=g), torch.rand(3, 3, 24, 24, generator=g) * 0.3
    mix = (t + r).clamp(0, 1)
    row = score_separator(identity_separator(), mix, t, r)["row"]
    assert row["t_psnr"] == pytest.approx(float(psnr(mix, t).mean()))
    assert row["r_psnr"] == pytest.approx(float(psnr(torch.zeros_like(r), r).mean()))
    assert row["pairs"] == 3 and len(row["per_pair"]["t_ssim"]) == 3


def test_test_pairs_of_a_data_root(root: Path):
    i, t, r = load_test_pairs(root, size=32, seed=0)
    assert i.shape == t.shape == r.shape == (3, 3, 32, 32)
    i2, t2, _ = load_test_pairs(root, size=32, seed=0)
    i3, _, _ = load_test_pairs(root, size=32, seed=1)
    assert torch.equal(i, i2) and torch.equal(t, t2) and not torch.equal(i, i3)
    # T is the centre crop of test image k (CBSD68 image TEST_FIRST + k)
    a = np.asarray(Image.open(root / "CBSD68" / f"{TEST_FIRST + 1:03d}.png"), dtype=np.float32) / 255
    assert np.allclose(t[1].permute(1, 2, 0).numpy(), a[2:34, 6:38])
    assert load_test_pairs(root, size=32, limit=2)[0].shape[0] == 2
    for kw, msg in [({"size": 40}, "--size"), ({"size": 8}, "--size"), ({"limit": 0}, "--limit")]:
        with pytest.raises(UserError, match=msg):
            load_test_pairs(root, **{"size": 32, **kw})
    with pytest.raises(UserError, match="not a folder"):
        load_test_pairs(root / "nothing")


@pytest.mark.data
def test_the_fixed_test_pairs():
    base = require_data("CBSD68").parent
    i, t, r = load_test_pairs(base)
    assert i.shape == (12, 3, 128, 128)
    first = sorted((base / "CBSD68").glob("*.png"))[TEST_FIRST]
    a = np.asarray(Image.open(first).convert("RGB"), dtype=np.float32) / 255
    y, x = (a.shape[0] - 128) // 2, (a.shape[1] - 128) // 2
    assert np.allclose(t[0].permute(1, 2, 0).numpy(), a[y : y + 128, x : x + 128])
    assert float((i - (t + r).clamp(0, 1)).abs().max()) < 1e-6  # I = clip(T + R)


def test_end_to_end_with_given_pairs(tmp_path: Path, models):
    g = torch.Generator().manual_seed(3)
    t, r = torch.rand(4, 3, 30, 34, generator=g), torch.rand(4, 3, 30, 34, generator=g) * 0.2
    mix = (t + r).clamp(0, 1)
    res = benchmark_dereflect(
        tmp_path / "out",
        models=[str(models["durrnet"]), str(models["unet"])],
        pairs=(mix, t, r),
        figure_pairs=2,
        log=None,
    )
    names = [row["method"] for row in res["rows"]]
    assert names == ["input itself", "dr", "unet"]  # a folder ".../dr/model" is named by its run folder
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "dereflect.json",
        "dereflect.md",
        "dereflect.png",
    ]
    data = json.loads((tmp_path / "out" / "dereflect.json").read_text())
    assert data["rows"][1]["params"] == sum(p.numel() for p in DURRNet(**TINY).parameters())
    assert data["rows"][2]["gflop_per_mp"] > 0 and data["rows"][1]["seconds_per_mp"] > 0
    md = (tmp_path / "out" / "dereflect.md").read_text()
    assert md == render_dereflect(res) and "| input itself" in md and "GFLOP/MP" in md
    # the tiled run of the same model scores the same pairs, with tiles of at least 32 pixels
    res2 = benchmark_dereflect(
        tmp_path / "o2", models=[str(models["unet"])], pairs=(mix, t, r), tile=32, figure_pairs=0, log=None
    )
    assert res2["protocol"]["tile"] == 32 and not (tmp_path / "o2" / "dereflect.png").exists()


def test_refusals(tmp_path: Path, models):
    pairs = tuple(torch.rand(2, 3, 16, 16) for _ in range(3))
    unet = str(models["unet"])
    with pytest.raises(UserError, match="innverse train durrnet"):
        benchmark_dereflect(tmp_path / "x", models=["no-such-model"], pairs=pairs, log=None)
    with pytest.raises(UserError, match="--figure-pairs"):
        benchmark_dereflect(tmp_path / "x", models=[unet], pairs=pairs, figure_pairs=-1, log=None)
    with pytest.raises(UserError, match="tile"):
        benchmark_dereflect(tmp_path / "x", models=[unet], pairs=pairs, tile=8, log=None)


def test_the_command(tmp_path: Path, capsys, root: Path, models):
    from innverse.cli import main

    code = main(
        [
            "benchmark",
            "dereflect",
            "--out",
            str(tmp_path / "r"),
            "--data",
            str(root),
            "--size",
            "32",
            "--models",
            f"{models['unet']},{models['durrnet']}",
            "--figure-pairs",
            "1",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "| input itself" in out and "| unet" in out and "| dr " in out
    assert (tmp_path / "r" / "dereflect.png").is_file()
    base = ["benchmark", "dereflect", "--out", str(tmp_path / "r"), "--data", str(root)]
    code = main([*base, "--models", ","])
    _, err = capsys.readouterr()
    assert code == 2 and "empty entry" in err and "Traceback" not in err
    code = main([*base, "--models", "no-such-model"])
    _, err = capsys.readouterr()
    assert code == 2 and "innverse train durrnet" in err and len(err.strip().splitlines()) == 1
