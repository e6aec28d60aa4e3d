"""The hiding benchmark: LSB substitution bit by bit, the steganalysis CNN and its learning curve, the
PNG round trip, the command line (options, one-line errors, JSON/Markdown layout) and a small
end-to-end run (tiny models, synthetic data roots)."""

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
    render_hiding,
    score_method,
    ssim_separable,
    steg_counts,
    steganalysis_accuracy,
    steganalysis_curve,
    train_steganalyser,
)
from innverse.bench.lsb import lsb_hide, lsb_reveal
from innverse.cli import main
from innverse.errors import UserError
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
        steg_curve="8,4",
        steg_seeds=2,
        tile=32,
        log=None,
    )
    names = [r["method"] for r in res["rows"]]
    assert names == ["m1", "m4", "lsb-4", "lsb-2x4", "lsb-1x4"]
    assert all(r["images"] == 8 and 0 <= r["steg_accuracy"] <= 1 for r in res["rows"])
    assert res["protocol"]["steganalysis"]["curve"] == [4, 8, 12]
    for r in res["rows"]:
        assert [e["n"] for e in r["steg_curve"]] == [4, 8, 12]
        assert all(len(e["accuracies"]) == 2 for e in r["steg_curve"])
        assert r["steg_accuracies"] == r["steg_curve"][-1]["accuracies"]
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


def test_steg_counts():
    assert steg_counts(None, 384) == [16, 32, 64, 128, 384]
    assert steg_counts(None, 50) == [16, 32, 50]
    assert steg_counts(None, 10) == [10]
    assert steg_counts("64, 16", 100) == [16, 64, 100]  # sorted; --steg-images added
    assert steg_counts("16,32,64,128,384", 384) == [16, 32, 64, 128, 384]
    assert steg_counts([384, 1], 384) == [1, 384]


@pytest.mark.parametrize(
    "curve, words",
    [
        ("abc", ["'abc'", "whole number"]),
        ("16,32.5", ["'32.5'"]),
        ("", ["comma-separated"]),
        ("16,,32", ["comma-separated"]),
        ("0", ["outside 1..384"]),
        ("-4", ["outside 1..384"]),
        ("16,512", ["512", "outside 1..384"]),
        ("32,32", ["32 is listed twice"]),
        ([], ["no count"]),
        ([8.5], ["whole number"]),
    ],
)
def test_steg_counts_errors(curve, words):
    with pytest.raises(UserError) as e:
        steg_counts(curve, 384)
    msg = str(e.value)
    assert msg.startswith("--steg-curve: ") and "\n" not in msg
    for w in words:
        assert w in msg, msg


