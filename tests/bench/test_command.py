"""``innverse benchmark denoise|blind|deblur`` (:mod:`innverse.commands.benchmark`), in-process and fast.

Tiny WINNet/NENet models are built and saved under a temporary folder and passed by path; the test
set is three random 48x48 PNGs (``conftest.assets``), so nothing needs the shared data or the
shipped weights.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from innverse.bench.deblur import DEFAULT_BORDER, wiener_nsr
from innverse.bench.methods import BM3D_MISSING
from innverse.bench.protocol import add_seeded_noise, load_images
from innverse.cli import main
from innverse.data.degrade import blur
from innverse.data.kernels import load_kernel
from innverse.metrics import psnr
from innverse.models import WINNet

try:
    import matplotlib  # noqa: F401

    HAVE_MPL = True
except ImportError:
    HAVE_MPL = False


def _one_line_error(capsys, rc: int, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("innverse benchmark") and ": error: " in err, err
    for w in words:
        assert w in err, err
    return err


def test_denoise_outputs(assets, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "benchmark", "denoise", "--data", str(assets["data"]), "--sigma", "15,25",
            "--model", str(assets["wn"]), "--model", str(assets["wb"]), "--estimate",
            "--estimator", str(assets["ne"]), "--baselines", "bayes,visu", "--crop-figure", "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    cap = capsys.readouterr()
    assert "| method" in cap.out and "BayesShrink" in cap.out and "tiny sigma=25" in cap.out
    md = (out / "denoise.md").read_text()
    assert "| method" in md and "manual_seed(i)" in md
    d = json.loads((out / "denoise.json").read_text())
    assert d["benchmark"] == "denoise" and d["sigmas"] == [15.0, 25.0]
    assert "manual_seed(i)" in d["noise_convention"]
    assert d["environment"]["threads"] == 1 and d["environment"]["torch"] == torch.__version__
    names = [m["name"] for m in d["methods"]]
    assert names == ["noisy input", "BayesShrink (cdf97)", "VisuShrink (cdf97)", "wn", "wb (sigma: ne)"]
    assert len(d["results"]) == len(names) * 2
    by = {(r["method"], r["value"]): r for r in d["results"]}
    for r in d["results"]:
        assert r["images"] == 3 and len(r["per_image"]) == 3
        assert [p["image"] for p in r["per_image"]] == ["img0.png", "img1.png", "img2.png"]
        assert np.isclose(r["psnr"], np.mean([p["psnr"] for p in r["per_image"]]))
        assert 0 < r["ssim"] <= 1 or r["method"] in ("wn", "wb (sigma: ne)")
    wn = {m["name"]: m for m in d["methods"]}["wn"]
    assert wn["params"] == sum(p.numel() for p in WINNet(1, 4, 1, 8, 8, 1).parameters())
    # non-blind: the true sigma; blind with --estimate: NENet's estimate (recorded per image)
    assert all(p["sigma_used"] == 25.0 for p in by[("wn", 25.0)]["per_image"])
    assert all(p["sigma_used"] != 25.0 for p in by[("wb (sigma: ne)", 25.0)]["per_image"])
    # the noisy row reproduces the documented convention exactly
    images = load_images(assets["data"])
    for i, (_, x) in enumerate(images):
        ref = float(psnr(add_seeded_noise(x, 15, i).clamp(0, 1), x)[0])
        assert by[("noisy input", 15.0)]["per_image"][i]["psnr"] == pytest.approx(ref, abs=1e-9)
    if HAVE_MPL:
        for f in ("psnr_vs_sigma.png", "crops_sigma15.png", "crops_sigma25.png"):
            assert (out / f).stat().st_size > 1000
    else:
        assert "matplotlib not installed" in cap.err


def test_denoise_blind_gets_true_sigma_without_estimate_and_bm3d_skip(assets, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "bm3d", None)  # import bm3d -> ImportError
    out = tmp_path / "o"
    rc = main(
        [
            "benchmark", "denoise", "--data", str(assets["data"]), "--sigma", "25", "--limit", "2",
            "--model", str(assets["wb"]), "--baselines", "bm3d", "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    err = capsys.readouterr().err
    assert BM3D_MISSING in err.splitlines()
    d = json.loads((out / "denoise.json").read_text())
    assert [m["name"] for m in d["methods"]] == ["noisy input", "wb"]
    assert d["skipped"][0]["name"] == "bm3d"
    (wb,) = [r for r in d["results"] if r["method"] == "wb"]
    assert len(wb["per_image"]) == 2 and all(p["sigma_used"] == 25.0 for p in wb["per_image"])


@pytest.mark.parametrize("sigma", ["15,abc", "300", "", "15,,25", "25,25", "-5"])
def test_bad_sigma_list(assets, tmp_path, capsys, sigma):
    rc = main(
        ["benchmark", "denoise", "--data", str(assets["data"]), "--sigma", sigma, "--out", str(tmp_path)]
    )
    _one_line_error(capsys, rc, "--sigma")
    assert not (tmp_path / "denoise.json").exists()


def test_missing_dataset_and_model(assets, tmp_path, capsys):
    rc = main(
        ["benchmark", "denoise", "--data", str(tmp_path / "nope"), "--model", "none", "--out", str(tmp_path)]
    )
    _one_line_error(capsys, rc, "nope")
    rc = main(["benchmark", "blind", "--data", "NoSuchSet", "--out", str(tmp_path)])
    _one_line_error(capsys, rc, "NoSuchSet")
    rc = main(
        [
            "benchmark",
            "denoise",
            "--data",
            str(assets["data"]),
            "--model",
            "winnet-nope",
            "--out",
            str(tmp_path),
        ]
    )
    _one_line_error(capsys, rc, "winnet-nope", "available")
    rc = main(
        [
            "benchmark",
            "denoise",
            "--data",
            str(assets["data"]),
            "--baselines",
            "wiener",
            "--out",
            str(tmp_path),
        ]
    )
    _one_line_error(capsys, rc, "wiener")
    rc = main(
        ["benchmark", "denoise", "--data", str(assets["data"]), "--model", str(assets["ne"]), "--out", "x"]
    )
    _one_line_error(capsys, rc, "estimator")


def test_blind_outputs(assets, tmp_path, capsys):
    out = tmp_path / "b"
    rc = main(
        [
            "benchmark", "blind", "--data", str(assets["data"]), "--sigma", "5,50",
            "--model", str(assets["wb"]), "--estimator", str(assets["ne"]), "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    assert "wb (true sigma)" in capsys.readouterr().out
    d = json.loads((out / "blind.json").read_text())
    assert d["sigmas"] == [5.0, 50.0]
    assert [m["name"] for m in d["methods"]] == ["noisy input", "wb (sigma: ne)", "wb (true sigma)"]
    assert len(d["results"]) == 6 and all(len(r["per_image"]) == 3 for r in d["results"])
    errs = d["estimator_error"]
    assert [e["sigma"] for e in errs] == [5.0, 50.0]
    for e in errs:
        est = np.array([p["estimate"] for p in e["per_image"]])
        assert len(est) == 3 and e["mae"] == pytest.approx(np.mean(np.abs(est - e["sigma"])))
    true = [r for r in d["results"] if r["method"] == "wb (true sigma)"]
    assert all(p["sigma_used"] == r["value"] for r in true for p in r["per_image"])
    assert "MAE (0-255)" in (out / "blind.md").read_text()
    assert (out / "blind.png").exists() == HAVE_MPL


def test_deblur_outputs(assets, tmp_path, capsys):
    out = tmp_path / "d"
    rc = main(
        [
            "benchmark", "deblur", "--data", str(assets["data"]), "--kernels", str(assets["k"]),
            "--model", str(assets["wb"]), "--estimator", str(assets["ne"]), "--limit", "2",
            "--max-iter", "2", "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    capsys.readouterr()
    d = json.loads((out / "deblur.json").read_text())
    assert d["border"] == DEFAULT_BORDER and d["noise_sigma"] == 2.55
    assert [m["name"] for m in d["methods"]] == ["blurred input", "Wiener", "PnP wb + ne"]
    assert all(len(r["per_image"]) == 2 for r in d["results"])
    (pnp,) = [r for r in d["results"] if r["method"] == "PnP wb + ne"]
    assert all(1 <= p["iterations"] <= 2 for p in pnp["per_image"])
    assert 1 <= d["pnp_mean_iterations"] <= 2
    (wien,) = [r for r in d["results"] if r["method"] == "Wiener"]
    assert all(p["nsr"] > 0 for p in wien["per_image"])
    # the documented nsr, on the documented degradation of image 0
    x = load_images(assets["data"])[0][1]
    y = add_seeded_noise(blur(x, load_kernel(assets["k"])), 2.55, 0)
    assert wien["per_image"][0]["nsr"] == pytest.approx(wiener_nsr(y, 2.55 / 255))
    md = (out / "deblur.md").read_text()
    assert "iterations" in md and "12 px" in md
    assert (out / "deblur.png").exists() == HAVE_MPL
