"""``innverse deblur`` in-process, with stand-in models for the pretrained names."""

from __future__ import annotations

import numpy as np
import pytest

from innverse.commands.deblur import iterations_text
from innverse.data.io import read_image

from ._helpers import assert_clean_failure, bad_inputs, cli, files, noisy, put


@pytest.fixture
def kernel(tmp_path):
    np.save(tmp_path / "k.npy", np.ones((5, 5)))
    return tmp_path / "k.npy"


def test_deblur_one_file(tmp_path, capsys, kernel, loaded):
    src = put(tmp_path / "b.png", noisy(48, 48))
    code, out, err = cli(
        capsys, "deblur", src, "-o", tmp_path / "d.png", "--kernel", kernel, "--max-iter", "3"
    )
    assert code == 0, err
    assert f"{src} -> {tmp_path / 'd.png'}  (winnet-blind + nenet, estimated sigma " in out
    assert out.rstrip().endswith("iterations)") or out.rstrip().endswith("iteration)")
    assert (tmp_path / "d.png").is_file() and loaded == ["winnet-blind", "nenet"]


def test_iterations_text():
    assert iterations_text([1]) == "1 iteration"
    assert iterations_text([12]) == "12 iterations"
    assert iterations_text([3, 3, 3]) == "3 iterations"
    assert iterations_text([3, 2, 3]) == "iterations 3/2/3 (per channel)"


def test_one_iteration_is_singular(tmp_path, capsys, kernel):
    src = put(tmp_path / "b.png", noisy(48, 48))
    code, out, _ = cli(capsys, "deblur", src, "-o", tmp_path / "d.png", "--kernel", kernel, "--max-iter", "1")
    assert code == 0 and "1 iteration)" in out and "1 iterations" not in out


def test_deblur_folders(tmp_path, capsys, kernel):
    d = tmp_path / "in"
    put(d / "a.png", noisy(48, 48))
    put(d / "sub" / "b.png", noisy(48, 48, seed=2))
    put(tmp_path / "c.png", noisy(48, 48, seed=3))
    argv = ["deblur", d, tmp_path / "c.png", "-o", tmp_path / "out", "--kernel", kernel, "--max-iter", "2"]
    code, out, err = cli(capsys, *argv, "--compare")
    assert code == 0, err
    assert files(tmp_path / "out") == [
        "a.png",
        "a_compare.png",
        "c.png",
        "c_compare.png",
        "sub/b.png",
        "sub/b_compare.png",
    ]
    assert out.count("(winnet-blind + nenet, ") == 3 and "done: 3 files written" in out
    code, _, err = cli(capsys, *argv)
    assert_clean_failure(
        code, err, "outputs already exist", "--skip-existing", prefix="innverse deblur: error:"
    )
    code, out, _ = cli(capsys, *argv, "--skip-existing", "-q")
    assert code == 0 and out == ""


def test_deblur_refuses_its_input_as_output(tmp_path, capsys, kernel):
    src = put(tmp_path / "b.png", noisy(48, 48))
    code, _, err = cli(capsys, "deblur", src, "-o", src, "--kernel", kernel, "--force")
    assert_clean_failure(code, err, "is the input file", "--in-place")
    code, _, err = cli(capsys, "deblur", src, "--in-place", "--kernel", kernel, "--max-iter", "1")
    assert code == 0, err


def test_deblur_clean_reference(tmp_path, capsys, kernel):
    src = put(tmp_path / "b.png", noisy(48, 48))
    ref = put(tmp_path / "ref.png", noisy(48, 48, seed=5))
    argv = ["deblur", src, "-o", tmp_path / "d.png", "--kernel", kernel, "--max-iter", "1", "--compare"]
    code, out, _ = cli(capsys, *argv, "--clean", ref)
    assert code == 0 and ", PSNR " in out and out.rstrip().endswith(" dB)")
    fig, _ = read_image(tmp_path / "d_compare.png")
    assert fig.shape[1] > 3 * 192


