"""Blur kernels: from an image file, a ``.npy`` array, or a named set of published kernels.

Specifications accepted by :func:`load_kernel`:

* ``levin:N`` (N = 1..8): Levin et al.'s eight motion-blur kernels from ``kernels/Levin09.mat`` under
  the data root (MATLAB v7.3 file, read with h5py; each kernel is transposed from MATLAB's column-major
  order);
* ``kernels12:N`` (N = 1..12): the 12 kernels of ``kernels/kernels_12.mat`` (MATLAB v5, scipy);
* a ``.npy`` file holding a 2-D array;
* an image file (PNG, JPEG, TIFF, BMP; colour is averaged to gray).

Every kernel is returned as a 2-D float64 array normalised to sum 1.  An unreadable kernel, one with
non-finite values, or one whose sum is not positive raises :class:`~innverse.errors.UserError`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from innverse.errors import UserError
from innverse.paths import data_path

__all__ = ["load_kernel", "levin_kernel", "normalize_kernel", "gaussian_kernel"]


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
        raise UserError("levin kernels need kernels/Levin09.mat under the data root (set INNVERSE_DATA)")
    try:
        import h5py
    except ImportError:
        raise UserError("reading Levin09.mat needs the 'h5py' package (pip install innverse[mat])") from None
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
        raise UserError("kernels12 needs kernels/kernels_12.mat under the data root (set INNVERSE_DATA)")
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
    """A kernel (2-D, sum 1) from ``levin:N``, ``kernels12:N``, a ``.npy`` or image file, or an array."""
    if isinstance(spec, np.ndarray):
        return normalize_kernel(spec)
    text = os.fspath(spec)
    low = text.lower()
    if low.startswith("levin:"):
        return levin_kernel(_index(text, 8))
    if low.startswith("kernels12:"):
        return _kernels12(_index(text, 12))
    path = Path(text)
    if not path.exists():
        raise UserError(f"{path}: no such kernel file (or use levin:1..8)")
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

    img, _ = read_image(path)
    if img.ndim == 3:
        img = img.mean(axis=2)
    return normalize_kernel(img, str(path))
