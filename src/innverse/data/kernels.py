"""Blur kernels: shipped, generated on the fly, from a file, or from published sets under the data root.

Specifications accepted by :func:`load_kernel`:

* ``shake:N`` (N = 1..8): eight camera-shake kernels shipped with innverse (13×13 to 23×23), random
  trajectories in the manner of Boracchi & Foi (2012) rasterised by :mod:`innverse.data.shake` and
  written once by ``scripts/make_shake_kernels.py`` (fixed seeds; ``data/blur_kernels/shake.npz``);
* ``gaussian:SIGMA`` (0 < SIGMA <= 25 pixels): an isotropic Gaussian of std SIGMA on a
  ``(2⌈3σ⌉+1)``-pixel square;
* ``disk:RADIUS`` (0 < RADIUS <= 50 pixels): a uniform disk (out-of-focus blur), each pixel weighted by
  the fraction of its area inside the disk (16×16 sub-samples per pixel), on a ``(2⌈r⌉+1)``-pixel
  square;
* ``levin:N`` (N = 1..8): Levin et al.'s eight motion-blur kernels from ``kernels/Levin09.mat`` under
  the data root (not shipped; MATLAB v7.3 file, read with h5py; each kernel is transposed from
  MATLAB's column-major order);
* ``kernels12:N`` (N = 1..12): the 12 kernels of ``kernels/kernels_12.mat`` under the data root (not
  shipped; MATLAB v5, read with scipy);
* a ``.npy`` file holding a 2-D array;
* an image file (PNG, JPEG, TIFF, BMP; colour is averaged to gray).

Every kernel is returned as a 2-D float64 array normalised to sum 1.  An unreadable kernel, one with
non-finite values, or one whose sum is not positive raises :class:`~innverse.errors.UserError`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from innverse.errors import UserError
from innverse.paths import data_path

__all__ = [
    "load_kernel",
    "levin_kernel",
    "normalize_kernel",
    "gaussian_kernel",
    "disk_kernel",
    "shake_kernel",
    "SHAKE_COUNT",
    "KERNEL_NAMES",
]

#: number of shipped camera-shake kernels (``shake:1..SHAKE_COUNT``)
SHAKE_COUNT = 8
#: the named specifications, for help texts
KERNEL_NAMES = "shake:1..8, gaussian:SIGMA, disk:RADIUS, levin:1..8, kernels12:1..12"
GAUSSIAN_MAX_SIGMA = 25.0
DISK_MAX_RADIUS = 50.0
_SHAKE_FILE = Path(__file__).resolve().parent / "blur_kernels" / "shake.npz"


def normalize_kernel(k: np.ndarray, name: str = "kernel") -> np.ndarray:
    """Check a kernel (2-D, finite, positive sum) and scale it to sum 1."""
    a = np.asarray(k, dtype=np.float64)
    a = np.squeeze(a)
    if a.ndim != 2 or a.size == 0:
        raise UserError(f"{name}: a blur kernel must be a 2-D array, got shape {np.shape(k)}")
    if not np.all(np.isfinite(a)):
        raise UserError(f"{name}: blur kernel contains NaN or infinite values")
    total = float(a.sum())
    if not total > 0:
        raise UserError(f"{name}: blur kernel sums to {total:g}; it must sum to a positive value")
    return a / total


def gaussian_kernel(size: int = 15, std: float = 1.6) -> np.ndarray:
    """An isotropic Gaussian blur kernel of odd ``size``, normalised to sum 1."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-0.5 * (r / std) ** 2)
    return normalize_kernel(np.outer(g, g), "gaussian")


def _gaussian_spec(sigma: float) -> np.ndarray:
    """``gaussian:SIGMA``: std ``sigma`` on a ``2⌈3σ⌉ + 1`` square."""
    return gaussian_kernel(2 * math.ceil(3 * sigma) + 1, sigma)


def disk_kernel(radius: float, subsamples: int = 16) -> np.ndarray:
    """A uniform disk of ``radius`` pixels on a ``2⌈r⌉ + 1`` square, each pixel weighted by the fraction
    of its area inside the disk (``subsamples²`` points per pixel), normalised to sum 1."""
    if not 0 < radius <= DISK_MAX_RADIUS:
        raise UserError(f"disk radius must be in (0, {DISK_MAX_RADIUS:g}] pixels, got {radius:g}")
    half = math.ceil(radius)
    n = 2 * half + 1
    t = (np.arange(n * subsamples, dtype=np.float64) + 0.5) / subsamples - (half + 0.5)
    inside = (t.reshape(-1, 1) ** 2 + t.reshape(1, -1) ** 2) <= radius**2
    cover = inside.reshape(n, subsamples, n, subsamples).mean(axis=(1, 3))
    return normalize_kernel(cover, f"disk:{radius:g}")


