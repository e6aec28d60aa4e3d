"""``innverse denoise`` / ``innverse deblur`` in-process, with stand-in models for the pretrained names.

Every bad input must give one line on stderr naming the problem, a non-zero exit code, no traceback and
no output file.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import innverse.models
from _standins import MadEstimator
from conftest import require_data
from innverse.cli import main
from innverse.data.io import read_image, write_image

_real_load_model = innverse.models.load_model


class BlurDenoiser(nn.Module):
    """Stand-in denoiser (3×3 box blur)."""

    kind = "winnet"
    blind = True
    min_size = 8

    def forward(self, y: torch.Tensor, sigma) -> torch.Tensor:
        c = y.shape[1]
        w = torch.full((c, 1, 3, 3), 1 / 9, dtype=y.dtype)
        return F.conv2d(F.pad(y, (1, 1, 1, 1), mode="reflect"), w, groups=c)




@pytest.fixture(autouse=True)
def stand_in_models(monkeypatch):
    """Pretrained names load stand-ins; paths go to the real loader (to test bad checkpoints)."""

    def fake(name_or_path, device="cpu"):
        name = str(name_or_path)
        if name == "nenet":
            return MadEstimator()
        if name.startswith("winnet-"):
            return BlurDenoiser()
        return _real_load_model(name_or_path, device)

    monkeypatch.setattr(innverse.models, "load_model", fake)


def _noisy(h=40, w=36, c=1, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.5 + 0.3 * np.sin(7 * xx + 3 * yy)
    if c == 3:
        base = np.stack([base, base[::-1], 1 - base], axis=2)
    return np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1).astype(np.float32)


def _write(path, a=None, bits=8):
    return write_image(path, _noisy() if a is None else a, bits)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_clean_failure(code, err, *needles, expect=2):
    assert code == expect, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("innverse ")
    for n in needles:
        assert n in err, err


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------- success


def test_single_file_keeps_16_bit(tmp_path, capsys):
    src = _write(tmp_path / "in.png", bits=16)
    code, out, _ = _run(capsys, "denoise", src, "-o", tmp_path / "out.png", "--sigma", "25")
    assert code == 0 and "sigma 25.00" in out
    a, info = read_image(tmp_path / "out.png")
    assert info.bit_depth == 16 and a.shape == (40, 36)


def test_ensemble_option(tmp_path, capsys, monkeypatch):
    import innverse.commands.denoise as cmd

    seen = []
    real = cmd.denoise_tensor

    def spy(*a, **k):
        seen.append(k.get("ensemble"))
        return real(*a, **k)

    monkeypatch.setattr(cmd, "denoise_tensor", spy)
    src = _write(tmp_path / "in.png")
    assert _run(capsys, "denoise", src, "-o", tmp_path / "a.png", "--sigma", "25")[0] == 0
    assert _run(capsys, "denoise", src, "-o", tmp_path / "b.png", "--sigma", "25", "--ensemble")[0] == 0
    assert seen == [False, True]
    assert read_image(tmp_path / "b.png")[0].shape == (40, 36)


def test_blind_prints_estimate_and_colour(tmp_path, capsys):
    src = _write(tmp_path / "in.jpg", _noisy(c=3))
    code, out, _ = _run(capsys, "denoise", src, "-o", tmp_path / "o")
    assert code == 0 and "estimated sigma" in out
    a, info = read_image(tmp_path / "o" / "in.jpg")
    assert info.channels == 3


def test_folder_recursive_mirrors_paths(tmp_path, capsys):
    d = tmp_path / "in"
    _write(d / "a.png")
    _write(d / "sub" / "b.tif")
    (d / "notes.txt").write_text("skip me")
    extra = _write(tmp_path / "c.bmp")
    code, out, err = _run(capsys, "denoise", d, extra, "-o", tmp_path / "out", "--sigma", "10")
    assert code == 0, err
    assert _files(tmp_path / "out") == ["a.png", "c.bmp", "sub/b.tif"]


def test_one_of_many_fails(tmp_path, capsys):
    d = tmp_path / "in"
    _write(d / "a.png")
    _write(d / "b.png")
    (d / "broken.png").write_text("not an image")
    code, _, err = _run(capsys, "denoise", d, "-o", tmp_path / "out", "--sigma", "10")
    assert code == 1
    assert "broken.png" in err and "1 of 3 files failed" in err and "Traceback" not in err
    assert _files(tmp_path / "out") == ["a.png", "b.png"]


def test_compare_with_clean_reference(tmp_path, capsys):
    clean = _noisy(seed=1)
    src = _write(tmp_path / "n.png")
    ref = _write(tmp_path / "ref.png", clean)
    code, out, _ = _run(
        capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "25", "--compare", "--clean", ref
    )
    assert code == 0 and "PSNR" in out
    cmp, _ = read_image(tmp_path / "o_compare.png")
    assert cmp.shape[1] > 2 * 36 and cmp.shape[0] > 40


def test_sample(tmp_path, capsys):
    code, out, _ = _run(capsys, "denoise", "--sample", "--sigma", "25", "-o", tmp_path / "out", "--compare")
    assert code == 0 and "PSNR noisy" in out
    assert _files(tmp_path / "out") == ["sample.png", "sample_compare.png", "sample_noisy.png"]


def test_force(tmp_path, capsys):
    src = _write(tmp_path / "in.png")
    dst = tmp_path / "out.png"
    dst.write_bytes(b"keep me")
    code, _, err = _run(capsys, "denoise", src, "-o", dst, "--sigma", "5")
    _assert_clean_failure(code, err, "exists", "--force")
    assert dst.read_bytes() == b"keep me"
    code, _, _ = _run(capsys, "denoise", src, "-o", dst, "--sigma", "5", "--force")
    assert code == 0 and dst.read_bytes() != b"keep me"


def test_deblur_ok(tmp_path, capsys):
    src = _write(tmp_path / "b.png", _noisy(48, 48))
    np.save(tmp_path / "k.npy", np.ones((5, 5)))
    code, out, err = _run(
        capsys, "deblur", src, "-o", tmp_path / "d.png", "--kernel", tmp_path / "k.npy", "--max-iter", "3"
    )
    assert code == 0, err
    assert "iterations" in out and (tmp_path / "d.png").is_file()


# ------------------------------------------------------------------------------------------- bad input


def _bad_inputs(tmp_path):
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    full = _write(tmp_path / "full.png", _noisy(64, 64)).read_bytes()
    (tmp_path / "cut.png").write_bytes(full[: len(full) // 2])
    _write(tmp_path / "tiny.png", _noisy(5, 6))
    (tmp_path / "adir.png").mkdir()
    return {
        "missing.png": "no such file",
        "zero.png": "empty file",
        "text.png": "not a recognised image",
        "cut.png": "truncated",
        "tiny.png": "at least 8×8",
        "adir.png": "is a directory",
    }


def test_bad_inputs_denoise(tmp_path, capsys):
    cases = _bad_inputs(tmp_path)
    out_dir = tmp_path / "out"
    for name, problem in cases.items():
        target = out_dir if name == "adir.png" else out_dir / "x.png"
        code, _, err = _run(capsys, "denoise", tmp_path / name, "-o", target, "--sigma", "5")
        if name == "adir.png":  # a folder input is legal but holds no images
            _assert_clean_failure(code, err, "no images found", name)
        else:
            _assert_clean_failure(code, err, name, problem)
        assert not out_dir.exists() or _files(out_dir) == []


def test_bad_inputs_deblur(tmp_path, capsys):
    cases = _bad_inputs(tmp_path)
    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    for name, problem in cases.items():
        code, _, err = _run(
            capsys, "deblur", tmp_path / name, "-o", tmp_path / "o" / "x.png", "--kernel", tmp_path / "k.npy"
        )
        _assert_clean_failure(code, err, name, problem)
        assert not (tmp_path / "o").exists() or _files(tmp_path / "o") == []


@pytest.mark.parametrize(
    "value,problem", [("-1", ">= 0"), ("nan", "NaN"), ("300", "<= 255"), ("abc", "number")]
)
def test_bad_sigma(tmp_path, capsys, value, problem):
    src = _write(tmp_path / "in.png")
    for cmd in (["denoise", src], ["deblur", src, "--kernel", "levin:1"]):
        code, _, err = _run(capsys, *cmd, "-o", tmp_path / "o.png", f"--sigma={value}")
        _assert_clean_failure(code, err, "--sigma", problem)
    assert not (tmp_path / "o.png").exists()


def test_bad_kernels(tmp_path, capsys):
    src = _write(tmp_path / "in.png")
    np.save(tmp_path / "zero.npy", np.zeros((3, 3)))
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY junk")
    (tmp_path / "empty.npy").write_bytes(b"")
    cases = {
        tmp_path / "zero.npy": "sums to 0",
        tmp_path / "junk.npy": "not a readable",
        tmp_path / "empty.npy": "empty kernel file",
        tmp_path / "none.npy": "no such kernel",
        tmp_path: "is a directory",
        "levin:0": "1..8",
    }
    for kernel, problem in cases.items():
        code, _, err = _run(capsys, "deblur", src, "-o", tmp_path / "o.png", "--kernel", kernel)
        _assert_clean_failure(code, err, problem)
    assert not (tmp_path / "o.png").exists()


def test_unwritable_output_folder(tmp_path, capsys):
    src = _write(tmp_path / "in.png")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    code, _, err = _run(capsys, "denoise", src, "-o", blocker / "sub" / "o.png", "--sigma", "5")
    _assert_clean_failure(code, err, "blocker")
    code, _, err = _run(capsys, "denoise", src, src, "-o", blocker, "--sigma", "5")
    _assert_clean_failure(code, err, "not a folder")
    code, _, err = _run(capsys, "denoise", tmp_path, "-o", tmp_path / "new.png", "--sigma", "5")
    _assert_clean_failure(code, err, "several inputs need an output folder")
    assert not (tmp_path / "new.png").exists()


def test_bad_checkpoint(tmp_path, capsys):
    src = _write(tmp_path / "in.png")
    fake = tmp_path / "fake.pth"
    fake.write_text("not a checkpoint")
    code, _, err = _run(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--model", fake)
    _assert_clean_failure(code, err, "fake.pth")
    code, _, err = _run(
        capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--model", tmp_path / "no.pth"
    )
    _assert_clean_failure(code, err, "no.pth")
    assert not (tmp_path / "o.png").exists()


@pytest.mark.data
def test_estimator_checkpoint_is_not_a_denoiser(tmp_path, capsys):
    nenet = require_data("weights", "winnet-official", "NENet", "net_NENet.pth")
    src = _write(tmp_path / "in.png")
    code, _, err = _run(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--model", nenet)
    _assert_clean_failure(code, err, "not a denoiser")


def test_cuda_unavailable(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    src = _write(tmp_path / "in.png")
    code, _, err = _run(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--device", "cuda")
    _assert_clean_failure(code, err, "CUDA is not available")


def test_usage_errors(tmp_path, capsys):
    code, _, err = _run(capsys, "denoise", "-o", tmp_path / "o.png")
    _assert_clean_failure(code, err, "no INPUT")
    src = _write(tmp_path / "in.png")
    code, _, err = _run(capsys, "denoise", src, "-o", tmp_path / "o.xyz", "--sigma", "5")
    _assert_clean_failure(code, err, "unknown output format")
    code, _, err = _run(capsys, "denoise", src, "-o", tmp_path / "o.png", "--clean", tmp_path)
    _assert_clean_failure(code, err, "is a directory")
    assert _files(tmp_path) == ["in.png"]
