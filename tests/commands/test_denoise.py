"""``innverse denoise`` in-process, with stand-in models for the pretrained names.

Every bad input must give one line on stderr naming the problem, a non-zero exit code, no traceback and
no output file.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import innverse.commands.denoise as cmd
from conftest import require_data
from innverse.data.io import read_image, write_image

from ._helpers import assert_clean_failure, bad_inputs, cli, files, noisy, put

# ------------------------------------------------------------------------------------------- success


def test_single_file_keeps_16_bit_and_names_the_model(tmp_path, capsys, loaded):
    src = put(tmp_path / "in.png", bits=16)
    code, out, _ = cli(capsys, "denoise", src, "-o", tmp_path / "out.png", "--sigma", "25")
    assert code == 0
    assert out.strip() == f"{src} -> {tmp_path / 'out.png'}  (winnet-s25, sigma 25)"
    assert loaded == ["winnet-s25"]
    a, info = read_image(tmp_path / "out.png")
    assert info.bit_depth == 16 and a.shape == (40, 36)


def test_sigma_without_own_model_says_which_is_used(tmp_path, capsys, loaded):
    src = put(tmp_path / "in.png")
    code, out, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "20")
    assert code == 0
    assert "(winnet-blind, sigma 20)" in out
    assert "innverse denoise: note: no model is trained for sigma 20: using winnet-blind" in err
    assert loaded == ["winnet-blind"]
    code, out, err = cli(capsys, "denoise", src, "-o", tmp_path / "p.png", "--sigma", "80")
    assert code == 0 and "above the range it was trained on" in err


def test_given_model_is_named(tmp_path, capsys, loaded):
    src = put(tmp_path / "in.png")
    code, out, _ = cli(
        capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "25", "--model", "winnet-s50"
    )
    assert code == 0 and "(winnet-s50, sigma 25)" in out and loaded == ["winnet-s50"]


def test_ensemble_option(tmp_path, capsys, monkeypatch):
    import innverse.api as api

    seen = []
    real = api.denoise

    def spy(*a, **k):
        seen.append(k.get("ensemble"))
        return real(*a, **k)

    monkeypatch.setattr(api, "denoise", spy)  # the command runs through the public function
    src = put(tmp_path / "in.png")
    assert cli(capsys, "denoise", src, "-o", tmp_path / "a.png", "--sigma", "25")[0] == 0
    assert cli(capsys, "denoise", src, "-o", tmp_path / "b.png", "--sigma", "25", "--ensemble")[0] == 0
    assert seen == [False, True]
    assert read_image(tmp_path / "b.png")[0].shape == (40, 36)


def test_blind_prints_estimate_and_colour(tmp_path, capsys, loaded):
    src = put(tmp_path / "in.jpg", noisy(c=3))
    code, out, _ = cli(capsys, "denoise", src, "-o", tmp_path / "o")
    assert code == 0 and "(winnet-blind, estimated sigma " in out
    assert loaded == ["winnet-blind", "nenet"]
    a, info = read_image(tmp_path / "o" / "in.jpg")
    assert info.channels == 3


def test_colour_with_sigma_uses_blind_model_and_says_why(tmp_path, capsys, loaded):
    src = put(tmp_path / "in.png", noisy(c=3))
    code, out, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "25")
    assert code == 0 and "(winnet-blind, sigma 25)" in out
    assert "--color opponent gives each colour channel its own sigma" in err


def test_folder_recursive_mirrors_paths(tmp_path, capsys):
    d = tmp_path / "in"
    put(d / "a.png")
    put(d / "sub" / "b.tif")
    (d / "notes.txt").write_text("skip me")
    extra = put(tmp_path / "c.bmp")
    code, out, err = cli(capsys, "denoise", d, extra, "-o", tmp_path / "out", "--sigma", "10")
    assert code == 0, err
    assert files(tmp_path / "out") == ["a.png", "c.bmp", "sub/b.tif"]
    assert out.count("(winnet-blind, sigma 10)") == 3 and "done: 3 files written" in out


def test_output_folder_inside_input_folder_is_not_read_back(tmp_path, capsys):
    d = tmp_path / "photos"
    put(d / "a.png")
    put(d / "b.png")
    assert cli(capsys, "denoise", d, "-o", d / "clean", "--sigma", "15")[0] == 0
    code, out, err = cli(capsys, "denoise", d, "-o", d / "clean", "--sigma", "15", "--skip-existing")
    assert code == 0, err
    assert files(d) == ["a.png", "b.png", "clean/a.png", "clean/b.png"]
    assert "skipping 2 files whose outputs exist" in out


def test_one_of_many_fails(tmp_path, capsys):
    d = tmp_path / "in"
    put(d / "a.png")
    put(d / "b.png")
    (d / "broken.png").write_text("not an image")
    code, _, err = cli(capsys, "denoise", d, "-o", tmp_path / "out", "--sigma", "10")
    assert code == 1
    assert "broken.png" in err and "1 of 3 files failed" in err and "Traceback" not in err
    assert "innverse denoise: error: " in err
    assert files(tmp_path / "out") == ["a.png", "b.png"]


def test_quiet(tmp_path, capsys):
    d = tmp_path / "in"
    put(d / "a.png")
    put(d / "b.png")
    code, out, err = cli(capsys, "denoise", d, "-o", tmp_path / "out", "--sigma", "25", "-q")
    assert code == 0 and out == "" and err == ""
    assert files(tmp_path / "out") == ["a.png", "b.png"]
    code, out, err = cli(capsys, "denoise", d, "-o", tmp_path / "o2", "--sigma", "20", "--quiet")
    assert code == 0 and out == "" and "note:" in err  # notes still shown


# ------------------------------------------------------------------------------- existing outputs


def _folder(tmp_path, n=5):
    d = tmp_path / "in"
    for i in range(n):
        put(d / f"img{i}.png", noisy(seed=i))
    return d


def test_skip_existing_resumes(tmp_path, capsys):
    d = _folder(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name in ("img1.png", "img3.png"):  # results of an interrupted run
        (out_dir / name).write_bytes(b"earlier result")
    code, _, err = cli(capsys, "denoise", d, "-o", out_dir, "--sigma", "25")
    assert_clean_failure(code, err, "2 outputs already exist", "--skip-existing", "--force")
    assert files(out_dir) == ["img1.png", "img3.png"]  # nothing computed or written
    code, out, err = cli(capsys, "denoise", d, "-o", out_dir, "--sigma", "25", "--skip-existing")
    assert code == 0, err
    assert "skipping 2 files whose outputs exist (--skip-existing)" in out
    assert "done: 3 files written (2 skipped)" in out
    assert files(out_dir) == [f"img{i}.png" for i in range(5)]
    assert (out_dir / "img1.png").read_bytes() == b"earlier result"
    code, out, _ = cli(capsys, "denoise", d, "-o", out_dir, "--sigma", "25", "--skip-existing")
    assert code == 0 and "skipping 5 files" in out


def test_skip_existing_writes_a_missing_companion(tmp_path, capsys):
    d = _folder(tmp_path, 2)
    out_dir = tmp_path / "out"
    assert cli(capsys, "denoise", d, "-o", out_dir, "--sigma", "25")[0] == 0
    kept = (out_dir / "img0.png").read_bytes()
    code, _, err = cli(capsys, "denoise", d, "-o", out_dir, "--sigma", "25", "--compare", "--skip-existing")
    assert code == 0, err
    assert files(out_dir) == ["img0.png", "img0_compare.png", "img1.png", "img1_compare.png"]
    assert (out_dir / "img0.png").read_bytes() == kept


def test_force_and_skip_existing_exclude_each_other(tmp_path, capsys):
    src = put(tmp_path / "in.png")
    with pytest.raises(SystemExit) as e:
        cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--force", "--skip-existing")
    assert e.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_interrupted_run_says_how_many_were_done(tmp_path, capsys, monkeypatch):
    d = _folder(tmp_path)
    real = cmd._one
    calls = []

    def one(den, job, args, rep):
        calls.append(job.src.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(den, job, args, rep)

    monkeypatch.setattr(cmd, "_one", one)
    out_dir = tmp_path / "out"
    code, _, err = cli(capsys, "denoise", d, "-o", out_dir, "--sigma", "25")
    assert code == 130
    assert (
        "innverse denoise: interrupted: 2 of 5 files done; rerun the same command with --skip-existing" in err
    )
    assert files(out_dir) == ["img0.png", "img1.png"]  # no half-written file
    monkeypatch.setattr(cmd, "_one", real)
    code, out, _ = cli(capsys, "denoise", d, "-o", out_dir, "--sigma", "25", "--skip-existing")
    assert code == 0 and "done: 3 files written (2 skipped)" in out
    assert len(files(out_dir)) == 5


def test_force(tmp_path, capsys):
    src = put(tmp_path / "in.png")
    dst = tmp_path / "out.png"
    dst.write_bytes(b"keep me")
    code, _, err = cli(capsys, "denoise", src, "-o", dst, "--sigma", "5")
    assert_clean_failure(code, err, "exists", "--force")
    assert dst.read_bytes() == b"keep me"
    code, _, _ = cli(capsys, "denoise", src, "-o", dst, "--sigma", "5", "--force")
    assert code == 0 and dst.read_bytes() != b"keep me"


# ------------------------------------------------------------------------------------------ in place


def test_input_is_never_the_output_without_in_place(tmp_path, capsys):
    src = put(tmp_path / "in.png")
    before = src.read_bytes()
    for extra in ([], ["--force"]):
        code, _, err = cli(capsys, "denoise", src, "-o", src, "--sigma", "25", *extra)
        assert_clean_failure(code, err, "is the input file", "--in-place")
    d = _folder(tmp_path, 2)
    code, _, err = cli(capsys, "denoise", d, "-o", d, "--sigma", "25", "--force")
    assert_clean_failure(code, err, "is the input file")
    # a comparison that would overwrite another input (and that input's own result)
    put(tmp_path / "x.png")
    put(tmp_path / "x_compare.png")
    code, _, err = cli(
        capsys,
        "denoise",
        tmp_path / "x.png",
        tmp_path / "x_compare.png",
        "-o",
        tmp_path,
        "--compare",
        "--force",
    )
    assert_clean_failure(code, err, "would both be written to")
    assert src.read_bytes() == before


def test_in_place(tmp_path, capsys):
    d = _folder(tmp_path, 2)
    before = {p: p.read_bytes() for p in d.iterdir()}
    code, out, err = cli(capsys, "denoise", d, "--in-place", "--sigma", "25")
    assert code == 0, err
    assert files(d) == ["img0.png", "img1.png"]
    assert all(p.read_bytes() != b for p, b in before.items())
    src = put(tmp_path / "one.png")
    b = src.read_bytes()
    code, out, _ = cli(capsys, "denoise", src, "-o", src, "--in-place", "--sigma", "25")
    assert code == 0 and f"{src} -> {src}" in out and src.read_bytes() != b
    code, _, err = cli(capsys, "denoise", src, "--in-place", "--skip-existing", "--sigma", "25")
    assert_clean_failure(code, err, "--skip-existing cannot be combined with --in-place")
    code, _, err = cli(capsys, "denoise", src, "--sigma", "25")
    assert_clean_failure(code, err, "-o/--output is required")


# ------------------------------------------------------------------------------------- comparisons


def test_compare_with_clean_reference(tmp_path, capsys):
    clean = noisy(seed=1)
    src = put(tmp_path / "n.png")
    ref = put(tmp_path / "ref.png", clean)
    code, out, _ = cli(
        capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "25", "--compare", "--clean", ref
    )
    assert code == 0 and "PSNR " in out and out.rstrip().endswith(" dB)")
    cmp, _ = read_image(tmp_path / "o_compare.png")
    assert cmp.shape[1] > 3 * 192 and cmp.shape[0] > 192  # three panels, small images enlarged


def test_compare_without_reference_has_two_panels(tmp_path, capsys):
    src = put(tmp_path / "n.png", noisy(256, 256))
    assert cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "25", "--compare")[0] == 0
    cmp, _ = read_image(tmp_path / "o_compare.png")
    assert cmp.shape[1] == 2 * 256 + 6 and cmp.shape[0] > 256 + 24


# -------------------------------------------------------------------------------------------- sample


def test_sample_twice_and_foreign_file(tmp_path, capsys):
    out_dir = tmp_path / "out"
    argv = ["denoise", "--sample", "--sigma", "25", "-o", f"{out_dir}/", "--compare"]
    code, out, err = cli(capsys, *argv)
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith(f"sample (bundled photo + noise sigma 25, seed 0) -> {out_dir / 'sample.png'}  ")
    assert "(winnet-s25, sigma 25, PSNR " in first
    assert files(out_dir) == ["sample.png", "sample_compare.png", "sample_noisy.png"]
    code, out, err = cli(capsys, *argv)  # the README's command, run again
    assert code == 0, err
    assert files(out_dir) == ["sample.png", "sample_compare.png", "sample_noisy.png"]
    (out_dir / "sample.png").unlink()
    put(out_dir / "sample.png")  # a file of the user's, not written by --sample
    mine = (out_dir / "sample.png").read_bytes()
    code, _, err = cli(capsys, *argv)
    assert_clean_failure(code, err, "sample.png: output exists")
    assert (out_dir / "sample.png").read_bytes() == mine
    assert cli(capsys, *argv, "--force")[0] == 0


def test_sample_without_compare_still_writes_the_figure(tmp_path, capsys):
    code, out, _ = cli(capsys, "denoise", "--sample", "-o", tmp_path / "s.png")
    assert code == 0 and "estimated sigma" in out and "noise sigma 25" in out
    assert files(tmp_path) == ["s.png", "s_compare.png", "s_noisy.png"]


# ------------------------------------------------------------------------------------------- bad input


def test_bad_inputs_denoise(tmp_path, capsys):
    cases = bad_inputs(tmp_path)
    out_dir = tmp_path / "out"
    for name, problem in cases.items():
        target = out_dir if name == "adir.png" else out_dir / "x.png"
        code, _, err = cli(capsys, "denoise", tmp_path / name, "-o", target, "--sigma", "25")
        if name == "adir.png":  # a folder input is legal but holds no images
            assert_clean_failure(code, err, "no images found", name, prefix="innverse denoise: error:")
        else:
            assert_clean_failure(code, err, name, problem, prefix="innverse denoise: error:")
        assert not out_dir.exists() or files(out_dir) == []


@pytest.mark.parametrize(
    "value,problem", [("-1", ">= 0"), ("nan", "NaN"), ("300", "<= 255"), ("abc", "number")]
)
def test_bad_sigma(tmp_path, capsys, value, problem):
    src = put(tmp_path / "in.png")
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", f"--sigma={value}")
    assert_clean_failure(code, err, "--sigma", problem)
    assert not (tmp_path / "o.png").exists()


def test_tile_messages(tmp_path, capsys):
    src = put(tmp_path / "in.png")
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--tile", "1")
    assert_clean_failure(code, err, "--tile must be 0 (whole image) or at least 16 pixels, got 1")
    assert "overlap" not in err and "32" not in err
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--tile", "-3")
    assert_clean_failure(code, err, "--tile must be 0")
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--tile", "32", "--overlap", "40")
    assert_clean_failure(code, err, "--overlap must be smaller than --tile 32, got 40")
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--overlap", "-1")
    assert_clean_failure(code, err, "--overlap must be >= 0")
    assert not (tmp_path / "o.png").exists()
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--tile", "16")
    assert code == 0, err  # the overlap follows a small tile


def test_bad_threads(tmp_path, capsys):
    src = put(tmp_path / "in.png")
    for value in ("0", "-2", "two"):
        with pytest.raises(SystemExit) as e:
            cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--threads", value)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "innverse denoise: error: argument --threads" in err and "Traceback" not in err


def test_unwritable_output_folder(tmp_path, capsys):
    src = put(tmp_path / "in.png")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    code, _, err = cli(capsys, "denoise", src, "-o", blocker / "sub" / "o.png", "--sigma", "5")
    assert_clean_failure(code, err, "blocker")
    code, _, err = cli(capsys, "denoise", src, src, "-o", blocker, "--sigma", "5")
    assert_clean_failure(code, err, "not a folder")
    code, _, err = cli(capsys, "denoise", tmp_path, "-o", tmp_path / "new.png", "--sigma", "5")
    assert_clean_failure(code, err, "several inputs need an output folder")
    assert not (tmp_path / "new.png").exists()


def test_bad_checkpoint(tmp_path, capsys):
    src = put(tmp_path / "in.png")
    fake = tmp_path / "fake.pth"
    fake.write_text("not a checkpoint")
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--model", fake)
    assert_clean_failure(code, err, "fake.pth")
    code, _, err = cli(
        capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--model", tmp_path / "no.pth"
    )
    assert_clean_failure(code, err, "no.pth")
    assert not (tmp_path / "o.png").exists()


@pytest.mark.data
def test_estimator_checkpoint_is_not_a_denoiser(tmp_path, capsys):
    nenet = require_data("weights", "winnet-official", "NENet", "net_NENet.pth")
    src = put(tmp_path / "in.png")
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--model", nenet)
    assert_clean_failure(code, err, "not a denoiser")


def test_cuda_unavailable(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    src = put(tmp_path / "in.png")
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "5", "--device", "cuda")
    assert_clean_failure(code, err, "CUDA is not available")


def test_usage_errors(tmp_path, capsys):
    code, _, err = cli(capsys, "denoise", "-o", tmp_path / "o.png")
    assert_clean_failure(code, err, "no INPUT")
    src = put(tmp_path / "in.png")
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.xyz", "--sigma", "5")
    assert_clean_failure(code, err, "unknown output format")
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--clean", tmp_path)
    assert_clean_failure(code, err, "is a directory")
    code, _, err = cli(capsys, "denoise", "--sample", src, "-o", tmp_path / "o.png")
    assert_clean_failure(code, err, "--sample takes no INPUT")
    code, _, err = cli(capsys, "denoise", "--sample", "-o", tmp_path / "o.jpg")
    assert_clean_failure(code, err, "written as PNG")
    assert files(tmp_path) == ["in.png"]


# ------------------------------------------------------------------------------------- file kinds


def test_multipage_tiff_keeps_every_page(tmp_path, capsys):
    stack = np.stack([noisy(seed=i) for i in range(3)])
    src = write_image(tmp_path / "stack.tif", stack, 16, stack=True)
    code, out, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.tif", "--compare")
    assert code == 0, err
    assert "estimated sigma " in out and "(per page)" in out
    res, info = read_image(tmp_path / "o.tif", stack=True)
    assert res.shape == (3, 40, 36) and info.pages == 3 and info.bit_depth == 16
    assert np.abs(res - stack).mean() > 1e-3
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "25")
    assert_clean_failure(code, err, "PNG holds one image")
    assert not (tmp_path / "o.png").exists()


def test_what_the_output_cannot_keep_is_said_in_one_line(tmp_path, capsys):
    src = put(tmp_path / "in.png", bits=16)
    code, out, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.jpg", "--sigma", "25", "-q")
    assert code == 0 and out == ""
    note = f"innverse denoise: note: {tmp_path / 'o.jpg'}: JPEG holds 8 bits: written at 8 bits"
    assert err.strip().startswith(note) and len(err.strip().splitlines()) == 1


def test_empty_names(tmp_path, capsys):
    src = put(tmp_path / "in.png")
    code, _, err = cli(capsys, "denoise", src, "-o", "", "--sigma", "25")
    assert_clean_failure(code, err, "-o/--output is empty")
    for opt in ("--model", "--estimator"):
        code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", opt, "")
        assert_clean_failure(code, err, f"{opt} is empty")
    assert files(tmp_path) == ["in.png"]


def test_interrupted_single_file(tmp_path, capsys, monkeypatch):
    src = put(tmp_path / "in.png")

    def one(den, job, args, rep):
        raise KeyboardInterrupt

    monkeypatch.setattr(cmd, "_one", one)
    code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "25")
    assert code == 130 and err.strip() == f"innverse denoise: interrupted; nothing was written for {src}"
    assert files(tmp_path) == ["in.png"]
