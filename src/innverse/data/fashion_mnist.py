"""Fashion-MNIST from its IDX files (``train-images-idx3-ubyte.gz`` and friends).

The folder (``<data root>/fashion-mnist`` by default, see :mod:`innverse.paths`) holds four gzip
files in the IDX format: images have a 16-byte big-endian header (magic 2051, count, rows, columns)
followed by ``uint8`` pixels, labels an 8-byte header (magic 2049, count) followed by ``uint8``
class indices.  :func:`load_fashion_mnist` returns them as numpy arrays; :func:`pad_images` pads the
28×28 images to 32×32 (zeros, the background of the data set) for networks that halve the size
three times.  Missing, truncated or malformed files raise :class:`~innverse.errors.UserError`.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from innverse.errors import UserError
from innverse.paths import data_path

__all__ = ["CLASSES", "fashion_mnist_dir", "load_fashion_mnist", "read_idx", "pad_images"]

#: the ten class names, in label order
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("test-images-idx3-ubyte.gz", "test-labels-idx1-ubyte.gz"),
}
_MAGIC_IMAGES, _MAGIC_LABELS = 2051, 2049


def fashion_mnist_dir(root: str | Path | None = None) -> Path:
    """The folder holding the IDX files: ``root`` when given, else ``<data root>/fashion-mnist``."""
    if root is not None:
        p = Path(root).expanduser()
        if not p.is_dir():
            raise UserError(f"{p}: Fashion-MNIST folder not found")
        return p
    p = data_path("fashion-mnist")
    if p is None:
        raise UserError("Fashion-MNIST not found: expected <data root>/fashion-mnist (set INNVERSE_DATA)")
    return p


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (gzip or plain) as a ``uint8`` array: ``(N, rows, cols)`` images or ``(N,)`` labels."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: file not found")
    try:
        raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
    except (EOFError, OSError, zlib.error) as e:  # BadGzipFile is an OSError
        raise UserError(f"{p}: not a readable gzip file ({e})") from None
    if len(raw) < 8:
        raise UserError(f"{p}: truncated IDX file ({len(raw)} bytes)")
    magic, count = struct.unpack(">ii", raw[:8])
    if magic == _MAGIC_IMAGES:
        if len(raw) < 16:
            raise UserError(f"{p}: truncated IDX header")
        rows, cols = struct.unpack(">ii", raw[8:16])
        shape, offset = (count, rows, cols), 16
    elif magic == _MAGIC_LABELS:
        shape, offset = (count,), 8
    else:
        raise UserError(f"{p}: not an IDX image or label file (magic {magic})")
    if min(shape) < 0:
        raise UserError(f"{p}: malformed IDX header {shape}")
    need = int(np.prod(shape))
    if len(raw) - offset != need:
        raise UserError(f"{p}: truncated or oversized IDX data ({len(raw) - offset} bytes, expected {need})")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape).copy()


@lru_cache(maxsize=4)
def _load(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    img_name, lab_name = _FILES[split]
    images = read_idx(Path(folder) / img_name)
    labels = read_idx(Path(folder) / lab_name)
    if images.ndim != 3 or labels.ndim != 1:
        raise UserError(f"{folder}: {img_name} / {lab_name} are not an image and a label file")
    if len(images) != len(labels):
        raise UserError(f"{folder}: {len(images)} images but {len(labels)} labels in the {split} split")
    if labels.size and int(labels.max()) >= len(CLASSES):
        raise UserError(f"{folder}/{lab_name}: label {int(labels.max())} out of range 0-9")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of a split: ``uint8`` arrays ``(N, 28, 28)`` and ``(N,)`` (read-only, cached).

    ``split`` is ``"train"`` (60,000 images) or ``"test"`` (the shared copy holds 5,000).
    """
    if split not in _FILES:
        raise UserError(f"unknown Fashion-MNIST split {split!r} (expected 'train' or 'test')")
    return _load(str(fashion_mnist_dir(root).resolve()), split)


def pad_images(images: np.ndarray, size: int = 32, value: int = 0) -> np.ndarray:
    """Pad ``(..., H, W)`` images symmetrically to ``size × size`` (the extra pixel, if odd, goes last)."""
    h, w = images.shape[-2:]
    if size < h or size < w:
        raise UserError(f"cannot pad {h}x{w} images to {size}x{size}")
    top, left = (size - h) // 2, (size - w) // 2
    pad = [(0, 0)] * (images.ndim - 2) + [(top, size - h - top), (left, size - w - left)]
    return np.pad(images, pad, mode="constant", constant_values=value)