def shake_kernel(i: int) -> np.ndarray:
    """The shipped camera-shake kernel ``i`` (1..8), sum 1 (see ``scripts/make_shake_kernels.py``)."""
    if not 1 <= i <= SHAKE_COUNT:
        raise UserError(f"shake kernel index must be in 1..{SHAKE_COUNT}, got {i}")
    try:
        with np.load(_SHAKE_FILE, allow_pickle=False) as f:
            k = np.asarray(f[f"shake{i}"], dtype=np.float64)
    except (OSError, KeyError, ValueError) as e:  # pragma: no cover - packaging error
        raise UserError(f"{_SHAKE_FILE}: cannot read the shipped shake kernel {i} ({e})") from None
    return normalize_kernel(k, f"shake:{i}")


def _number(spec: str, what: str, lo: float, hi: float) -> float:
    _, _, text = spec.partition(":")
    try:
        v = float(text)
    except ValueError:
        raise UserError(f"kernel {spec!r}: expected a number ({what}) after ':'") from None
    if not (math.isfinite(v) and lo < v <= hi):
        raise UserError(f"kernel {spec!r}: {what} must be in ({lo:g}, {hi:g}]")
    return v


def _index(spec: str, n_max: int) -> int:
    _, _, num = spec.partition(":")
    try:
        i = int(num)
    except ValueError:
        raise UserError(f"kernel {spec!r}: expected a number 1..{n_max} after ':'") from None
    if not 1 <= i <= n_max:
        raise UserError(f"kernel {spec!r}: index must be in 1..{n_max}")
    return i


def levin_kernel(i: int) -> np.ndarray:
    """Levin's kernel ``i`` (1..8), transposed to row-major order and normalised to sum 1."""
    path = data_path("kernels", "Levin09.mat")
    if path is None:
        raise UserError(
            "levin:N reads Levin et al.'s kernels/Levin09.mat (not shipped) under the data root "
            "(../shared/data or $INNVERSE_DATA) with h5py; the shipped shake:1..8 need nothing"
        )
    try:
        import h5py
    except ImportError:
        raise UserError(
            f"levin:N: reading {path} needs the 'h5py' package (pip install innverse[mat])"
        ) from None
    try:
        with h5py.File(path, "r") as f:
            ref = f["kernels"][i - 1][0]
            k = np.asarray(f[ref][()], dtype=np.float64).T
    except (OSError, KeyError, IndexError, ValueError) as e:
        raise UserError(f"{path}: cannot read kernel {i} ({e})") from None
    return normalize_kernel(k, f"levin:{i}")


def _kernels12(i: int) -> np.ndarray:
    path = data_path("kernels", "kernels_12.mat")
    if path is None:
        raise UserError(
            "kernels12:N reads kernels/kernels_12.mat (not shipped) under the data root "
            "(../shared/data or $INNVERSE_DATA) with scipy; the shipped shake:1..8 need nothing"
        )
    try:
        from scipy.io import loadmat
    except ImportError:
        raise UserError(
            "reading kernels_12.mat needs the 'scipy' package (pip install innverse[mat])"
        ) from None
    try:
        k = np.asarray(loadmat(str(path))["kernels"][0, i - 1], dtype=np.float64)
    except (OSError, KeyError, IndexError, ValueError) as e:
        raise UserError(f"{path}: cannot read kernel {i} ({e})") from None
    return normalize_kernel(k, f"kernels12:{i}")


def load_kernel(spec: str | os.PathLike[str] | np.ndarray) -> np.ndarray:
    """A kernel (2-D, sum 1) from a name (``shake:N``, ``gaussian:SIGMA``, ``disk:RADIUS``,
    ``levin:N``, ``kernels12:N``), a ``.npy`` or image file, or an array."""
    if isinstance(spec, np.ndarray):
        return normalize_kernel(spec)
    text = os.fspath(spec)
    low = text.lower()
    if low.startswith("shake:"):
        return shake_kernel(_index(text, SHAKE_COUNT))
    if low.startswith("gaussian:"):
        return _gaussian_spec(_number(text, "the std in pixels", 0.0, GAUSSIAN_MAX_SIGMA))
    if low.startswith("disk:"):
        return disk_kernel(_number(text, "the radius in pixels", 0.0, DISK_MAX_RADIUS))
    if low.startswith("levin:"):
        return levin_kernel(_index(text, 8))
    if low.startswith("kernels12:"):
        return _kernels12(_index(text, 12))
    path = Path(text)
    if not path.exists():
        raise UserError(f"{path}: no such kernel file (or name one: {KERNEL_NAMES})")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a kernel file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty kernel file (0 bytes)")
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as e:  # ValueError, OSError, EOFError for a bad .npy
            raise UserError(
                f"{path}: not a readable .npy array ({str(e).splitlines()[0] if str(e) else e})"
            ) from None
        if not np.issubdtype(np.asarray(arr).dtype, np.number) or np.iscomplexobj(arr):
            raise UserError(f"{path}: kernel array must be real numbers, got dtype {arr.dtype}")
        return normalize_kernel(arr, str(path))
    from innverse.data.io import read_image

    img, _ = read_image(path, float_range=False)  # a kernel's scale is normalised away
    if img.ndim == 3:
        img = img.mean(axis=2)
    return normalize_kernel(img, str(path))
