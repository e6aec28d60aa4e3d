"""Tests of :mod:`innverse.data.fashion_mnist`."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import require_data
from innverse.data.fashion_mnist import load_fashion_mnist, pad_images, read_idx
from innverse.errors import UserError


def _write_idx(folder: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    n, h, w = images.shape
    img = struct.pack(">iiii", 2051, n, h, w) + images.astype(np.uint8).tobytes()
    lab = struct.pack(">ii", 2049, len(labels)) + labels.astype(np.uint8).tobytes()
    (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(img))
    (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(lab))


def test_reads_synthetic_idx(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    _write_idx(tmp_path, "train", images, labels)
    x, y = load_fashion_mnist("train", root=tmp_path)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert x.dtype == np.uint8 and not x.flags.writeable


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_fashion_mnist("train", root=tmp_path / "nope")
    with pytest.raises(UserError, match="not found"):
        load_fashion_mnist("test", root=tmp_path)
    with pytest.raises(UserError, match="unknown Fashion-MNIST split"):
        load_fashion_mnist("val", root=tmp_path)
    # truncated pixel data
    raw = struct.pack(">iiii", 2051, 3, 28, 28) + bytes(28 * 28 * 2)
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(UserError, match="truncated"):
        read_idx(tmp_path / "a.gz")
    # truncated gzip stream
    full = gzip.compress(struct.pack(">ii", 2049, 100) + bytes(100))
    (tmp_path / "b.gz").write_bytes(full[: len(full) // 2])
    with pytest.raises(UserError, match="gzip"):
        read_idx(tmp_path / "b.gz")
    # wrong magic
    (tmp_path / "c.gz").write_bytes(gzip.compress(struct.pack(">ii", 1234, 0)))
    with pytest.raises(UserError, match="magic"):
        read_idx(tmp_path / "c.gz")
    # image/label count mismatch
    d = tmp_path / "d"
    d.mkdir()
    _write_idx(d, "test", np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(UserError, match="labels"):
        load_fashion_mnist("test", root=d)


def test_pad_images() -> None:
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    p = pad_images(x, 32)
    assert p.shape == (2, 32, 32)
    np.testing.assert_array_equal(p[:, 2:30, 2:30], x)
    assert p[:, :2].max() == 0 and p[:, 30:].max() == 0 and p[:, :, :2].max() == 0
    assert pad_images(x[0], 31).shape == (31, 31)
    with pytest.raises(UserError):
        pad_images(x, 27)


@pytest.mark.data
def test_shared_copy() -> None:
    require_data("fashion-mnist")
    x, y = load_fashion_mnist("train")
    assert x.shape == (60000, 28, 28) and y.shape == (60000,)
    assert np.bincount(y, minlength=10).tolist() == [6000] * 10
    xt, yt = load_fashion_mnist("test")
    assert xt.shape[1:] == (28, 28) and len(xt) == len(yt) >= 5000
    assert 60 < x.mean() < 90  # Fashion-MNIST's mean pixel is ~72.9
