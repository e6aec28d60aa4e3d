"""``innverse benchmark superres``: the protocol, the tables, the refusals, tuning and FID (local)."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

import innverse.bench.superres as bs
from innverse.models.classifier import ResNetClassifier
from innverse.models.indigo_inn import INDigoINN
from innverse.sampling.gaussian import gaussian_prior


def _fake_fmnist(split, n, seed, root=None, offset=0):
    g = torch.Generator().manual_seed(seed + (1 if split == "train" else 0))
    x = torch.zeros(n, 1, 32, 32)
    x[:, :, 6:26, 8:24] = 0.3 + 0.6 * torch.rand(n, 1, 20, 16, generator=g)
    return x, list(range(offset, offset + n))


@pytest.fixture
def prior():
    var = torch.full((1024,), 0.2, dtype=torch.float64)
    p = gaussian_prior(torch.full((1024,), -0.6, dtype=torch.float64), var, (1, 32, 32), clip_sample=1.0)
    return p.float()


def test_observations_follow_the_protocol():
    from innverse.physics import Downsampling

    op = Downsampling(4)
    x = torch.rand(3, 1, 32, 32)
    y = bs.observe(op, x, 0.1)
    z1 = torch.randn((1, 8, 8), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(y[1], op.A(x)[1] + 0.1 * z1)
    assert torch.equal(bs.observe(op, x, 0.0), op.A(x))


def test_a_small_run_scores_every_method(tmp_path, monkeypatch, prior):
    monkeypatch.setattr(bs, "load_fmnist", _fake_fmnist)
    data = bs.run_superres_benchmark(
        prior, "gaussian", "haar", tmp_path, sigmas=(0.05,), images=3, steps=2, figure_images=0
    )
    methods = [r["method"] for r in data["results"]]
    assert methods == ["indigo", "dps", "ddrm", "ilvr", "bicubic", "inn", "ground truth"]
    assert data["fid"]["available"] is False and "FID (local)" in (tmp_path / "superres.md").read_text()


@pytest.mark.slow
def test_benchmark_tables_refusals_tuning_and_fid(tmp_path, monkeypatch, prior):
    monkeypatch.setattr(bs, "load_fmnist", _fake_fmnist)
    net = ResNetClassifier(width=8, blocks=(1, 1, 1))
    grid = {"indigo": [(0.5, "normalized"), (1.0, "normalized")], "dps": [(1.0, "normalized")]}
    monkeypatch.setattr(bs, "ZETA_GRID", grid)
    logs: list[str] = []
    data = bs.run_superres_benchmark(
        prior,
        "gaussian",
        INDigoINN(1, 4, steps=1, hidden=4, blocks=0),
        tmp_path / "r",
        sigmas=(0.0, 0.05),
        images=4,
        steps=2,
        batch=3,
        feature_net=net,
        feature_note="FID (local) on a test net",
        nonlinear_inn=INDigoINN(1, 4, steps=1, hidden=4, blocks=0),
        tune=2,
        figure_images=2,
        log=logs.append,
    )
    md = (tmp_path / "r" / "superres.md").read_text()
    back = json.loads((tmp_path / "r" / "superres.json").read_text())
    assert back["images"] == 4 and back["degradations"] == ["average", "nonlinear"]
    assert "## 4x4 block averaging" in md and "## non-linear" in md and "### sigma_y = 0.05" in md
    assert "LPIPS" in md and "not available offline" in md
    res = data["results"]
    by = {(r["degradation"], r["method"], r["sigma"]): r for r in res}
    for m in ("indigo", "dps", "ddrm", "ilvr", "bicubic", "inn"):
        r = by[("average", m, 0.0)]
        assert len(r["per_image"]["psnr"]) == 4 and "fid_local" in r and r["fid_local"] >= 0
    assert "refused" in by[("nonlinear", "ddrm", 0.0)] and "refused" in by[("nonlinear", "ilvr", 0.05)]
    assert "refused:" in md
    assert by[("average", "indigo", 0.0)]["network_evaluations"] == 2
    assert by[("average", "inn", 0.0)]["consistency"] < 1e-6  # the INN alone is exactly consistent
    truth = by[("average", "ground truth", 0.05)]
    assert 0.02 < truth["consistency"] < 0.08
    chosen = {
        (c["degradation"], c["method"], c["sigma"]): (c["zeta"], c["schedule"])
        for c in data["tuning"]["chosen"]
    }
    assert set(chosen) == {
        (d, m, s) for d in ("average", "nonlinear") for m in ("indigo", "dps") for s in (0.0, 0.05)
    }
    used = by[("average", "indigo", 0.05)]["settings"]
    assert (used["zeta"], used["zeta_schedule"]) == chosen[("average", "indigo", 0.05)]
    assert len(data["tuning"]["grid"]) == 2 * 2 * (2 + 1)
    pytest.importorskip("matplotlib")
    assert (tmp_path / "r" / "superres_average_s0.05.png").is_file()
    assert (tmp_path / "r" / "superres_nonlinear_s0.png").is_file()


def test_options_and_one_line_errors(tmp_path, monkeypatch, prior):
    from innverse.errors import UserError

    p = bs.add_superres_arguments(argparse.ArgumentParser())
    a = p.parse_args(["--out", str(tmp_path), "--noise", "0,25"])
    with pytest.raises(UserError, match="0-255 scale"):
        bs.run_superres_from_args(a)
    a = p.parse_args(["--out", str(tmp_path), "--zeta", "ddrm=1"])
    with pytest.raises(UserError, match="METHOD=ZETA"):
        bs.run_superres_from_args(a)
    assert bs._zetas("indigo=0.5:constant,dps=2") == {"indigo": (0.5, "constant"), "dps": (2.0, "normalized")}
    net, note = bs.load_feature_net("no-such-classifier")
    assert net is None and "not available" in note
    net, note = bs.load_feature_net("none")
    assert net is None


def test_feature_net_from_a_training_folder(tmp_path):
    ResNetClassifier(width=8, blocks=(1, 1, 1)).save(tmp_path / "run" / "model")
    net, note = bs.load_feature_net(str(tmp_path / "run"))
    assert isinstance(net, ResNetClassifier) and "penultimate" in note


@pytest.mark.data
@pytest.mark.slow
def test_on_fashion_mnist_with_the_gaussian_prior(tmp_path):
    from conftest import require_data

    require_data("fashion-mnist")
    p = bs.add_superres_arguments(argparse.ArgumentParser())
    a = p.parse_args(
        [
            "--out",
            str(tmp_path),
            "--prior",
            "gaussian",
            "--images",
            "3",
            "--steps",
            "2",
            "--nonlinear-inn",
            "none",
            "--classifier",
            "none",
            "--methods",
            "indigo,ddrm,bicubic",
        ]
    )
    assert bs.run_superres_from_args(a, log=lambda s: None) == 0
    data = json.loads((tmp_path / "superres.json").read_text())
    assert len(data["test_indices"]) == 3 and data["prior"]["source"] == "gaussian"


def test_runs_per_noise_level_merge_into_one_report(tmp_path, monkeypatch, prior, capsys):
    from innverse.cli import main

    monkeypatch.setattr(bs, "load_fmnist", _fake_fmnist)
    for s in (0.0, 0.1):
        bs.run_superres_benchmark(
            prior, "gaussian", "haar", tmp_path / f"s{s:g}", methods=("ddrm", "bicubic"), sigmas=(s,),
            images=2, steps=2, figure_images=1,
        )  # fmt: skip
    files = [str(tmp_path / f"s{s:g}" / "superres.json") for s in (0.1, 0.0)]
    assert main(["benchmark", "superres", "--merge", *files, "--out", str(tmp_path / "all")]) == 0
    data = json.loads((tmp_path / "all" / "superres.json").read_text())
    assert data["sigmas"] == [0.0, 0.1] and len(data["merged_from"]) == 2
    cells = [(r["sigma"], r["method"]) for r in data["results"]]
    assert cells == [(s, m) for s in (0.0, 0.1) for m in ("ddrm", "bicubic", "ground truth")]
    md = (tmp_path / "all" / "superres.md").read_text()
    assert "sigma_y = 0.1" in md and "Merged from 2 runs" in md
    assert (tmp_path / "all" / "superres_average_s0.1.png").is_file()
    # a run measured twice, or unlike runs, do not merge
    capsys.readouterr()
    assert main(["benchmark", "superres", "--merge", files[0], files[0], "--out", str(tmp_path / "x")]) == 2
    assert "measured in two" in capsys.readouterr().err
    # unless --supersede: the later file's rows replace the earlier ones, and the report says so
    args = [
        "benchmark",
        "superres",
        "--merge",
        files[1],
        files[1],
        "--supersede",
        "--out",
        str(tmp_path / "z"),
    ]
    assert main(args) == 0
    again = json.loads((tmp_path / "z" / "superres.json").read_text())
    assert [(r["sigma"], r["method"]) for r in again["results"]] == [
        (0.0, m) for m in ("ddrm", "bicubic", "ground truth")
    ]
    assert len(again["superseded"]) == 2 and "Rerun: ddrm" in (tmp_path / "z" / "superres.md").read_text()
    assert sorted(p.name for p in (tmp_path / "z").glob("*.png")) == ["superres_average_s0.png"]
    # two runs of one table with other methods: both figures are kept, the later one by its run folder
    bs.run_superres_benchmark(
        prior, "gaussian", "haar", tmp_path / "ilvr", methods=("ilvr",), sigmas=(0.0,),
        images=2, steps=2, figure_images=1,
    )  # fmt: skip
    both = ["benchmark", "superres", "--merge", files[1], str(tmp_path / "ilvr" / "superres.json")]
    assert main([*both, "--out", str(tmp_path / "w")]) == 0
    pngs = sorted(p.name for p in (tmp_path / "w").glob("*.png"))
    assert pngs == ["ilvr-superres_average_s0.png", "superres_average_s0.png"]
    assert "ilvr-superres_average_s0.png" in (tmp_path / "w" / "superres.md").read_text()
    # a cell no run measured says so (it is not a refusal)
    mixed = ["benchmark", "superres", "--merge", files[0], str(tmp_path / "ilvr" / "superres.json")]
    assert main([*mixed, "--out", str(tmp_path / "v")]) == 0
    summary = (tmp_path / "v" / "superres.md").read_text().split("### sigma_y")[0]
    assert "not measured" in summary and "refused" not in summary
    other = json.loads(open(files[1]).read())
    other["steps"] = 3
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert main(["benchmark", "superres", "--merge", files[0], str(tmp_path / "other.json"), "--out",
                 str(tmp_path / "y")]) == 2  # fmt: skip
    assert "'steps'" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_the_nonlinear_table_alone(tmp_path, monkeypatch, prior):
    monkeypatch.setattr(bs, "load_fmnist", _fake_fmnist)
    inn = INDigoINN(channels=1, scale=4).eval()
    data = bs.run_superres_benchmark(
        prior, "gaussian", "haar", tmp_path, methods=("ddrm", "bicubic", "inn"), sigmas=(0.0,), images=2,
        steps=2, figure_images=0, nonlinear_inn=inn, skip_average=True,
    )  # fmt: skip
    assert data["degradations"] == ["nonlinear"]
    assert {r["degradation"] for r in data["results"]} == {"nonlinear"}
    assert "refused" in next(r for r in data["results"] if r["method"] == "ddrm")
    with pytest.raises(bs.UserError, match="non-linear INN"):
        bs.run_superres_benchmark(prior, "gaussian", "haar", tmp_path, images=2, skip_average=True)


@pytest.mark.parametrize("peak, warned", [(0.5, False), (2.0, True), (0.25, True)])
def test_tuning_picks_the_best_step_and_warns_at_the_grid_edge(monkeypatch, peak: float, warned: bool):
    def fake_evaluate(methods, degradation, images, sigmas, prior, inn, steps, sampler, eta, zeta, *rest):
        ((m, s), (z, _)) = next(iter(zeta.items()))
        return [{"method": m, "psnr": 20.0 - abs(z - peak), "ssim": 0.5, "consistency": 0.0}], None

    monkeypatch.setattr(bs, "_evaluate", fake_evaluate)
    grid = {"indigo": [(z, "normalized") for z in (0.25, 0.5, 1.0, 2.0)]}
    logs: list[str] = []
    best, rows = bs.tune_guidance(
        None, None, torch.zeros(1), sigmas=(0.0,), methods=("indigo",), grid=grid, log=logs.append
    )
    assert best[("indigo", 0.0)] == (peak, "normalized") and len(rows) == 4
    assert any("at the edge of the grid" in ln for ln in logs) is warned


def test_the_ddim_eta_leaves_ddrm_at_the_protocols_eta(prior):

    inn = INDigoINN(1, 4, steps=1, hidden=4, blocks=0)
    ddrm = bs._resolver("ddrm", "average", prior, inn, 2, 0.0, "ddim", 0.0, {}, torch.device("cpu"))
    ilvr = bs._resolver("ilvr", "average", prior, inn, 2, 0.0, "ddim", 0.0, {}, torch.device("cpu"))
    assert ddrm.guided.eta == 0.85 and ilvr.describe()["eta"] == 0.0