def _smooth_pairs(count: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8-bit smooth covers and their lsb-4 stego images (easy to detect)."""
    g = torch.Generator().manual_seed(seed)
    yy = torch.linspace(0, 1, size)
    phase = torch.rand(count, 1, 1, 1, generator=g) * 6
    covers = (0.5 + 0.4 * torch.sin(6 * yy[:, None] + 4 * yy[None, :] + phase)).expand(-1, 3, -1, -1)
    covers = (covers * 255).round() / 255
    return covers.contiguous(), lsb_hide(covers, [torch.rand(count, 3, size, size, generator=g)], 4)


def test_steganalyser_holdout():
    covers, stegos = _smooth_pairs(8, 16, 0)
    _, held = train_steganalyser(covers, stegos, steps=2, batch=8, holdout=0.0)
    assert np.isnan(held)
    bad_c, bad_s = covers.clone(), stegos.clone()
    bad_c[4:], bad_s[4:] = float("nan"), float("nan")  # the held-out half: never trained on
    det, held = train_steganalyser(bad_c, bad_s, steps=3, batch=8, holdout=0.5)
    assert all(torch.isfinite(q).all() for q in det.parameters())
    assert held == 0.0  # nan inputs are called neither cover nor stego
    with pytest.raises(ValueError):
        train_steganalyser(covers, stegos, steps=1, holdout=1.0)


def test_steganalysis_curve_fits_on_the_first_n_pairs():
    tc, ts = _smooth_pairs(12, 16, 1)
    tc[8:], ts[8:] = float("nan"), float("nan")  # beyond the largest count: must never be used
    vc, vs = _smooth_pairs(6, 16, 2)
    logged: list[str] = []
    curve = steganalysis_curve(tc, ts, vc, vs, [4, 8], [0, 1, 2], 3, logged.append, "x")
    assert [e["n"] for e in curve] == [4, 8]
    for e in curve:
        a = np.asarray(e["accuracies"])
        assert a.shape == (3,) and ((a > 0) & (a <= 1)).all()  # a nan-trained net scores exactly 0
        assert e["mean"] == pytest.approx(a.mean()) and e["std"] == pytest.approx(a.std(ddof=1))
    assert len(logged) == 2 and logged[0].startswith("x: steganalysis with 4 training covers: ")
    again = steganalysis_curve(tc, ts, vc, vs, [8], [1], 3)  # seeded: the same steganalyser
    assert again[0]["accuracies"] == [curve[1]["accuracies"][1]] and again[0]["std"] is None
    with pytest.raises(ValueError):
        steganalysis_curve(tc, ts, vc, vs, [13], [0], 1)
    with pytest.raises(ValueError):
        steganalysis_curve(tc, ts, vc, vs, [4], [], 1)


@pytest.fixture(scope="module")
def hiding_root(tmp_path_factory) -> dict[str, Path]:
    """A data root for the command's 128-pixel tiles (CBSD68: 56 small training images, then two
    256x256 test images = 8 tiles) and a tiny one-secret HiNet saved beside it."""
    from PIL import Image

    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("hiding")
    rng = np.random.default_rng(1)
    folder = base / "data" / "CBSD68"
    folder.mkdir(parents=True)
    for i in range(58):
        s = 256 if i >= 56 else 40
        yy, xx = np.mgrid[0:s, 0:s] / s
        a = 0.5 + 0.3 * np.sin((3 + i % 5) * xx + (2 + i % 3) * yy)[..., None] + 0.05 * rng.random((s, s, 3))
        Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8)).save(folder / f"{i:03d}.png")
    torch.manual_seed(0)
    model = randomise_(HiNet(secrets=1, blocks=1, hidden=4), std=0.02).save(base / "m1")
    return {"data": base / "data", "model": Path(model)}


def _hiding_args(root: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "benchmark", "hiding", "--out", str(out), "--model", str(root["model"]), "--data", str(root["data"]),
        "--steg-images", "10", "--steg-crop", "16", "--steg-steps", "1", *extra,
    ]  # fmt: skip


def _row_pattern(method: str, cells: list[str]) -> str:
    parts = [re.escape(method), "1", *(re.escape(c) for c in cells)]
    return r"\|\s*" + r"\s*\|\s*".join(parts) + r"\s*\|"


def test_command_learning_curve_layout(hiding_root, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(_hiding_args(hiding_root, out, "--steg-curve", "4", "--steg-seeds", "2", "--seed", "5"))
    assert rc == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "hiding.json").read_text())
    st = res["protocol"]["steganalysis"]
    assert st["curve"] == [4, 10] and st["seeds"] == [5, 6] and "no hold-out" in st["fit"]
    assert [r["method"] for r in res["rows"]] == ["m1", "lsb-4"]
    for r in res["rows"]:
        assert [e["n"] for e in r["steg_curve"]] == [4, 10]
        for e in r["steg_curve"]:
            assert len(e["accuracies"]) == 2 and all(0 <= a <= 1 for a in e["accuracies"])
            assert e["mean"] == pytest.approx(np.mean(e["accuracies"]))
            assert e["std"] == pytest.approx(np.std(e["accuracies"], ddof=1))
        full = r["steg_curve"][-1]
        assert r["steg_accuracy"] == full["mean"] and r["steg_accuracies"] == full["accuracies"]
        assert r["steg_accuracy_std"] == full["std"] and "steg_heldout_accuracy" not in r
    md = (out / "hiding.md").read_text()
    assert md.strip() in printed
    main_head, curve_head = (line for line in md.splitlines() if line.startswith("| method"))
    assert "steganalysis acc." in main_head
    assert re.fullmatch(r"\|\s*method\s*\|\s*N\s*\|\s*n=4\s*\|\s*n=10\s*\|", curve_head), curve_head
    assert "## Steganalysis accuracy (mean ± std over 2 seeds) vs training covers" in md
    assert "seeds 5..6" in md and "first n of the 10 training-pool pairs" in md
    assert md.index("stego PSNR") < md.index("## Steganalysis accuracy") < md.index("- **m1**")
    for r in res["rows"]:
        cells = [f"{100 * e['mean']:.1f} ± {100 * e['std']:.1f} %" for e in r["steg_curve"]]
        assert re.search(_row_pattern(r["method"], cells), md), cells
        assert f"{100 * r['steg_accuracy']:.1f} %" in md
    # one seed: the mean alone, no spread
    for r in res["rows"]:
        for e in r["steg_curve"]:
            e["accuracies"], e["mean"], e["std"] = e["accuracies"][:1], e["accuracies"][0], None
    res["protocol"]["steganalysis"]["seeds"] = [5]
    one = render_hiding(res)
    assert "## Steganalysis accuracy (1 seed: 5) vs training covers" in one and "±" not in one
    cells = [f"{100 * e['mean']:.1f} %" for e in res["rows"][0]["steg_curve"]]
    assert re.search(_row_pattern("m1", cells), one), cells
    # results without a curve (older files) render the main table alone
    for r in res["rows"]:
        del r["steg_curve"]
    plain = render_hiding(res)
    assert "## Steganalysis" not in plain and re.search(r"\|\s*m1\s*\|", plain)


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--steg-curve", "4,abc"], ["--steg-curve", "'abc'"]),
        (["--steg-curve", "4,11"], ["--steg-curve", "11", "outside 1..10"]),
        (["--steg-curve", "0"], ["--steg-curve", "outside"]),
        (["--steg-curve", "4,4"], ["--steg-curve", "twice"]),
        (["--steg-curve", ""], ["--steg-curve", "comma-separated"]),
        (["--steg-seeds", "0"], ["--steg-seeds", "at least 1"]),
    ],
)
def test_command_bad_curve_options(hiding_root, tmp_path, capsys, extra, words):
    out = tmp_path / "out"
    rc = main(_hiding_args(hiding_root, out, *extra))
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("innverse benchmark hiding: error: "), err
    for w in words:
        assert w in err, err
    assert not out.exists()  # checked before anything is written
