"""Image I/O: round trips per format, bit depth and channels; the 16-bit PNG codec; errors; atomic writes."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from innverse.data import io
from innverse.data.io import quantize, read_image, sample_path, write_image
from innverse.errors import UserError

RNG = np.random.default_rng(0)


def _img(channels: int, h: int = 13, w: int = 17) -> np.ndarray:
    shape = (h, w) if channels == 1 else (h, w, channels)
    return RNG.random(shape).astype(np.float32)


def _expected(a: np.ndarray, bits: int) -> np.ndarray:
    return quantize(a, bits).astype(np.float32) / (255.0 if bits == 8 else 65535.0)


LOSSLESS = [
    (".png", 1, 8),
    (".png", 3, 8),
    (".png", 1, 16),
    (".png", 3, 16),
    (".tif", 1, 8),
    (".tif", 3, 8),
    (".tif", 1, 16),
    (".bmp", 1, 8),
    (".bmp", 3, 8),
]


@pytest.mark.parametrize("ext,channels,bits", LOSSLESS)
def test_round_trip_lossless(tmp_path, ext, channels, bits):
    a = _img(channels)
    p = write_image(tmp_path / f"x{ext}", a, bits)
    b, info = read_image(p)
    assert info.bit_depth == bits and info.channels == channels
    assert b.dtype == np.float32 and b.shape == a.shape
    np.testing.assert_array_equal(b, _expected(a, bits))


@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_jpeg(tmp_path, channels):
    yy, xx = np.mgrid[0:32, 0:48] / 48.0
    a = (0.5 + 0.4 * np.sin(6 * xx + 3 * yy)).astype(np.float32)
    if channels == 3:
        a = np.stack([a, a[::-1], 1 - a], axis=2)
    b, info = read_image(write_image(tmp_path / "x.jpg", a, 8))
    assert info.format == "JPEG" and info.bit_depth == 8 and b.shape == a.shape
    assert np.abs(b - a).mean() < 0.01


def test_16_bit_gray_uses_pillow_i16(tmp_path):
    a = _img(1)
    for ext in (".png", ".tif"):
        p = write_image(tmp_path / f"g{ext}", a, 16)
        with Image.open(p) as im:
            assert im.mode == "I;16"


def test_16_bit_kept_for_jpeg_and_bmp_becomes_8(tmp_path):
    a = _img(1)
    _, info = read_image(write_image(tmp_path / "x.bmp", a, 16))
    assert info.bit_depth == 8


def test_16_bit_colour_tiff_without_tifffile(tmp_path):
    try:
        import tifffile  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match="tifffile"):
            write_image(tmp_path / "x.tif", _img(3), 16)
        assert not list(tmp_path.iterdir())
    else:  # pragma: no cover - depends on the environment
        b, info = read_image(write_image(tmp_path / "x.tif", _img(3), 16))
        assert info.bit_depth == 16


@pytest.mark.parametrize("channels,bits", [(1, 8), (3, 8), (1, 16), (3, 16)])
def test_alpha_round_trip_png(tmp_path, channels, bits):
    a, al = _img(channels), _img(1)
    b, info = read_image(write_image(tmp_path / "a.png", a, bits, alpha=al))
    np.testing.assert_array_equal(b, _expected(a, bits))
    np.testing.assert_array_equal(info.alpha, _expected(al, bits))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filtered_png16(q: np.ndarray) -> bytes:
    """A 16-bit RGB PNG whose rows cycle through the five filter types."""
    h, w, _ = q.shape
    bpp = 6
    rows = q.astype(">u2").reshape(h, w * 3).view(np.uint8).astype(int)
    out = bytearray()
    prev = [0] * (w * bpp)
    for y in range(h):
        ft = y % 5
        cur = list(rows[y])
        enc = []
        for i, v in enumerate(cur):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][ft]
            enc.append((v - pred) % 256)
        out += bytes([ft] + enc)
        prev = cur

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    sig = b"\x89PNG\r\n\x1a\n"
    return sig + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(out))) + chunk(b"IEND", b"")


def test_png16_reader_all_filters(tmp_path):
    q = RNG.integers(0, 65536, size=(10, 7, 3), dtype=np.uint16)
    p = tmp_path / "f.png"
    p.write_bytes(_filtered_png16(q))
    b, info = read_image(p)
    assert info.bit_depth == 16 and info.mode == "RGB;16"
    np.testing.assert_array_equal(np.rint(b * 65535).astype(np.uint16), q)


# ---------------------------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="no such file") as e:
        read_image(tmp_path / "nope.png")
    assert "nope.png" in str(e.value)


def test_directory(tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        read_image(tmp_path)


def test_zero_bytes(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(UserError, match="empty file"):
        read_image(p)


def test_not_an_image(tmp_path):
    p = tmp_path / "text.png"
    p.write_text("this is not an image\n")
    with pytest.raises(UserError, match="not a recognised image"):
        read_image(p)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp"])
def test_truncated(tmp_path, ext):
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    a = (0.5 + 0.4 * np.sin(9 * xx * yy + 4 * xx)).astype(np.float32)
    full = write_image(tmp_path / f"full{ext}", np.stack([a, a.T, 1 - a], 2), 8).read_bytes()
    p = tmp_path / f"cut{ext}"
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(UserError, match="cut") as e:
        read_image(p)
    assert "truncated" in str(e.value) or "not a recognised" in str(e.value)


def test_png16_truncated(tmp_path):
    p = tmp_path / "cut16.png"
    full = write_image(tmp_path / "full16.png", _img(3, 40, 40), 16).read_bytes()
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(UserError, match="truncated or corrupt"):
        read_image(p)


def test_too_small(tmp_path):
    p = write_image(tmp_path / "tiny.png", _img(1, 4, 5), 8)
    with pytest.raises(UserError, match=r"5×4 pixels, at least 8×8"):
        read_image(p, min_size=8)
    read_image(p, min_size=4)


def test_unsupported_format(tmp_path):
    p = tmp_path / "x.gif"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(p)
    with pytest.raises(UserError, match="unsupported image format GIF"):
        read_image(p)


def test_unknown_output_suffix(tmp_path):
    with pytest.raises(UserError, match="unknown output format"):
        write_image(tmp_path / "x.webp", _img(1))


# ------------------------------------------------------------------------------------------ atomic writes


def test_no_overwrite_without_force(tmp_path):
    p = write_image(tmp_path / "x.png", _img(1))
    before = p.read_bytes()
    with pytest.raises(UserError, match="exists"):
        write_image(p, _img(1))
    assert p.read_bytes() == before
    write_image(p, np.zeros((13, 17), np.float32), force=True)
    assert p.read_bytes() != before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["x.png"]


def test_temp_file_removed_on_failure(tmp_path, monkeypatch):
    def boom(*_a, **_k):
        def writer(f):
            f.write(b"partial")
            raise OSError(28, "No space left on device")

        return writer

    monkeypatch.setattr(io, "_encode", boom)
    with pytest.raises(UserError, match="No space left"):
        write_image(tmp_path / "x.png", _img(1))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="output folder"):
        write_image(blocker / "sub" / "x.png", _img(1))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder(tmp_path):  # pragma: no cover - not run as root
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        with pytest.raises(UserError, match="cannot write"):
            write_image(d / "x.png", _img(1))
    finally:
        d.chmod(0o700)


def test_output_creates_folders(tmp_path):
    p = write_image(tmp_path / "a" / "b" / "x.png", _img(1))
    assert p.is_file()


def test_sample_image():
    p = sample_path()
    assert p.stat().st_size < 100_000
    a, info = read_image(p)
    assert a.shape == (256, 256) and info.bit_depth == 8 and info.channels == 1
    assert (p.parent / "README.md").is_file()


def test_tensor_helpers():
    a = _img(3)
    t = io.to_tensor(a)
    assert tuple(t.shape) == (1, 3, 13, 17)
    np.testing.assert_array_equal(io.from_tensor(t), a)
    g = _img(1)
    np.testing.assert_array_equal(io.from_tensor(io.to_tensor(g)), g)
