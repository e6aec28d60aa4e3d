"""``innverse dereflect``: files and folders, the reflection folder, comparisons, --sample, and
one-line refusals (tiny randomly initialised models saved to a temporary folder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import innverse.commands.dereflect as cmd
from innverse.apps import dereflect as app
from innverse.data.io import read_image
from innverse.models.durrnet import DURRNet
from innverse.models.unet_separator import UNetSeparator
from innverse.nn.testing import randomise_

from ._helpers import assert_clean_failure, bad_inputs, cli, files, noisy, put

TINY = {"features": 4, "stages": 1, "scales": 2, "prior_steps": 1, "prior_hidden": 4}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return randomise_(DURRNet(**TINY), 0.05, seed=1).save(tmp_path_factory.mktemp("m") / "tiny")


def _rgb(h=30, w=26, seed=0) -> np.ndarray:
    return noisy(h, w, c=3, seed=seed)


def _expected(model: Path, a: np.ndarray, tile=None):
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0)))[None].float()
    t, r = app.remove_reflection_tensor(x, app.load_separator(model), tile=tile)
    return [np.moveaxis(v[0].numpy(), 0, -1) for v in (t, r)]


def test_constants_are_the_library_s():
    assert cmd.DEFAULT_MODEL == app.DEFAULT_MODEL and cmd.DEFAULT_TILE == app.DEFAULT_TILE
    assert cmd.DEFAULT_OVERLAP == app.DEFAULT_OVERLAP and cmd.MIN_TILE == app.MIN_TILE


def test_help_does_not_import_torch():
    probe = (
        "import sys\nfrom innverse.cli import main\ntry:\n    main(['dereflect', '--help'])\n"
        "except SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.stderr.strip().splitlines()[-1] == "NO-TORCH", r.stderr
    assert "--reflection-out" in r.stdout and "innverse train durrnet" in r.stdout


def test_one_file_with_reflection_and_compare(tmp_path: Path, capsys, model):
    a = _rgb(30, 26)  # neither side a multiple of the model's factor 4
    src = put(tmp_path / "in.png", a)
    out, refl = tmp_path / "t.png", tmp_path / "refl"
    code, stdout, err = cli(
        capsys, "dereflect", src, "-o", out, "--reflection-out", refl, "--compare", "--model", model
    )
    assert code == 0, err
    assert f"-> {out}, reflection -> {refl / 't.png'}" in stdout
    assert files(tmp_path) == ["in.png", "refl/t.png", "t.png", "t_compare.png"]
    t, info = read_image(out)
    r, _ = read_image(refl / "t.png")
    assert info.format == "PNG" and info.bit_depth == 8 and t.shape == r.shape == (30, 26, 3)
    et, er = _expected(model, read_image(src)[0])
    assert np.abs(t - np.clip(et, 0, 1)).max() <= 0.5 / 255 + 1e-6
    assert np.abs(r - np.clip(er, 0, 1)).max() <= 0.5 / 255 + 1e-6
    cmp, _ = read_image(tmp_path / "t_compare.png")
    assert cmp.ndim == 3 and cmp.shape[1] > 3 * 26
    # an existing output needs --force; --skip-existing leaves it alone
    code, _, err = cli(capsys, "dereflect", src, "-o", out, "--model", model)
    assert_clean_failure(code, err, "output exists")
    code, stdout, err = cli(capsys, "dereflect", src, "-o", out, "--model", model, "--skip-existing")
    assert code == 0 and "skipping 1 file" in stdout
    code, _, err = cli(capsys, "dereflect", src, "-o", out, "--model", model, "--force", "--tile", "32")
    assert code == 0, err


def test_folders_keep_sub_folders_and_16_bit(tmp_path: Path, capsys, model):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    put(tmp_path / "in" / "a.png", _rgb(20, 24, 1))
    put(tmp_path / "in" / "sub" / "b.png", _rgb(17, 33, 2), bits=16)
    code, stdout, err = cli(
        capsys,
        "dereflect",
        tmp_path / "in",
        "-o",
        tmp_path / "out",
        "--reflection-out",
        tmp_path / "r",
        "--model",
        model,
        "-q",
    )
    assert code == 0, err
    assert stdout == ""
    assert files(tmp_path / "out") == files(tmp_path / "r") == ["a.png", "sub/b.png"]
    b, info = read_image(tmp_path / "out" / "sub" / "b.png")
    assert info.bit_depth == 16 and b.shape == (17, 33, 3)
    _, rinfo = read_image(tmp_path / "r" / "sub" / "b.png")
    assert rinfo.bit_depth == 16


def test_gray_input_is_converted_and_written_gray(tmp_path: Path, capsys, model):
    g = noisy(21, 19)
    src = put(tmp_path / "g.png", g)
    code, _, err = cli(capsys, "dereflect", src, "-o", tmp_path / "o.png", "--model", model)
    assert code == 0, err
    assert "gray input: repeated into R, G and B" in err
    out, info = read_image(tmp_path / "o.png")
    assert info.is_gray and out.shape == (21, 19)
    et, _ = _expected(model, np.repeat(read_image(src)[0][..., None], 3, axis=2))
    assert np.abs(out - np.clip(et.mean(-1), 0, 1)).max() <= 0.5 / 255 + 1e-6


def test_unet_baseline_and_tiles(tmp_path: Path, capsys):
    torch.manual_seed(2)
    m = randomise_(UNetSeparator(4), 0.05, seed=3).save(tmp_path / "unet")
    src = put(tmp_path / "big.png", _rgb(90, 71))
    code, _, err = cli(
        capsys, "dereflect", src, "-o", tmp_path / "o.png", "--model", m, "--tile", "32", "--overlap", "8"
    )
    assert code == 0, err
    assert read_image(tmp_path / "o.png")[0].shape == (90, 71, 3)


def test_sample(tmp_path: Path, capsys, model):
    code, stdout, err = cli(capsys, "dereflect", "--sample", "-o", tmp_path / "s", "--model", model)
    assert code == 0, err
    assert "PSNR of T: input" in stdout
    assert files(tmp_path / "s") == sorted(cmd.SAMPLE_NAMES.values())
    t, _ = read_image(tmp_path / "s" / cmd.SAMPLE_NAMES["result"])
    assert t.shape == (128, 192, 3)
    # a rerun replaces its own sample files; --reflection-out moves the reflection
    code, _, err = cli(
        capsys,
        "dereflect",
        "--sample",
        "-o",
        tmp_path / "s",
        "--model",
        model,
        "--reflection-out",
        tmp_path / "rr",
    )
    assert code == 0, err
    assert files(tmp_path / "rr") == [cmd.SAMPLE_NAMES["reflection"]]


def test_sample_runs_with_the_shipped_model(tmp_path: Path, capsys):
    """A fresh install: the bundled example through the shipped durrnet-lite, T, R and the figure."""
    code, out, err = cli(capsys, "dereflect", "--sample", "-o", tmp_path / "s", "--threads", "1")
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert len(written) >= 3 and any("compare" in n for n in written), written
    assert "durrnet-lite" in out + err


def test_refusals(tmp_path: Path, capsys, model):
    src = put(tmp_path / "in.png", _rgb())
    put(tmp_path / "in2.png", _rgb(seed=4))
    from innverse.models.dncnn import DnCNN

    DnCNN(depth=3, channels=4).save(tmp_path / "dn")
    o = tmp_path / "o.png"
    cases = [
        (["dereflect", "-o", o], "no INPUT"),
        (["dereflect", src], "-o/--output is required"),
        (["dereflect", src, "-o", o, "--model", tmp_path / "dn"], "not a reflection-removal"),
        (["dereflect", src, "-o", o, "--model", "nosuch"], "unknown reflection-removal model"),
        (["dereflect", src, "-o", tmp_path / "o.png", "--model", ""], "--model is empty"),
        (["dereflect", src, "-o", tmp_path / "o.png", "--model", model, "--tile", "8"], "--tile must be 0"),
        (
            ["dereflect", src, "-o", tmp_path / "o.png", "--model", model, "--tile", "64", "--overlap", "64"],
            "--overlap must be smaller",
        ),
        (["dereflect", src, "-o", src, "--model", model], "is the input file"),
        (["dereflect", src, "-o", tmp_path / "o.xyz", "--model", model], "unknown output format"),
        (
            [
                "dereflect",
                src,
                tmp_path / "in2.png",
                "-o",
                tmp_path / "o",
                "--reflection-out",
                tmp_path / "o",
                "--model",
                model,
            ],
            "would be written twice",
        ),
        (
            ["dereflect", src, "-o", tmp_path / "o.png", "--reflection-out", src, "--model", model],
            "exists and is not a folder",
        ),
        (["dereflect", "--sample", src, "-o", tmp_path / "s"], "--sample takes no INPUT"),
        (["dereflect", src, "-o", tmp_path / "o.png", "--model", model, "--device", "nosuch"], "--device"),
    ]
    for argv, needle in cases:
        code, _, err = cli(capsys, *argv)
        assert_clean_failure(code, err, needle, prefix="innverse dereflect")
    assert not (tmp_path / "o").exists() or files(tmp_path / "o") == []
    assert not (tmp_path / "o.png").exists()


def test_bad_files_fail_cleanly_and_the_rest_is_done(tmp_path: Path, capsys, model):
    bad = bad_inputs(tmp_path)
    for name, needle in bad.items():
        if name == "tiny.png":  # a 6x5 image is separable: any size works
            continue
        target = tmp_path / "out" if name == "adir.png" else tmp_path / "out" / "x.png"
        code, _, err = cli(capsys, "dereflect", tmp_path / name, "-o", target, "--model", model)
        if name == "adir.png":  # a folder input is legal but holds no images
            needle = "no images found"
        assert_clean_failure(code, err, name, needle, prefix="innverse dereflect: error:")
        assert not (tmp_path / "out").exists() or files(tmp_path / "out") == []
    code, _, err = cli(
        capsys, "dereflect", tmp_path / "tiny.png", "-o", tmp_path / "t6.png", "--model", model
    )
    assert code == 0, err
    assert read_image(tmp_path / "t6.png")[0].shape == (5, 6)
    # several inputs: the broken one is reported, the good one written, exit 1
    good = put(tmp_path / "good.png", _rgb())
    code, _, err = cli(
        capsys, "dereflect", good, tmp_path / "text.png", "-o", tmp_path / "many", "--model", model
    )
    assert code == 1 and "Traceback" not in err and "not a recognised image" in err
    assert files(tmp_path / "many") == ["good.png"]


def test_outputs_are_atomic(tmp_path: Path, capsys, model, monkeypatch):
    """A failure while the model runs leaves no output file behind (nothing half-written)."""
    src = put(tmp_path / "in.png", _rgb())

    def boom(*a, **k):
        raise MemoryError

    monkeypatch.setattr(app, "remove_reflection_tensor", boom)
    code, _, err = cli(
        capsys,
        "dereflect",
        src,
        "-o",
        tmp_path / "o.png",
        "--reflection-out",
        tmp_path / "r",
        "--model",
        model,
    )
    assert code == 2 and "out of memory" in err and "Traceback" not in err
    assert files(tmp_path) == ["in.png"]
    monkeypatch.undo()
    # an interrupted write leaves neither the file nor a temporary behind
    import innverse.data.io as io

    real = io.atomic_write

    def fail_after_write(path, writer, force=False):
        def w(tmp):
            writer(tmp)
            raise KeyboardInterrupt

        return real(path, w, force)

    monkeypatch.setattr(io, "atomic_write", fail_after_write)
    code, _, err = cli(capsys, "dereflect", src, "-o", tmp_path / "o.png", "--model", model)
    assert code == 130
    assert files(tmp_path) == ["in.png"]
