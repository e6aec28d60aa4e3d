"""``innverse hide`` / ``innverse reveal``: files written and read back, and one-line refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import innverse.cli
from innverse.models.hinet import HiNet
from innverse.nn.testing import randomise_

from ._helpers import assert_clean_failure, cli, files, noisy, put


@pytest.fixture(autouse=True)
def commands(monkeypatch):
    """Make sure ``hide`` and ``reveal`` are listed, whether or not cli.py names them yet."""
    names = list(innverse.cli.COMMANDS)
    for n in ("hide", "reveal"):
        if n not in names:
            names.append(n)
    monkeypatch.setattr(innverse.cli, "COMMANDS", names)


def _model(tmp_path: Path, n: int) -> Path:
    torch.manual_seed(n)
    net = randomise_(HiNet(secrets=n, blocks=1, hidden=4), std=0.02)
    return net.save(tmp_path / f"net{n}")


def _rgb(h=32, w=32, seed=0) -> np.ndarray:
    return noisy(h, w, c=3, seed=seed)


@pytest.mark.parametrize("n", [1, 4])
def test_hide_then_reveal(tmp_path: Path, capsys, n: int):
    model = _model(tmp_path, n)
    cover = put(tmp_path / "cover.png", _rgb())
    secrets = [put(tmp_path / f"s{i}.png", _rgb(seed=i + 1)) for i in range(n)]
    stego = tmp_path / "stego.png"
    code, out, err = cli(capsys, "hide", cover, *secrets, "-o", stego, "--model", model)
    assert code == 0, err
    assert "stego vs cover PSNR" in out and "revealed from the file with seed 0" in out
    from innverse.data.io import read_image

    a, info = read_image(stego)
    assert info.format == "PNG" and info.bit_depth == 8 and a.shape == (32, 32, 3)
    # the file holds exactly what the library makes
    from innverse.apps.hiding import hide

    ref = hide(read_image(cover)[0], [read_image(s)[0] for s in secrets], model=model)
    assert np.abs(ref - a).max() < 1e-6
    outdir = tmp_path / "rev"
    code, out, err = cli(capsys, "reveal", stego, "-o", outdir, "--model", model, "--cover")
    assert code == 0, err
    names = ["secret.png"] if n == 1 else [f"secret-{i}.png" for i in range(1, n + 1)]
    assert files(outdir) == sorted([*names, "cover.png"])
    # same seed, same result; an existing output needs --force
    code, _, err = cli(capsys, "reveal", stego, "-o", outdir, "--model", model)
    assert_clean_failure(code, err, "output exists")
    before = (outdir / names[0]).read_bytes()
    code, _, err = cli(capsys, "reveal", stego, "-o", outdir, "--model", model, "--force")
    assert code == 0 and (outdir / names[0]).read_bytes() == before


def test_hide_refusals(tmp_path: Path, capsys):
    m1, m4 = _model(tmp_path, 1), _model(tmp_path, 4)
    cover = put(tmp_path / "cover.png", _rgb())
    small = put(tmp_path / "small.png", _rgb(16, 32))
    s = put(tmp_path / "s.png", _rgb(seed=3))
    cases = [
        (["hide", cover, small, "-o", tmp_path / "o.png", "--model", m1], "same size"),
        (["hide", cover, s, s, "-o", tmp_path / "o.png", "--model", m1], "hides 1 secret image; got 2"),
        (["hide", cover, s, "-o", tmp_path / "o.png", "--model", m4], "hides 4 secret images; got 1"),
        (["hide", cover, s, s, "-o", tmp_path / "o.png"], "hide 1 (hinet) or 4 (hinet-4)"),
        (["hide", cover, s, "-o", tmp_path / "o.jpg", "--model", m1], "must be a .png"),
        (["hide", cover, "-o", tmp_path / "o.png", "--model", m1], "at least one SECRET"),
        (["hide", cover, s, "--model", m1], "-o/--output"),
        (["hide", cover, s, "-o", cover, "--model", m1], "replace an input"),
        (["hide", cover, tmp_path / "missing.png", "-o", tmp_path / "o.png", "--model", m1], "no such file"),
        (["hide", cover, s, "-o", tmp_path / "o.png", "--model", tmp_path / "no"], "unknown hiding model"),
    ]
    for argv, needle in cases:
        code, _, err = cli(capsys, *argv)
        assert_clean_failure(code, err, needle)
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.jpg").exists()


def test_odd_sizes_are_cut_to_even(tmp_path: Path, capsys):
    m1 = _model(tmp_path, 1)
    cover = put(tmp_path / "cover.png", _rgb(33, 31))
    s = put(tmp_path / "s.png", _rgb(33, 31, seed=5))
    code, _, err = cli(capsys, "hide", cover, s, "-o", tmp_path / "o.png", "--model", m1)
    assert code == 0, err
    assert "31×33 is odd" in err and "working at 30×32" in err
    from innverse.data.io import read_image

    assert read_image(tmp_path / "o.png")[0].shape == (32, 30, 3)


def test_reveal_refusals(tmp_path: Path, capsys):
    from PIL import Image

    m1 = _model(tmp_path, 1)
    rgb = (_rgb() * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "stego.jpg", quality=95)
    Image.fromarray(rgb).save(tmp_path / "jpeg_named.png", format="JPEG")
    put(tmp_path / "gray.png", noisy(32, 32))
    put(tmp_path / "odd.png", _rgb(31, 32))
    good = put(tmp_path / "good.png", _rgb())
    (tmp_path / "afile").write_text("x")
    cases = [
        (["reveal", tmp_path / "stego.jpg", "-o", tmp_path / "r", "--model", m1], "is a JPEG"),
        (["reveal", tmp_path / "jpeg_named.png", "-o", tmp_path / "r", "--model", m1], "is a JPEG"),
        (["reveal", tmp_path / "gray.png", "-o", tmp_path / "r", "--model", m1], "gray"),
        (["reveal", tmp_path / "odd.png", "-o", tmp_path / "r", "--model", m1], "even sizes"),
        (["reveal", good, "--model", m1], "-o/--output"),
        (["reveal", good, "-o", tmp_path / "afile", "--model", m1], "not a folder"),
        (["reveal", good, "-o", tmp_path / "x.png", "--model", m1], "is a folder"),
    ]
    for argv, needle in cases:
        code, _, err = cli(capsys, *argv)
        assert_clean_failure(code, err, needle)
    assert not (tmp_path / "r").exists()


def test_sample_with_the_shipped_model(tmp_path: Path, capsys):
    from innverse.models.registry import weights_dir

    if not (weights_dir() / "hinet.safetensors").is_file():
        pytest.skip("hinet weights not shipped")
    code, out, err = cli(capsys, "hide", "--sample", "-o", tmp_path / "ex")
    assert code == 0, err
    assert files(tmp_path / "ex") == ["cover.png", "secret.png", "stego.png"]
    code, out, err = cli(capsys, "reveal", tmp_path / "ex" / "stego.png", "-o", tmp_path / "ex" / "rev")
    assert code == 0, err
    from innverse.data.io import read_image
    from innverse.metrics import psnr

    a, _ = read_image(tmp_path / "ex" / "secret.png")
    b, _ = read_image(tmp_path / "ex" / "rev" / "secret.png")
    assert float(psnr(torch.from_numpy(b).permute(2, 0, 1), torch.from_numpy(a).permute(2, 0, 1))[0]) > 25
