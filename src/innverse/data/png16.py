"""A small PNG codec for what Pillow cannot do: 16-bit colour (gray+alpha, RGB, RGBA), with metadata.

Pillow decodes 16-bit colour PNG to 8 bits and cannot write it.  :func:`read_png16` decodes
non-interlaced files of colour types 2, 4 and 6 at depth 16 (all five scanline filters) and reads
the metadata chunks iCCP (ICC profile), eXIf (EXIF), pHYs (resolution), tEXt/zTXt/iTXt (text;
``XML:com.adobe.xmp`` as XMP); :func:`png16_bytes` writes such files (filter 0, zlib level 6) with
the same chunks.  gAMA and cHRM are not carried and are reported in ``Metadata.notes``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from innverse.errors import UserError

__all__ = ["PNG_SIGNATURE", "EXIF_PREFIX", "XMP_KEY", "Metadata", "read_png16", "png16_bytes"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: the prefix Pillow gives EXIF blocks (``info["exif"]``); the eXIf chunk stores what follows it
EXIF_PREFIX = b"Exif\x00\x00"
#: the iTXt keyword of an XMP packet
XMP_KEY = "XML:com.adobe.xmp"


@dataclass
class Metadata:
    """Metadata of an image file besides its pixels (shared with :mod:`innverse.data.io`)."""

    icc: bytes | None = None
    exif: bytes | None = None  # with the EXIF_PREFIX, as Pillow gives it
    xmp: bytes | None = None
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what is not carried over, one line each


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(data: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    """Undo PNG scanline filters; returns a (height, stride) uint8 array."""
    if len(data) < height * (stride + 1):
        raise ValueError("image data too short")
    rows = np.frombuffer(data, dtype=np.uint8, count=height * (stride + 1)).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        ftype = int(rows[y, 0])
        line = rows[y, 1:]
        if ftype == 0:
            cur = line.copy()
        elif ftype == 1:  # Sub: cumulative sum over pixels, per byte position
            cur = (np.cumsum(line.reshape(-1, bpp).astype(np.uint32), axis=0) % 256).astype(np.uint8).ravel()
        elif ftype == 2:  # Up
            cur = line + prev
        elif ftype in (3, 4):  # Average / Paeth: sequential along the row
            buf = bytearray(line.tobytes())
            up = prev.tobytes()
            for i in range(stride):
                a = buf[i - bpp] if i >= bpp else 0
                b = up[i]
                if ftype == 3:
                    pred = (a + b) >> 1
                else:
                    c = up[i - bpp] if i >= bpp else 0
                    pred = _paeth(a, b, c)
                buf[i] = (buf[i] + pred) & 0xFF
            cur = np.frombuffer(bytes(buf), dtype=np.uint8)
        else:
            raise ValueError(f"bad PNG filter type {ftype}")
        out[y] = cur
        prev = cur
    return out


def _text_chunk(tag: bytes, body: bytes) -> tuple[str, str]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk."""
    key, _, rest = body.partition(b"\x00")
    k = key.decode("latin-1")
    if tag == b"tEXt":
        return k, rest.decode("latin-1")
    if tag == b"zTXt":
        return k, zlib.decompress(rest[1:]).decode("latin-1")
    flag, _method = rest[0], rest[1]
    _lang, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    return k, (zlib.decompress(text) if flag else text).decode("utf-8")


def read_png16(path: Path) -> tuple[np.ndarray, int, Metadata]:
    """Decode a non-interlaced 16-bit PNG of colour type 2, 4 or 6, with its metadata chunks.

    Returns ``(array, colour type, metadata)``: ``array`` is ``H×W×n`` uint16 (n = 3, 2 or 4).
    Truncated or corrupt data raises ValueError/zlib.error; interlacing raises :class:`UserError`.
    """
    raw = path.read_bytes()
    pos = 8
    idat: list[bytes] = []
    width = height = ctype = interlace = -1
    meta = Metadata()
    while pos + 8 <= len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        ctag = raw[pos + 4 : pos + 8]
        body = raw[pos + 8 : pos + 8 + length]
        if len(body) < length:
            raise ValueError("truncated PNG chunk")
        if ctag == b"IHDR":
            width, height, _depth, ctype, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
        elif ctag == b"IDAT":
            idat.append(body)
        elif ctag == b"iCCP":
            _name, _, rest = body.partition(b"\x00")
            meta.icc = zlib.decompress(rest[1:]) or None
        elif ctag == b"eXIf":
            meta.exif = EXIF_PREFIX + body
        elif ctag == b"pHYs" and len(body) == 9:
            px, py, unit = struct.unpack(">IIB", body)
            if unit == 1:
                meta.dpi = (px * 0.0254, py * 0.0254)
        elif ctag in (b"tEXt", b"zTXt", b"iTXt"):
            k, v = _text_chunk(ctag, body)
            if k == XMP_KEY:
                meta.xmp = v.encode("utf-8")
            else:
                meta.text[k] = v
        elif ctag in (b"gAMA", b"cHRM"):
            meta.notes.append(f"PNG {ctag.decode()} chunk not kept")
        elif ctag == b"IEND":
            break
        pos += 12 + length
    else:
        raise ValueError("PNG ends before IEND (truncated)")
    if interlace != 0:
        raise UserError(
            f"{path}: interlaced 16-bit colour PNG is not supported; re-save it without interlacing"
        )
    nch = {2: 3, 4: 2, 6: 4}[ctype]
    data = zlib.decompress(b"".join(idat))
    rows = _unfilter(data, height, width * nch * 2, nch * 2)
    return rows.view(">u2").reshape(height, width, nch).astype(np.uint16), ctype, meta


def _chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


def _meta_chunks(meta: Metadata) -> bytes:
    out = b""
    if meta.icc:
        out += _chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(meta.icc))
    if meta.dpi:
        px, py = (max(1, round(d / 0.0254)) for d in meta.dpi)
        out += _chunk(b"pHYs", struct.pack(">IIB", px, py, 1))
    if meta.exif:
        out += _chunk(b"eXIf", meta.exif[6:] if meta.exif.startswith(EXIF_PREFIX) else meta.exif)
    if meta.xmp:
        out += _chunk(b"iTXt", XMP_KEY.encode() + b"\x00\x00\x00\x00\x00" + meta.xmp)
    for k, v in meta.text.items():
        key = k.encode("latin-1", "replace")[:79]
        try:
            out += _chunk(b"tEXt", key + b"\x00" + v.encode("latin-1"))
        except UnicodeEncodeError:
            out += _chunk(b"iTXt", key + b"\x00\x00\x00\x00\x00" + v.encode("utf-8"))
    return out


def png16_bytes(q: np.ndarray, meta: Metadata) -> bytes:
    """A 16-bit PNG (gray, gray+alpha, RGB or RGBA) from an H×W or H×W×n uint16 array."""
    if q.ndim == 2:
        q = q[..., None]
    h, w, n = q.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[n]
    rows = q.astype(">u2").reshape(h, w * n).view(np.uint8)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter type 0 per row
    ihdr = struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _meta_chunks(meta)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )
