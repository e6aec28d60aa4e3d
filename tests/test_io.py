"""Image I/O: round trips per format, bit depth and channels; the 16-bit PNG codec; errors; atomic writes."""

from __future__ import annotations

import os
import struct
import sys
import zlib
from pathlib import Path

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


def test_16_bit_kept_for_jpeg_and_bmp_becomes_8_with_a_note(tmp_path):
    a = _img(1)
    notes: list[str] = []
    _, info = read_image(write_image(tmp_path / "x.bmp", a, 16, notes=notes))
    assert info.bit_depth == 8
    assert notes == [f"{tmp_path / 'x.bmp'}: BMP holds 8 bits: written at 8 bits (the data had 16 bits)"]
    notes.clear()
    write_image(tmp_path / "y.jpg", a, 8, notes=notes)  # 8 bits asked for: nothing to say
    assert notes == []


def test_notes_become_warnings_without_a_list(tmp_path):
    with pytest.warns(io.ImageNote, match="JPEG holds 8 bits"):
        write_image(tmp_path / "x.jpg", _img(3), 16)


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
    def boom(self, fp, *_a, **_k):
        with open(fp, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(UserError, match="No space left"):
        write_image(tmp_path / "x.png", _img(1))
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_hands_the_writer_a_path(tmp_path):
    seen = []

    def writer(tmp):
        seen.append(tmp)
        Path(tmp).write_bytes(b"data")

    p = io.atomic_write(tmp_path / "f.bin", writer)
    assert p.read_bytes() == b"data" and isinstance(seen[0], str) and Path(seen[0]).parent == tmp_path
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.bin"]
    q = io.atomic_write_bytes(tmp_path / "g.bin", lambda f: f.write(b"xy"))  # file-object writers too
    assert q.read_bytes() == b"xy"
    r = io.atomic_write_bytes(tmp_path / "h.bin", b"raw")  # and the bytes themselves
    assert r.read_bytes() == b"raw"
    with pytest.raises(UserError, match="output exists"):
        io.atomic_write_bytes(r, b"again")
    assert io.atomic_write_bytes(r, b"again", force=True).read_bytes() == b"again"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.bin", "g.bin", "h.bin"]


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


# ------------------------------------------------------------------------- 16-bit colour TIFF, tifffile


def _no_tifffile(monkeypatch):
    monkeypatch.setitem(sys.modules, "tifffile", None)  # import tifffile -> ImportError


def test_16_bit_rgb_tiff_round_trip_with_tifffile(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    q = RNG.integers(0, 65536, size=(13, 17, 3), dtype=np.uint16)
    src = tmp_path / "rgb16.tif"
    tifffile.imwrite(src, q, photometric="rgb")
    a, info = read_image(src)
    assert info.bit_depth == 16 and info.dtype == "uint16" and info.channels == 3 and info.mode == "RGB;16"
    np.testing.assert_array_equal(np.rint(a * 65535).astype(np.uint16), q)
    out = write_image(tmp_path / "out.tif", a, info=info)  # the file writer takes a path, not a file object
    back = tifffile.imread(out)
    assert back.dtype == np.uint16 and back.shape == (13, 17, 3)
    np.testing.assert_array_equal(back, q)
    al = _img(1)
    b, binfo = read_image(write_image(tmp_path / "rgba16.tif", a, 16, alpha=al))
    assert binfo.mode == "RGBA;16" and binfo.alpha is not None
    np.testing.assert_array_equal(binfo.alpha, _expected(al, 16))


def test_16_bit_colour_tiff_without_tifffile_is_refused_in_one_line(tmp_path, monkeypatch):
    tifffile = pytest.importorskip("tifffile")
    src = tmp_path / "rgb16.tif"
    tifffile.imwrite(src, RNG.integers(0, 65536, size=(13, 17, 3), dtype=np.uint16), photometric="rgb")
    _no_tifffile(monkeypatch)
    with pytest.raises(UserError) as e:
        read_image(src)
    assert str(e.value) == f"{src}: reading 16-bit colour TIFF needs tifffile: pip install innverse[tiff]"
    dst = tmp_path / "out.tif"
    with pytest.raises(UserError) as e:
        write_image(dst, _img(3), 16)
    assert str(e.value) == f"{dst}: writing 16-bit colour TIFF needs tifffile: pip install innverse[tiff]"
    assert not dst.exists() and "\n" not in str(e.value)
    with pytest.raises(UserError, match="float colour TIFF needs tifffile"):
        write_image(dst, _img(3), 32)
    notes: list[str] = []
    write_image(dst, _img(3), 8, notes=notes)  # 8 bits asked for explicitly: written, nothing lost silently
    assert read_image(dst)[1].bit_depth == 8 and notes == []


# ----------------------------------------------------------------------------------------- float TIFF


def test_float32_gray_tiff_round_trips_as_float32(tmp_path):
    a = _img(1)
    a[0, 0], a[0, 1] = 1.25, -0.2  # noise overshoot is kept, not clipped
    p = write_image(tmp_path / "f.tif", a, 32)
    with Image.open(p) as im:
        assert im.mode == "F"
    b, info = read_image(p)
    assert info.bit_depth == 32 and info.dtype == "float32" and info.is_float and b.dtype == np.float32
    np.testing.assert_array_equal(b, a)
    c, cinfo = read_image(write_image(tmp_path / "g.tif", b, info=info))  # honours the input's info
    assert cinfo.dtype == "float32"
    np.testing.assert_array_equal(c, a)


def test_float32_colour_tiff_round_trips_as_float32(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    a = _img(3)
    src = tmp_path / "fc.tif"
    tifffile.imwrite(src, a, photometric="rgb")
    b, info = read_image(src)
    assert info.bit_depth == 32 and info.dtype == "float32" and info.channels == 3
    np.testing.assert_array_equal(b, a)
    back = tifffile.imread(write_image(tmp_path / "out.tif", b, info=info))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, a)


def test_float_tiff_on_0_255_is_refused(tmp_path):
    p = tmp_path / "f255.tif"
    Image.fromarray((_img(1) * 255).astype(np.float32)).save(p)
    with pytest.raises(UserError, match=r"f255.tif: float images must be on \[0, 1\]; this file spans"):
        read_image(p)


def test_float_data_to_png_says_it_is_written_at_16_bits(tmp_path):
    notes: list[str] = []
    a = _img(1)
    b, info = read_image(write_image(tmp_path / "f.png", a, 32, notes=notes))
    assert info.bit_depth == 16 and notes == [
        f"{tmp_path / 'f.png'}: PNG holds no floats: float data written as 16-bit (clipped to [0, 1])"
    ]
    np.testing.assert_array_equal(b, _expected(a, 16))


def test_write_image_applies_the_value_rule(tmp_path):
    with pytest.raises(UserError, match=r"spans \[0, 255\] — divide by 255 or pass uint8"):
        write_image(tmp_path / "x.png", np.linspace(0, 255, 100, dtype=np.float32).reshape(10, 10))
    q = RNG.integers(0, 256, size=(9, 11), dtype=np.uint8)
    b, _ = read_image(write_image(tmp_path / "u8.png", q))  # integer arrays are scaled by their dtype
    np.testing.assert_array_equal(np.rint(b * 255).astype(np.uint8), q)


# ------------------------------------------------------------------------------------ multipage TIFF


def test_multipage_tiff_is_refused_unless_read_as_a_stack(tmp_path):
    pages = [_img(1) for _ in range(3)]
    frames = [Image.fromarray(quantize(p, 8)) for p in pages]
    src = tmp_path / "pages.tif"
    frames[0].save(src, save_all=True, append_images=frames[1:])
    with pytest.raises(UserError) as e:
        read_image(src)
    assert str(e.value) == f"{src}: multipage TIFF (3 pages); read it with stack=True to process every page"
    s, info = read_image(src, stack=True)
    assert s.shape == (3, 13, 17) and info.pages == 3 and info.stacked
    np.testing.assert_array_equal(s, np.stack([_expected(p, 8) for p in pages]))
    out = write_image(tmp_path / "out.tif", s * 0.5, info=info)
    with Image.open(out) as im:
        assert im.n_frames == 3
    back, binfo = read_image(out, stack=True)
    np.testing.assert_array_equal(back, np.stack([_expected(p * 0.5, 8) for p in s]))
    with pytest.raises(UserError, match="PNG holds one image; write the 3 pages to a .tif"):
        write_image(tmp_path / "out.png", s, info=info)
    one, oinfo = read_image(write_image(tmp_path / "single.png", _img(3)), stack=True)
    assert one.shape == (1, 13, 17, 3) and oinfo.pages == 1


def test_multipage_16_bit_colour_stack_with_tifffile(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    q = RNG.integers(0, 65536, size=(2, 13, 17, 3), dtype=np.uint16)
    src = tmp_path / "stack16.tif"
    tifffile.imwrite(src, q, photometric="rgb")
    s, info = read_image(src, stack=True)
    assert s.shape == (2, 13, 17, 3) and info.bit_depth == 16 and info.pages == 2
    out = write_image(tmp_path / "out.tif", s, info=info)
    with tifffile.TiffFile(out) as tf:
        assert len(tf.pages) == 2
        np.testing.assert_array_equal(np.stack([p.asarray() for p in tf.pages]), q)


def test_multipage_tiff_with_unequal_pages_is_refused(tmp_path):
    a, b = Image.fromarray(quantize(_img(1), 8)), Image.fromarray(quantize(_img(1, 8, 8), 8))
    src = tmp_path / "mixed.tif"
    a.save(src, save_all=True, append_images=[b])
    with pytest.raises(UserError, match=r"TIFF pages differ \(page 1: 17×13 gray 8-bit, page 2: 8×8 gray"):
        read_image(src, stack=True)


# ------------------------------------------------------------------------------------------ metadata


def _icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(orientation: int | None = None) -> bytes:
    ex = Image.Exif()
    ex[0x010F] = "innverse camera"  # Make
    ex[0x0131] = "test"  # Software
    if orientation is not None:
        ex[0x0112] = orientation
    ex.get_ifd(0x8769)[0x829A] = (1, 250)  # ExposureTime in the EXIF sub-IFD
    return ex.tobytes()


def _exif_of(info) -> tuple[str | None, dict]:
    ex = Image.Exif()
    ex.load(info.exif)
    return ex.get(0x010F), dict(ex.get_ifd(0x8769))


@pytest.mark.parametrize(
    "ext,channels,bits",
    [(".png", 3, 8), (".png", 1, 16), (".png", 3, 16), (".jpg", 3, 8), (".tif", 3, 8), (".tif", 1, 16),
     (".tif", 1, 32)],
)  # fmt: skip
def test_icc_exif_xmp_dpi_round_trip(tmp_path, ext, channels, bits):
    icc, xmp = _icc(), b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    src_info = io.ImageInfo(
        None, "PNG", "RGB", bits, channels, None, icc, exif=_exif(), xmp=xmp, dpi=(300, 300)
    )
    notes: list[str] = []
    p = write_image(tmp_path / f"m{ext}", _img(channels), info=src_info, notes=notes)
    assert notes == []
    _, info = read_image(p)
    assert info.icc_profile == icc and info.xmp == xmp
    assert info.dpi is not None and abs(info.dpi[0] - 300) < 0.1
    make, sub = _exif_of(info)
    t = sub[0x829A]
    assert make == "innverse camera" and (t[0] / t[1] if isinstance(t, tuple) else float(t)) == 0.004


def test_metadata_survives_png_to_jpeg_to_tiff(tmp_path):
    icc = _icc()
    first = write_image(
        tmp_path / "a.png",
        _img(3),
        icc_profile=icc,
        info=io.ImageInfo(None, "PNG", "RGB", 8, 3, exif=_exif(), text={"Title": "a test"}),
    )
    _, info = read_image(first)
    assert info.text == {"Title": "a test"} and info.icc_profile == icc
    notes: list[str] = []
    _, jinfo = read_image(write_image(tmp_path / "b.jpg", _img(3), info=info, notes=notes))
    assert notes == [f"{tmp_path / 'b.jpg'}: JPEG cannot store text (Title): not kept"]
    _, tinfo = read_image(write_image(tmp_path / "c.tif", _img(3), info=jinfo))
    assert tinfo.icc_profile == icc and _exif_of(tinfo)[0] == "innverse camera"
    ex = Image.Exif()
    ex.load(tinfo.exif)
    assert not set(ex) & {256, 257, 258, 273, 279}  # only descriptive tags travel as EXIF


def test_16_bit_colour_tiff_keeps_icc_and_says_exif_is_not_kept(tmp_path):
    pytest.importorskip("tifffile")
    icc = _icc()
    info = io.ImageInfo(None, "PNG", "RGB;16", 16, 3, None, icc, exif=_exif(), dpi=(200, 200))
    notes: list[str] = []
    p = write_image(tmp_path / "c16.tif", _img(3), info=info, notes=notes)
    assert notes == [f"{p}: 16-bit colour TIFF (written with tifffile) cannot store EXIF: not kept"]
    _, back = read_image(p)
    assert back.icc_profile == icc and back.bit_depth == 16 and abs(back.dpi[0] - 200) < 0.01


def test_bmp_says_what_it_cannot_keep(tmp_path):
    info = io.ImageInfo(None, "PNG", "RGBA", 8, 3, _img(1), _icc(), exif=_exif())
    notes: list[str] = []
    write_image(tmp_path / "x.bmp", _img(3), info=info, notes=notes)
    assert notes == [
        f"{tmp_path / 'x.bmp'}: BMP has no alpha channel: alpha not kept",
        f"{tmp_path / 'x.bmp'}: BMP cannot store the ICC profile and EXIF: not kept",
    ]


def test_jpeg_orientation_applied_and_removed_from_kept_exif(tmp_path):
    a = (RNG.random((8, 12, 3)) * 255).astype(np.uint8)
    p = tmp_path / "rot.jpg"
    Image.fromarray(a).save(p, exif=_exif(orientation=6), quality=100)
    b, info = read_image(p)
    assert b.shape == (12, 8, 3)  # rotated upright
    ex = Image.Exif()
    ex.load(info.exif)
    assert 0x0112 not in ex and ex[0x010F] == "innverse camera"


def test_cmyk_profile_is_dropped_with_a_note(tmp_path):
    p = tmp_path / "cmyk.jpg"
    rgb = Image.fromarray((RNG.random((8, 8, 3)) * 255).astype(np.uint8))
    rgb.convert("CMYK").save(p, icc_profile=b"x" * 64)
    a, info = read_image(p)
    assert a.shape == (8, 8, 3) and info.icc_profile is None
    assert info.notes == ["CMYK converted to RGB; its ICC profile (for CMYK) not kept"]
    notes: list[str] = []
    write_image(tmp_path / "o.png", a, info=info, notes=notes)  # reading's notes travel with the output
    assert notes == [f"{tmp_path / 'o.png'}: CMYK converted to RGB; its ICC profile (for CMYK) not kept"]


def test_unknown_tiff_tags_are_named(tmp_path):
    p = tmp_path / "tags.tif"
    Image.fromarray(quantize(_img(1), 8)).save(p, tiffinfo={33432: "(c) test", 33723: b"iptc-bytes"})
    _, info = read_image(p)
    assert info.notes == ["TIFF tags not kept: IptcNaaInfo"]
    ex = Image.Exif()
    ex.load(info.exif)
    assert ex[33432] == "(c) test"  # Copyright is descriptive: kept


def test_check_writable_raises_before_any_work(tmp_path, monkeypatch):
    info16 = io.ImageInfo(None, "PNG", "RGB;16", 16, 3)
    notes = io.check_writable(tmp_path / "o.jpg", info16)
    assert notes == ["JPEG holds 8 bits: written at 8 bits (the data had 16 bits)"]
    with pytest.raises(UserError, match="unknown output format"):
        io.check_writable(tmp_path / "o.webp", info16)
    stack = io.ImageInfo(None, "TIFF", "L", 8, 1, pages=3, stacked=True)
    with pytest.raises(UserError, match="PNG holds one image"):
        io.check_writable(tmp_path / "o.png", stack)
    assert io.check_writable(tmp_path / "o.tif", stack) == []
    _no_tifffile(monkeypatch)
    with pytest.raises(UserError, match="writing 16-bit colour TIFF needs tifffile: pip install innverse"):
        io.check_writable(tmp_path / "o.tif", info16)
    assert io.check_writable(tmp_path / "o.tif", info16, bit_depth=8) == []
    assert not list(tmp_path.iterdir())
