"""``innverse superres``: files and folders, the bundled example, samples, refusals, atomic outputs."""

from __future__ import annotations

import numpy as np
import pytest

import innverse.cli
from innverse.data.io import read_image

from ._helpers import assert_clean_failure, cli, files, put


@pytest.fixture(autouse=True)
def _wired(monkeypatch):
    """The command is reachable through innverse.cli.main (whether or not cli lists it yet)."""
    if "superres" not in innverse.cli.COMMANDS:
        monkeypatch.setattr(innverse.cli, "COMMANDS", [*innverse.cli.COMMANDS, "superres"])


@pytest.fixture(scope="module")
def prior_dir(tmp_path_factory):
    """A tiny random UNet saved as a prior folder (it knows nothing: the tests check plumbing)."""
    from innverse.diffusion.prior import scheduler_config
    from innverse.diffusion.schedules import NoiseSchedule
    from innverse.diffusion.unet import UNet

    d = tmp_path_factory.mktemp("prior")
    UNet(1, width=8, mults=(1, 2, 2, 2), blocks=1, groups=4).save(
        d, scheduler=scheduler_config(NoiseSchedule())
    )
    return d


def _low(h=8, w=8, seed=0):
    return np.random.default_rng(seed).random((h, w)).astype(np.float32)


def test_bundled_example_with_bicubic(tmp_path, capsys):
    code, out, err = cli(capsys, "superres", "--sample", "--method", "bicubic", "-o", tmp_path / "o/")
    assert code == 0, err
    assert files(tmp_path / "o") == ["superres_sample.png", "superres_sample_compare.png"]
    res, _ = read_image(tmp_path / "o" / "superres_sample.png")
    assert res.shape == (32, 32)
    assert "PSNR bicubic" in out and "consistency" in out
    # sample outputs carry a marker, so running again replaces them without --force
    code, _, err = cli(capsys, "superres", "sample", "--method", "bicubic", "-o", tmp_path / "o/")
    assert code == 0, err


def test_folder_with_the_inn_alone(tmp_path, capsys):
    src = tmp_path / "in"
    put(src / "a.png", _low(seed=1))
    put(src / "sub" / "b.png", _low(4, 6, seed=2), bits=16)
    code, out, err = cli(
        capsys, "superres", src, "-o", tmp_path / "out", "--method", "inn", "--inn", "haar", "-q"
    )
    assert code == 0, err
    assert files(tmp_path / "out") == ["a.png", "a_compare.png", "sub/b.png", "sub/b_compare.png"]
    b, info = read_image(tmp_path / "out" / "sub" / "b.png")
    assert b.shape == (16, 24) and info.bit_depth == 16
    lo, _ = read_image(src / "sub" / "b.png")
    np.testing.assert_allclose(b, np.repeat(np.repeat(lo, 4, 0), 4, 1), atol=1 / 65535)  # Haar: replicate


def test_diffusion_with_samples_writes_mean_std_and_the_samples(tmp_path, capsys, prior_dir):
    f = put(tmp_path / "small.png", _low(seed=3))
    ref = put(tmp_path / "ref.png", np.random.default_rng(4).random((32, 32)).astype(np.float32))
    code, out, err = cli(
        capsys,
        "superres",
        f,
        "-o",
        tmp_path / "big.png",
        "--prior",
        prior_dir,
        "--steps",
        "3",
        "--samples",
        "2",
        "--seed",
        "5",
        "--clean",
        ref,
        "--method",
        "dps",
        "--noise",
        "0.05",
    )
    assert code == 0, err
    names = ["big.png", "big_compare.png", "big_samples.png", "big_std.png", "ref.png", "small.png"]
    assert files(tmp_path) == names
    assert "dps, 3 ddpm steps, seed 5, 2 samples" in out and "PSNR bicubic" in out
    samples, _ = read_image(tmp_path / "big_samples.png")
    assert samples.shape == (32, 2 * 32 + 2)
    std, _ = read_image(tmp_path / "big_std.png")
    assert std.max() > 0
    # the same seed again gives the same result
    code, _, err = cli(
        capsys,
        "superres",
        f,
        "-o",
        tmp_path / "again.png",
        "--prior",
        prior_dir,
        "--steps",
        "3",
        "--samples",
        "2",
        "--seed",
        "5",
        "--method",
        "dps",
        "--noise",
        "0.05",
    )
    assert code == 0, err
    np.testing.assert_array_equal(read_image(tmp_path / "again.png")[0], read_image(tmp_path / "big.png")[0])


