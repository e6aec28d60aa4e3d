"""Named blur kernels: the shipped shake kernels, Gaussian and disk kernels on the fly, and the
messages for kernels that need the data root."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from innverse.data import kernels as kernels_mod
from innverse.data.kernels import SHAKE_COUNT, disk_kernel, gaussian_kernel, load_kernel, shake_kernel
from innverse.data.shake import shake_kernel as generate_shake
from innverse.errors import UserError


def _centroid(k: np.ndarray) -> tuple[float, float]:
    r = np.arange(k.shape[0])
    c = np.arange(k.shape[1])
    return float((k.sum(1) * r).sum()), float((k.sum(0) * c).sum())


@pytest.mark.parametrize("i", range(1, SHAKE_COUNT + 1))
def test_shipped_shake_kernels(i):
    k = load_kernel(f"shake:{i}")
    assert k.dtype == np.float64 and k.ndim == 2 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert 13 <= k.shape[0] <= 31
    assert math.isclose(k.sum(), 1.0, abs_tol=1e-12) and k.min() >= 0
    cy, cx = _centroid(k)
    assert abs(cy - k.shape[0] // 2) <= 0.5 and abs(cx - k.shape[1] // 2) <= 0.5
    assert (k > 0).mean() < 0.5  # a thin trajectory, not a blob
    np.testing.assert_array_equal(k, shake_kernel(i))


def test_shipped_file_regenerates_from_its_parameters():
    with np.load(kernels_mod._SHAKE_FILE, allow_pickle=False) as f:
        params = f["params"]
        stored = [f[f"shake{i}"] for i in range(1, SHAKE_COUNT + 1)]
    assert params.shape == (SHAKE_COUNT, 4)
    for (seed, length, anxiety, exposure), k in zip(params, stored, strict=True):
        again = generate_shake(int(seed), length=float(length), anxiety=float(anxiety), exposure=exposure)
        assert again.shape == k.shape
        np.testing.assert_allclose(again, k, rtol=0, atol=1e-15)
    assert len({k.tobytes() for k in stored}) == SHAKE_COUNT


def test_gaussian_and_disk_specs():
    g = load_kernel("gaussian:1.6")
    assert g.shape == (11, 11)
    np.testing.assert_allclose(g, gaussian_kernel(11, 1.6), rtol=0, atol=0)
    assert load_kernel("GAUSSIAN:0.5").shape == (5, 5)
    d = load_kernel("disk:4")
    assert d.shape == (9, 9) and math.isclose(d.sum(), 1.0, abs_tol=1e-12)
    assert d[4, 4] == d.max() and d[0, 0] == 0 and np.allclose(d, d.T) and np.allclose(d, d[::-1])
    # pixels fully inside the disk share the same weight; the covered area is about π r²
    inner = d[2:7, 2:7]
    assert np.allclose(inner, inner[2, 2])
    assert abs(1.0 / inner[2, 2] - math.pi * 16) < 0.5
    np.testing.assert_allclose(disk_kernel(2.5), load_kernel("disk:2.5"), rtol=0, atol=0)


@pytest.mark.parametrize(
    "spec,match",
    [
        ("shake:0", "1..8"),
        ("shake:9", "1..8"),
        ("shake:x", "expected a number"),
        ("gaussian:0", r"\(0, 25\]"),
        ("gaussian:-1", r"\(0, 25\]"),
        ("gaussian:nan", r"\(0, 25\]"),
        ("gaussian:abc", "expected a number"),
        ("disk:100", r"\(0, 50\]"),
        ("disk:", "expected a number"),
        ("nosuch.npy", "shake:1..8, gaussian:SIGMA, disk:RADIUS"),
    ],
)
def test_bad_specs_one_line(spec, match):
    with pytest.raises(UserError, match=match) as e:
        load_kernel(spec)
    assert "\n" not in str(e.value)


def test_levin_without_data_root_says_where_it_comes_from(tmp_path, monkeypatch):
    monkeypatch.setenv("INNVERSE_DATA", str(tmp_path))
    with pytest.raises(UserError) as e:
        load_kernel("levin:1")
    msg = str(e.value)
    assert "Levin09.mat" in msg and "INNVERSE_DATA" in msg and "h5py" in msg and "not shipped" in msg
    with pytest.raises(UserError, match="kernels_12.mat"):
        load_kernel("kernels12:1")


def test_levin_without_h5py_says_so(tmp_path, monkeypatch):
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "Levin09.mat").write_bytes(b"\0")
    monkeypatch.setenv("INNVERSE_DATA", str(tmp_path))
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    with pytest.raises(UserError, match="needs the 'h5py' package"):
        load_kernel("levin:2")


def test_float_tiff_kernel_of_any_scale_loads(tmp_path):
    """A PSF saved as a 32-bit float TIFF in arbitrary units is a kernel, not an image: no [0, 1] rule."""
    tifffile = pytest.importorskip("tifffile")
    from innverse.data.kernels import load_kernel

    k = np.zeros((9, 9), np.float32)
    k[3:6, 2:7] = 250.0
    path = tmp_path / "psf.tif"
    tifffile.imwrite(path, k)
    out = load_kernel(str(path))
    np.testing.assert_allclose(out, k / k.sum(), atol=1e-7)
    bad = k.copy()
    bad[0, 0] = np.nan
    tifffile.imwrite(path, bad)
    with pytest.raises(UserError, match="NaN"):
        load_kernel(str(path))
