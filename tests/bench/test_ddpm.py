"""``innverse benchmark ddpm``: the JSON record, the floor row, seeded reproducibility and bad input
(a tiny random UNet prior, a tiny random classifier and a synthetic Fashion-MNIST folder)."""

from __future__ import annotations

import gzip
import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import innverse.bench.ddpm as bd
from innverse.cli import main as cli
from innverse.diffusion.prior import DiffusionPrior
from innverse.diffusion.schedules import NoiseSchedule
from innverse.diffusion.unet import UNet
from innverse.errors import UserError
from innverse.models.classifier import ResNetClassifier


def _write_idx(folder: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    n, h, w = images.shape
    img = struct.pack(">iiii", 2051, n, h, w) + images.astype(np.uint8).tobytes()
    lab = struct.pack(">ii", 2049, len(labels)) + labels.astype(np.uint8).tobytes()
    (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(img))
    (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(lab))


def _prior(size: int = 32, T: int = 20, seed: int = 0) -> DiffusionPrior:
    torch.manual_seed(seed)
    unet = UNet(1, width=8, mults=(1, 2), blocks=1, groups=4, sample_size=size)
    with torch.no_grad():  # the zero-initialised convolutions would make every step the same
        for p in unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return DiffusionPrior(unet, NoiseSchedule("linear", T), sample_size=size, channels=1)


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict[str, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ddpm_bench")
    data = root / "fmnist"
    data.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("test", 12)):
        imgs = np.zeros((n, 28, 28), np.uint8)
        imgs[:, 4:24, 6:22] = rng.integers(60, 256, (n, 20, 16))
        _write_idx(data, split, imgs, rng.integers(0, 10, n))
    _prior().save(root / "prior")
    _prior(size=16).save(root / "prior16")
    torch.manual_seed(0)
    ResNetClassifier(width=4, blocks=(1, 1, 1)).save(root / "clf")
    names = ("prior", "prior16", "clf")
    return {"root": root, "data": data, **{k: root / k for k in names}}


def _args(a: dict, out: Path, *extra: str) -> list[str]:
    return [
        "benchmark", "ddpm", "--prior", str(a["prior"]), "--classifier", str(a["clf"]),
        "--data", str(a["data"]), "--out", str(out), "-n", "8", "--samplers", "ddim-3,ddpm-4",
        "--batch", "5", "--grid", "4", *extra,
    ]  # fmt: skip


def test_run_writes_the_table_the_floor_and_the_grids(assets, tmp_path, capsys):
    out = tmp_path / "r"
    assert cli(_args(assets, out, "--samples-ddpm", "6")) == 0
    data = json.loads((out / "ddpm.json").read_text())
    assert data["benchmark"] == "ddpm" and data["fid_label"] == "FID (local features)"
    assert data["samples"] == 8 and data["samples_ddpm"] == 6 and data["fid_min_samples"] == 6
    assert data["test_images"].endswith("images 0..7") and len(set(data["train_indices"])) == 8
    assert all(0 <= i < 30 for i in data["train_indices"])
    assert data["environment"]["threads"] == 1 and "git" in data["environment"]
    assert 0.0 <= data["classifier"]["test_accuracy"] <= 1.0 and data["classifier"]["feature_dim"] == 16
    rows = {r["name"]: r for r in data["results"]}
    assert list(rows) == ["DDIM-3", "DDPM-4", "training images", "test images"]
    ddim, ddpm, floor, ref = rows.values()
    assert (ddim["steps"], ddim["samples"], ddim["eta"]) == (3, 8, 0.0)
    assert (ddpm["steps"], ddpm["samples"], ddpm["batches"]) == (4, 6, 2)
    assert floor["kind"] == "floor" and floor["samples"] == 8 and ref["fid_local"] is None
    for r in (ddim, ddpm, floor):
        assert math.isfinite(r["fid_local"]) and r["fid_local"] >= 0
        assert math.isfinite(r["fid_local_at_min"]) and r["fid_local_at_min"] >= 0
    for r in rows.values():
        assert sum(r["class_counts"]) == r["samples"] and len(r["class_counts"]) == 10
        assert 0.1 <= r["mean_top_class_probability"] <= 1.0
        assert 0.0 <= r["class_entropy_bits"] <= math.log2(10) + 1e-9
        assert len(r["per_sample"]["top_class"]) == r["samples"]
    for r in (ddim, ddpm):
        assert r["seconds_per_sample"] > 0
        assert r["meets_criterion"] == (r["mean_top_class_probability"] >= 0.8)
    md = (out / "ddpm.md").read_text()
    assert "FID (local features)" in md and "never comparable with published FIDs" in md
    assert "training images (floor)" in md and "FID (local features) @ 6" in md
    for f in ("ddpm_ddim-3.png", "ddpm_ddpm-4.png", "ddpm_test-images.png"):
        assert (out / f).is_file() and f in data["figures"]
    assert "| DDIM-3" in capsys.readouterr().out


def test_seeds_reproduce_and_samples_do_not_depend_on_the_batch(assets, tmp_path):
    prior = bd.load_benchmark_prior(str(assets["prior"]))
    for spec in bd.parse_samplers("ddim-3,ddpm-4"):
        a = bd.draw_samples(prior, spec, 0, 5, seed=1)
        assert torch.equal(a, bd.draw_samples(prior, spec, 0, 5, seed=1))
        parts = torch.cat([bd.draw_samples(prior, spec, k, c, seed=1) for k, c in ((0, 2), (2, 3))])
        torch.testing.assert_close(parts, a, rtol=0, atol=1e-5)
        assert not torch.allclose(a, bd.draw_samples(prior, spec, 0, 5, seed=2))
        assert a.shape == (5, 1, 32, 32) and a.min() >= 0 and a.max() <= 1
    net = bd.load_benchmark_classifier(str(assets["clf"]))
    runs = [
        bd.benchmark_ddpm(prior, net, tmp_path / str(s), bd.parse_samplers("ddim-2"), 6, seed=s, batch=4,
                          data_root=assets["data"], grid=0)
        for s in (3, 3)
    ]  # fmt: skip
    key = [[(r["fid_local"], r["per_sample"]) for r in d["results"]] for d in runs]
    assert key[0] == key[1] and runs[0]["train_indices"] == runs[1]["train_indices"]
    assert bd.fmnist_reference(6, 6, 4, assets["data"])[3] != runs[0]["train_indices"]


def test_parse_samplers():
    specs = bd.parse_samplers(" DDPM-1000 ,ddim-20")
    assert [s.name for s in specs] == ["DDPM-1000", "DDIM-20"] and specs[1].key == "ddim-20"
    assert [s.key for s in bd.parse_samplers(bd.DEFAULT_SAMPLERS)] == list(bd.DEFAULT_SAMPLERS)
    for bad in ("ddim", "ddim-0", "euler-10", "ddim-10,,ddim-5", "ddim-5,ddim-5", ""):
        with pytest.raises(UserError):
            bd.parse_samplers(bad)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--samplers", "ddim-3,heun-10"], "unknown sampler 'heun-10'"),
        (["--samplers", "ddim-30"], "has only 20 diffusion steps"),
        (["--prior", "PRIOR16"], "1-channel 32x32"),
        (["--classifier", "NOWHERE"], "not found"),
        (["--classifier", "PRIOR"], "classifier"),
        (["--classifier", "no-such-classifier"], "unknown pretrained model"),
        (["--prior", "no-such-prior"], "unknown diffusion prior"),
        (["-n", "1"], ">= 2"),
        (["-n", "13"], "holds only 12 images"),
        (["--samples-ddpm", "9"], "must not exceed"),
        (["--batch", "0"], "--batch must be >= 1"),
        (["--data", "NOWHERE"], "Fashion-MNIST folder not found"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(assets, tmp_path, capsys, extra, message):
    subst = {"PRIOR16": str(assets["prior16"]), "PRIOR": str(assets["prior"]), "NOWHERE": str(tmp_path / "x")}
    out = tmp_path / "r"
    assert cli(_args(assets, out, *[subst.get(e, e) for e in extra])) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and message in err, err
    assert err.startswith("innverse benchmark ddpm: error:") or err.startswith("innverse benchmark: error:")
    assert not (out / "ddpm.json").exists() and not (out / "ddpm.md").exists()


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as e:
        cli(["benchmark", "ddpm", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for o in ("--prior", "--classifier", "--samples-ddpm", "--samplers", "--seed", "--batch", "--out"):
        assert o in out