def test_existing_outputs_and_resume(tmp_path, capsys):
    f = put(tmp_path / "x.png", _low())
    code, _, err = cli(capsys, "superres", f, "-o", tmp_path / "y.png", "--method", "bicubic")
    assert code == 0, err
    before = (tmp_path / "y.png").read_bytes()
    code, _, err = cli(capsys, "superres", f, "-o", tmp_path / "y.png", "--method", "bicubic")
    assert_clean_failure(code, err, "outputs already exist")
    code, out, err = cli(
        capsys, "superres", f, "-o", tmp_path / "y.png", "--method", "bicubic", "--skip-existing"
    )
    assert code == 0 and "skipping" in out
    assert (tmp_path / "y.png").read_bytes() == before


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--method", "ddrm", "--degradation", "nonlinear"], "ddrm needs a linear forward operator"),
        (["--method", "ilvr", "--degradation", "nonlinear"], "ilvr needs a linear forward operator"),
        (["--method", "ddrm", "--degradation", "bicubic"], "singular value decomposition"),
        (["--noise", "25"], "0-255 scale give 0.098"),
        (["--steps", "0"], "--steps must be >= 1"),
        (["--samples", "0"], "--samples must be >= 1"),
        (["--scale", "1"], "--scale must be >= 2"),
        (["--prior", "no-such-prior"], "unknown diffusion prior"),
        (["--method", "inn", "--inn", "nope"], "unknown INN"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(tmp_path, capsys, argv, needle):
    f = put(tmp_path / "x.png", _low())
    code, _, err = cli(capsys, "superres", f, "-o", tmp_path / "out/", *argv)
    assert_clean_failure(code, err, needle)
    assert not (tmp_path / "out").exists() or files(tmp_path / "out") == []


def test_colour_input_needs_a_colour_prior(tmp_path, capsys, prior_dir):
    rgb = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    f = put(tmp_path / "c.png", rgb)
    code, _, err = cli(capsys, "superres", f, "-o", tmp_path / "o.png", "--prior", prior_dir, "--steps", "2")
    assert_clean_failure(code, err, "gray (1 channel)", "3 channels")
    assert not (tmp_path / "o.png").exists()
    code, _, err = cli(capsys, "superres", f, "-o", tmp_path / "o.png", "--method", "bicubic")
    assert code == 0, err
    assert read_image(tmp_path / "o.png")[0].shape == (32, 32, 3)


def test_reference_of_the_wrong_size(tmp_path, capsys):
    f = put(tmp_path / "x.png", _low())
    ref = put(tmp_path / "r.png", _low(16, 16))
    code, _, err = cli(capsys, "superres", f, "-o", tmp_path / "o.png", "--method", "bicubic", "--clean", ref)
    assert_clean_failure(code, err, "expected 32x32")
    assert not (tmp_path / "o.png").exists()


def test_no_in_place_option(tmp_path, capsys):
    f = put(tmp_path / "x.png", _low())
    with pytest.raises(SystemExit):
        innverse.cli.main(["superres", str(f), "--in-place"])
    assert "unrecognized arguments: --in-place" in capsys.readouterr().err


def test_help_lists_the_methods(capsys):
    with pytest.raises(SystemExit):
        innverse.cli.main(["superres", "--help"])
    out = capsys.readouterr().out
    for m in ("indigo", "dps", "ddrm", "ilvr", "bicubic", "inn", "--samples", "--noise"):
        assert m in out


def test_the_nonlinear_degradation_uses_its_shipped_inn(tmp_path, capsys):
    code, out, err = cli(
        capsys, "superres", "--sample", "--method", "inn", "--degradation", "nonlinear", "-o", tmp_path / "o/"
    )
    assert code == 0, err
    assert "indigo-sr4nl-fmnist" in out
    code, out, err = cli(
        capsys,
        "superres",
        "--sample",
        "--method",
        "ddrm",
        "--degradation",
        "nonlinear",
        "-o",
        tmp_path / "p/",
    )
    assert code != 0 and len(err.strip().splitlines()) == 1 and not (tmp_path / "p").exists()
