"""``innverse attack``: adversarial files within the budget, the before/after lines, the bundled examples
with the shipped classifier, and one-line refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import innverse.cli
from innverse.models.classifier import ConvNetClassifier
from innverse.models.registry import weights_dir
from innverse.nn.testing import randomise_

from ._helpers import assert_clean_failure, cli, files, put


@pytest.fixture(autouse=True)
def commands(monkeypatch):
    """Make sure ``attack`` is listed, whether or not cli.py names it yet."""
    names = list(innverse.cli.COMMANDS)
    if "attack" not in names:
        names.append("attack")
    monkeypatch.setattr(innverse.cli, "COMMANDS", names)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    net = randomise_(ConvNetClassifier(width=4, hidden=8), std=0.3, seed=1)
    return net.save(tmp_path / "clf")


def _gray(seed=0, h=28, w=28) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.zeros((h, w), np.float32)
    a[6:22, 8:20] = rng.integers(60, 220, (16, 12)) / 255
    return a


def test_one_file_within_the_budget(tmp_path: Path, capsys, model: Path):
    from innverse.attacks import Goal, quantize
    from innverse.attacks.inputs import load_classifier
    from innverse.attacks.methods import run_attack
    from innverse.data.io import read_image

    src = put(tmp_path / "img.png", _gray())
    dst = tmp_path / "adv.png"
    code, out, err = cli(
        capsys, "attack", src, "-o", dst, "--method", "pgd", "--classifier", model, "--compare"
    )
    assert code == 0, err
    assert f"{src} -> {dst}" in out and " % -> " in out and "eps 8/255" in out and "10 steps" in out
    assert ("fooled" in out) and files(tmp_path).count("adv_compare.png") == 1
    a, info = read_image(dst)
    x, _ = read_image(src)
    assert info.bit_depth == 8 and a.shape == (28, 28)
    assert np.abs(a - x).max() <= 8 / 255 + 1e-6
    # the file holds what the library makes (untargeted: away from the predicted class)
    net = load_classifier(str(model))
    xt = torch.from_numpy(x)[None, None]
    y = net(xt).argmax(1)
    ref = quantize(run_attack("pgd", net, xt, Goal(y), 8 / 255).adversarial)
    assert np.abs(ref[0, 0].numpy() - a).max() < 1e-6
    # an existing output needs --force
    code, out, err = cli(capsys, "attack", src, "-o", dst, "--method", "pgd", "--classifier", model)
    assert_clean_failure(code, err, "output exists")


def test_folder_targeted_and_summary(tmp_path: Path, capsys, model: Path):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(2):
        put(d / f"im{i}.png", _gray(seed=i))
    code, out, err = cli(
        capsys,
        "attack",
        d,
        "-o",
        tmp_path / "out",
        "--method",
        "fgsm",
        "--target",
        "sneaker",
        "--eps",
        "16",
        "--classifier",
        model,
    )
    assert code == 0, err
    assert out.count("aiming for Sneaker") == 2 and "eps 16/255" in out and "of 2 images" in out
    assert files(tmp_path / "out") == ["im0.png", "im1.png"]


def test_advinn_cgt_from_the_shell(tmp_path: Path, capsys, model: Path):
    src = put(tmp_path / "img.png", _gray())
    code, out, err = cli(
        capsys, "attack", src, "-o", tmp_path / "adv.png", "--classifier", model, "--steps", "20"
    )
    assert code == 0, err
    assert "advinn-cgt" in out and " steps)" in out


def test_bundled_examples_with_the_shipped_classifier(tmp_path: Path, capsys, monkeypatch):
    if not (weights_dir() / "fmnist-classifier.safetensors").is_file():
        pytest.skip("fmnist-classifier is not shipped")
    out_dir = tmp_path / "out"
    code, out, err = cli(capsys, "attack", "--sample", "-o", out_dir, "--method", "fgsm", "--compare")
    assert code == 0, err
    assert "sample test-0000-ankle-boot.png" in out and "Ankle boot" in out and "of 4 images" in out
    assert len(files(out_dir)) == 8
    # a rerun replaces its own earlier files without --force; the INPUT 'sample' means --sample
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "attack", "sample", "-o", out_dir, "--method", "fgsm")
    assert code == 0, err
    assert "sample test-0000-ankle-boot.png" in out and "of 4 images" in out


def test_refusals(tmp_path: Path, capsys, model: Path, monkeypatch):
    src = put(tmp_path / "img.png", _gray())
    colour = put(tmp_path / "c.png", np.stack([_gray(), _gray(1), _gray(2)], axis=2))
    big = put(tmp_path / "big.png", _gray(h=32, w=32))
    from innverse.models.nenet import NENet

    not_clf = NENet(hidden=4, layers=1).save(tmp_path / "nenet")
    o = tmp_path / "o.png"
    cases = [
        (["--eps", "0"], "--eps"),
        (["--eps", "8.5"], "whole number"),
        (["--eps", "300"], "--eps"),
        (["--target", "car"], "unknown class"),
        (["--method", "deepfool"], "unknown attack method"),
        (["--method", "fgsm", "--steps", "3"], "does not apply to fgsm"),
        (["--steps", "0"], "at least 1"),
        (["--method", "pgd-5"], "--steps"),
    ]
    for extra, needle in cases:
        code, _, err = cli(capsys, "attack", src, "-o", o, "--classifier", model, *extra)
        assert_clean_failure(code, err, needle)
    for argv, needle in [
        ([src, "-o", tmp_path / "o.jpg"], "JPEG"),
        ([colour, "-o", o], "colour"),
        ([big, "-o", o], "28x28"),
        ([src], "-o/--output"),
        ([], "no IMAGE"),
        (["--sample", src, "-o", tmp_path / "s"], "--sample takes no IMAGE"),
        ([src, "-o", o, "--classifier", not_clf], "not an image classifier"),
        ([tmp_path / "missing.png", "-o", o], "missing.png"),
    ]:
        args = [*argv] if "--classifier" in map(str, argv) or not argv else [*argv, "--classifier", model]
        code, _, err = cli(capsys, "attack", *args, "--method", "fgsm")
        assert_clean_failure(code, err, needle)
    assert not o.exists()
    # HCT/UAP guides for an unshipped classifier need the data: a clear line when it is absent
    monkeypatch.setenv("INNVERSE_DATA", str(tmp_path / "nodata"))
    code, _, err = cli(capsys, "attack", src, "-o", o, "--classifier", model, "--method", "advinn-hct")
    assert_clean_failure(code, err, "guides", "not shipped")