def test_sample_with_a_shipped_kernel(tmp_path, capsys):
    argv = ["deblur", "--sample", "--kernel", "shake:3", "-o", f"{tmp_path / 'out'}/", "--max-iter", "2"]
    code, out, err = cli(capsys, *argv)
    assert code == 0, err
    assert out.startswith("sample (bundled photo, kernel shake:3, noise sigma 2.55, seed 0) -> ")
    assert "(winnet-blind + nenet, estimated sigma " in out and " dB)" in out
    assert files(tmp_path / "out") == [
        "sample_blurred.png",
        "sample_deblurred.png",
        "sample_deblurred_compare.png",
    ]
    code, _, err = cli(capsys, *argv)  # a second run replaces its own files
    assert code == 0, err
    code, out, _ = cli(
        capsys, "deblur", "--sample", "-o", tmp_path / "s.png", "--max-iter", "1", "--sigma", "5"
    )
    assert code == 0 and "kernel shake:3, noise sigma 5" in out and "(winnet-blind + nenet, sigma 5, " in out
    assert files(tmp_path) == [
        "out/sample_blurred.png",
        "out/sample_deblurred.png",
        "out/sample_deblurred_compare.png",
        "s.png",
        "s_blurred.png",
        "s_compare.png",
    ]


def test_levin_kernel_error_names_the_data_root(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INNVERSE_DATA", str(tmp_path / "nowhere"))
    src = put(tmp_path / "b.png", noisy(48, 48))
    code, _, err = cli(capsys, "deblur", src, "-o", tmp_path / "d.png", "--kernel", "levin:3")
    assert_clean_failure(code, err, "Levin09.mat", "INNVERSE_DATA", "../shared/data", "h5py")
    assert not (tmp_path / "d.png").exists()


def test_kernel_is_required_without_sample(tmp_path, capsys):
    src = put(tmp_path / "b.png", noisy(48, 48))
    code, _, err = cli(capsys, "deblur", src, "-o", tmp_path / "d.png")
    assert_clean_failure(code, err, "--kernel is required")


def test_bad_inputs_deblur(tmp_path, capsys, kernel):
    cases = bad_inputs(tmp_path)
    for name, problem in cases.items():
        target = tmp_path / "o" if name == "adir.png" else tmp_path / "o" / "x.png"
        code, _, err = cli(capsys, "deblur", tmp_path / name, "-o", target, "--kernel", kernel)
        if name == "adir.png":
            assert_clean_failure(code, err, "no images found", name)
        else:
            assert_clean_failure(code, err, name, problem, prefix="innverse deblur: error:")
        assert not (tmp_path / "o").exists() or files(tmp_path / "o") == []


@pytest.mark.parametrize(
    "value,problem", [("-1", ">= 0"), ("nan", "NaN"), ("300", "<= 255"), ("abc", "number")]
)
def test_bad_sigma(tmp_path, capsys, value, problem, kernel):
    src = put(tmp_path / "in.png")
    code, _, err = cli(
        capsys, "deblur", src, "--kernel", kernel, "-o", tmp_path / "o.png", f"--sigma={value}"
    )
    assert_clean_failure(code, err, "--sigma", problem)
    assert not (tmp_path / "o.png").exists()


def test_bad_options(tmp_path, capsys, kernel):
    src = put(tmp_path / "in.png", noisy(48, 48))
    for extra, problem in (
        (["--max-iter", "-1"], "--max-iter must be >= 0"),
        (["--lam", "0"], "--lam must be a positive number"),
        (["--lam", "nan"], "--lam must be a positive number"),
        (["--tile", "1"], "--tile must be 0 (whole image) or at least 16 pixels"),
    ):
        code, _, err = cli(capsys, "deblur", src, "-o", tmp_path / "o.png", "--kernel", kernel, *extra)
        assert_clean_failure(code, err, problem)
    big = tmp_path / "big.npy"
    np.save(big, np.ones((60, 60)))
    code, _, err = cli(capsys, "deblur", src, "-o", tmp_path / "o.png", "--kernel", big)
    assert_clean_failure(code, err, "smaller than the 60×60 kernel")
    assert not (tmp_path / "o.png").exists()


def test_bad_kernels(tmp_path, capsys):
    src = put(tmp_path / "in.png")
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
        "shake:99": "shake",
    }
    for k, problem in cases.items():
        code, _, err = cli(capsys, "deblur", src, "-o", tmp_path / "o.png", "--kernel", k)
        assert_clean_failure(code, err, problem, prefix="innverse deblur: error:")
    assert not (tmp_path / "o.png").exists()
