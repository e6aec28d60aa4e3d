"""Tests of ``innverse sample ddpm`` and :func:`innverse.diffusion.images.sample_images`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from innverse.cli import main
from innverse.diffusion.images import image_grid, sample_images
from innverse.diffusion.prior import DiffusionPrior
from innverse.diffusion.schedules import NoiseSchedule
from innverse.diffusion.unet import UNet
from innverse.errors import UserError


@pytest.fixture
def prior_dir(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    unet = UNet(1, width=8, mults=(1, 2), blocks=1, groups=4, sample_size=8)
    DiffusionPrior(unet, NoiseSchedule("linear", 50), sample_size=8).save(tmp_path / "prior", card={"n": 1})
    return tmp_path / "prior"


def test_cli_writes_grid_and_samples(prior_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["sample", "ddpm", "--model", str(prior_dir), "-n", "3", "--steps", "4", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0001.png", "0002.png", "grid.png"]
    one = np.asarray(Image.open(out / "0001.png"))
    assert one.shape == (8, 8) and one.dtype == np.uint8
    assert np.asarray(Image.open(out / "grid.png")).shape == (2 + 2 * 10, 2 + 2 * 10)
    ref = sample_images(str(prior_dir), 3, 4, seed=0)
    np.testing.assert_array_equal(one, np.rint(ref[1, 0].numpy() * 255).astype(np.uint8))
    assert "3 samples" in capsys.readouterr().out
    # existing files need --force; nothing is written before the check
    before = (out / "0000.png").stat().st_mtime_ns
    assert main(["sample", "ddpm", "--model", str(prior_dir), "-n", "3", "--steps", "4", "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "0000.png").stat().st_mtime_ns == before
    args = ["sample", "ddpm", "--model", str(prior_dir), "-n", "3", "--steps", "4", "-o", str(out), "--force"]
    assert main([*args, "--sampler", "ddpm", "--seed", "1"]) == 0
    assert not np.array_equal(np.asarray(Image.open(out / "0001.png")), one)


def test_cli_png_output_is_the_grid_alone(prior_dir: Path, tmp_path: Path, capsys) -> None:
    base = ["sample", "ddpm", "--model", str(prior_dir), "-n", "3", "--steps", "4"]
    assert main([*base, "-o", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["g.png", "prior"]
    assert np.asarray(Image.open(tmp_path / "g.png")).shape == (2 + 2 * 10, 2 + 2 * 10)
    capsys.readouterr()
    for out, extra, msg in (
        ("g.jpg", [], "written as PNG"),
        ("h.png", ["--no-grid"], "--no-grid"),
        ("g.png", [], "--force"),
    ):
        assert main([*base, "-o", str(tmp_path / out), *extra]) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "h.png").exists() and not (tmp_path / "g.jpg").exists()


@pytest.mark.parametrize(
    "extra, msg",
    [
        (["-n", "0"], "-n"),
        (["--steps", "0"], "--steps"),
        (["--steps", "51"], "only 50"),
        (["--eta", "-1"], "--eta"),
        (["--sampler", "ddpm", "--eta", "0.5"], "DDIM"),
        (["--model", "no-such-prior"], "unknown diffusion prior"),
    ],
)
def test_cli_errors(prior_dir: Path, tmp_path: Path, capsys, extra, msg) -> None:
    argv = ["sample", "ddpm", "--model", str(prior_dir), "-o", str(tmp_path / "o"), "-n", "2", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_sample_images_and_grid(prior_dir: Path) -> None:
    a = sample_images(str(prior_dir), 4, 3, seed=2, batch_size=2)
    assert a.shape == (4, 1, 8, 8) and a.dtype == torch.float32
    assert torch.equal(a, sample_images(str(prior_dir), 4, 3, seed=2, batch_size=2))
    g = image_grid(a, nrow=4, pad=1)
    assert g.shape == (1 + 8 + 1, 1 + 4 * 9)
    np.testing.assert_array_equal(g[1:9, 10:18], a[1, 0].numpy())
    with pytest.raises(UserError):
        sample_images(str(prior_dir), 2, 0)
