"""``innverse wavelet denoise``: inputs and -o as in ``innverse denoise``, clean one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from innverse.data.io import read_image

from ._helpers import assert_clean_failure, bad_inputs, cli, files, noisy, put


def test_one_file(tmp_path, capsys):
    src = put(tmp_path / "n.png", noisy(64, 64), bits=16)
    code, out, err = cli(capsys, "wavelet", "denoise", src, "-o", tmp_path / "c.png", "--sigma", "25")
    assert code == 0, err
    assert out.strip() == f"{src} -> {tmp_path / 'c.png'}  (bayes cdf97, sigma 25)"
    a, info = read_image(tmp_path / "c.png")
    assert info.bit_depth == 16 and a.shape == (64, 64)
    assert np.abs(a - read_image(src)[0]).mean() > 1e-3


def test_output_without_suffix_is_a_folder(tmp_path, capsys):
    src = put(tmp_path / "n.png", noisy(64, 64))
    code, out, err = cli(capsys, "wavelet", "denoise", src, "-o", tmp_path / "name", "--method", "visu")
    assert code == 0, err
    assert files(tmp_path / "name") == ["n.png"] and "estimated sigma" in out


def test_folders_skip_existing_and_in_place(tmp_path, capsys):
    d = tmp_path / "in"
    put(d / "a.png", noisy(64, 64))
    put(d / "sub" / "b.png", noisy(64, 64, seed=1))
    code, out, err = cli(capsys, "wavelet", "denoise", d, "-o", tmp_path / "out", "--sigma", "20")
    assert code == 0, err
    assert files(tmp_path / "out") == ["a.png", "sub/b.png"] and "done: 2 files written" in out
    code, _, err = cli(capsys, "wavelet", "denoise", d, "-o", tmp_path / "out", "--sigma", "20")
    assert_clean_failure(code, err, "outputs already exist", prefix="innverse wavelet denoise: error:")
    code, out, _ = cli(capsys, "wavelet", "denoise", d, "-o", tmp_path / "out", "--skip-existing")
    assert code == 0 and "skipping 2 files" in out
    code, _, err = cli(capsys, "wavelet", "denoise", d / "a.png", "-o", d / "a.png", "--force")
    assert_clean_failure(code, err, "is the input file", "--in-place")
    code, _, err = cli(capsys, "wavelet", "denoise", d / "a.png", "--in-place", "-q")
    assert code == 0, err


def test_bad_inputs(tmp_path, capsys):
    for name, problem in bad_inputs(tmp_path).items():
        if name in ("adir.png", "tiny.png"):
            continue
        code, _, err = cli(capsys, "wavelet", "denoise", tmp_path / name, "-o", tmp_path / "o" / "x.png")
        assert_clean_failure(code, err, name, problem, prefix="innverse wavelet denoise: error:")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "extra,problem",
    [
        (["--sigma", "-1"], "--sigma must be a number in [0, 255]"),
        (["--sigma", "nan"], "--sigma must be a number in [0, 255]"),
        (["--level", "0"], "--level must be >= 1"),
    ],
)
def test_bad_options(tmp_path, capsys, extra, problem):
    src = put(tmp_path / "n.png", noisy(64, 64))
    code, _, err = cli(capsys, "wavelet", "denoise", src, "-o", tmp_path / "c.png", *extra)
    assert_clean_failure(code, err, problem, prefix="innverse wavelet denoise: error:")


def test_missing_action(capsys):
    code, _, err = cli(capsys, "wavelet")
    assert_clean_failure(code, err, "missing action", prefix="innverse wavelet: error:")
