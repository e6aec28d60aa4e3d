"""Image reading and writing: PNG, JPEG, TIFF and BMP to float32 arrays in [0, 1] and back.

* :func:`read_image` returns the colour channels as ``float32`` (``H×W`` for gray, ``H×W×3`` for colour)
  and an :class:`ImageInfo` with the bit depth (8 or 16), the source mode, an optional alpha plane
  and the ICC profile.  Every problem a user can cause (missing file, folder, empty file, not an image,
  truncated image, too small for the model) is raised as :class:`~innverse.errors.UserError` naming the
  file.
* :func:`write_image` writes at a chosen bit depth (16-bit gray PNG/TIFF through Pillow's ``I;16``,
  16-bit colour PNG through a small built-in PNG writer because Pillow cannot write 48-bit PNG,
  16-bit colour TIFF through ``tifffile`` when it is installed).  Writes are atomic: a temporary file
  in the target folder is renamed into place, an existing output is never replaced unless
  ``force=True``, and the temporary file is removed on failure.

Pillow decodes 16-bit colour PNG to 8 bits, so such files (colour types 2, 4 and 6 at depth 16) are
decoded by the small reader in this module instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from innverse.errors import UserError

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageInfo",
    "read_image",
    "write_image",
    "sample_path",
    "to_tensor",
    "from_tensor",
    "quantize",
]

#: file name endings treated as images (lower case)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "TIFF": "TIFF", "BMP": "BMP", "DIB": "BMP"}
_SUFFIX_FORMAT = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class ImageInfo:
    """What :func:`read_image` learnt about a file besides its pixels."""

    path: Path | None
    format: str  # "PNG", "JPEG", "TIFF" or "BMP"
    mode: str  # Pillow mode of the file as opened (or "RGB;16"/"RGBA;16"/"LA;16" for 16-bit PNG)
    bit_depth: int  # 8 or 16
    channels: int  # 1 (gray) or 3 (colour), alpha not counted
    alpha: np.ndarray | None = None  # H×W float32 in [0, 1] when the file has an alpha channel
    icc_profile: bytes | None = None

    @property
    def is_gray(self) -> bool:
        """True for a single-channel image."""
        return self.channels == 1


def sample_path() -> Path:
    """The bundled sample image (a public-domain gray photograph, see ``data/samples/README.md``)."""
    p = Path(__file__).resolve().parent / "samples" / "sample.png"
    if not p.is_file():  # pragma: no cover - packaging error
        raise UserError(f"bundled sample image missing: {p}")
    return p


# ----------------------------------------------------------------------------------------------- reading


def _check_file(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected an image file")
    if not path.is_file():
        raise UserError(f"{path}: not a regular file")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
    if size == 0:
        raise UserError(f"{path}: empty file (0 bytes)")


def _png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) of a PNG file, or None when the file is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


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


def _read_png16(path: Path) -> tuple[np.ndarray, int]:
    """Decode a non-interlaced 16-bit PNG of colour type 2, 4 or 6: (H×W×n uint16 array, colour type)."""
    raw = path.read_bytes()
    pos = 8
    idat: list[bytes] = []
    width = height = ctype = interlace = -1
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
    arr = rows.view(">u2").reshape(height, width, nch).astype(np.uint16)
    return arr, ctype


def read_image(path: str | os.PathLike[str], min_size: int | None = None) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file into a float32 array in [0, 1].

    Returns ``(array, info)``: ``array`` is ``H×W`` (gray) or ``H×W×3`` (colour) ``float32``; alpha, if
    any, is in ``info.alpha``.  Palette, 1-bit and CMYK images are converted to gray/RGB; JPEG EXIF
    orientation is applied.  ``min_size``: smallest height/width accepted (the model's ``min_size``).

    Raises :class:`UserError` naming the file for every unreadable input.
    """
    path = Path(path)
    _check_file(path)
    try:
        header = _png_header(path)
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        if header is not None and header[0] == 16 and header[1] in (2, 4, 6):
            arr16, ctype = _read_png16(path)
            data = arr16.astype(np.float32) / 65535.0
            alpha = data[..., -1].copy() if ctype in (4, 6) else None
            color = data[..., :3] if ctype in (2, 6) else data[..., 0]
            mode = {2: "RGB;16", 4: "LA;16", 6: "RGBA;16"}[ctype]
            info = ImageInfo(path, "PNG", mode, 16, 1 if color.ndim == 2 else 3, alpha)
            array = np.ascontiguousarray(color, dtype=np.float32)
        else:
            array, info = _read_pillow(path)
    except UserError:
        raise
    except UnidentifiedImageError:
        raise UserError(f"{path}: not a recognised image file (PNG, JPEG, TIFF or BMP expected)") from None
    except Image.DecompressionBombError as e:
        raise UserError(f"{path}: image too large ({e})") from None
    except MemoryError:
        raise UserError(f"{path}: image too large to decode in memory") from None
    except Exception as e:  # truncated/corrupt data surfaces as OSError, SyntaxError, zlib.error, ...
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{path}: truncated or corrupt image ({msg})") from None
    h, w = array.shape[:2]
    if min_size is not None and min(h, w) < min_size:
        raise UserError(f"{path}: image is {w}×{h} pixels, at least {min_size}×{min_size} is needed")
    return array, info


def _read_pillow(path: Path) -> tuple[np.ndarray, ImageInfo]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            fmt = _FORMATS.get(img.format or "")
            if fmt is None:
                raise UserError(
                    f"{path}: unsupported image format {img.format} (PNG, JPEG, TIFF or BMP expected)"
                )
            img.load()  # force a full decode: truncated files fail here
            icc = img.info.get("icc_profile")
            mode = img.mode
            if fmt == "TIFF" and mode in ("RGB", "RGBA", "LA") and _tiff_bits(img) > 8:
                arr16 = _read_tiff16(path)
                if arr16 is not None:
                    return arr16
                warnings.warn(
                    f"{path}: 16-bit colour TIFF decoded at 8 bits (install 'tifffile' to keep 16 bits)",
                    stacklevel=3,
                )
            if fmt == "JPEG":
                img = ImageOps.exif_transpose(img)
            return _pillow_to_array(img, path, fmt, mode, icc)


def _tiff_bits(img: Image.Image) -> int:
    try:
        bits = img.tag_v2.get(258, (8,))  # BitsPerSample
        return int(max(bits) if isinstance(bits, tuple | list) else bits)
    except Exception:
        return 8


def _read_tiff16(path: Path) -> tuple[np.ndarray, ImageInfo] | None:
    """A 16-bit colour TIFF through ``tifffile`` (None when it is not installed)."""
    try:
        import tifffile
    except ImportError:
        return None
    a = np.asarray(tifffile.imread(path))
    if a.dtype != np.uint16 or a.ndim != 3 or a.shape[2] not in (2, 3, 4):
        return None
    d = a.astype(np.float32) / 65535.0
    alpha = d[..., -1].copy() if a.shape[2] in (2, 4) else None
    color = np.ascontiguousarray(d[..., 0] if a.shape[2] == 2 else d[..., :3])
    mode = {2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[a.shape[2]]
    return color, ImageInfo(path, "TIFF", mode, 16, 1 if color.ndim == 2 else 3, alpha)


def _pillow_to_array(img: Image.Image, path: Path, fmt: str, mode: str, icc: bytes | None):
    alpha = None
    bit_depth = 8
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        arr = np.asarray(img, dtype=np.uint16).astype(np.float32) / 65535.0
        bit_depth = 16
    elif mode == "I":
        a = np.asarray(img, dtype=np.int64)
        if a.min() < 0 or a.max() > 65535:
            raise UserError(f"{path}: 32-bit integer image with values outside 0..65535 is not supported")
        arr = a.astype(np.float32) / 65535.0
        bit_depth = 16
    elif mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        bit_depth = 16  # written back as 16-bit
    else:
        if mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif mode in ("1",):
            img = img.convert("L")
        elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
            img = img.convert("RGB")
        elif mode == "PA":
            img = img.convert("RGBA")
        elif mode == "La":
            img = img.convert("LA")
        elif mode == "RGBa":
            img = img.convert("RGBA")
        if img.mode not in ("L", "LA", "RGB", "RGBA"):
            raise UserError(f"{path}: unsupported image mode {mode}")
        a = np.asarray(img, dtype=np.uint8).astype(np.float32) / 255.0
        if img.mode in ("LA", "RGBA"):
            alpha = a[..., -1].copy()
            a = a[..., 0] if img.mode == "LA" else a[..., :3]
        arr = np.ascontiguousarray(a)
    channels = 1 if arr.ndim == 2 else 3
    return arr, ImageInfo(path, fmt, mode, bit_depth, channels, alpha, icc)


# ----------------------------------------------------------------------------------------------- writing


def quantize(array: np.ndarray, bit_depth: int) -> np.ndarray:
    """Round a float array in [0, 1] to uint8 (``bit_depth=8``) or uint16 (``16``), clipping first."""
    if bit_depth not in (8, 16):
        raise UserError(f"bit depth must be 8 or 16, got {bit_depth}")
    top = 255 if bit_depth == 8 else 65535
    a = np.nan_to_num(np.asarray(array, dtype=np.float64), nan=0.0)
    q = np.rint(np.clip(a, 0.0, 1.0) * top)
    return q.astype(np.uint8 if bit_depth == 8 else np.uint16)


def _png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


def _png16_bytes(q: np.ndarray) -> bytes:
    """A 16-bit PNG (gray, gray+alpha, RGB or RGBA) from an H×W or H×W×n uint16 array."""
    if q.ndim == 2:
        q = q[..., None]
    h, w, n = q.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[n]
    rows = q.astype(">u2").reshape(h, w * n).view(np.uint8)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter type 0 per row
    ihdr = struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw, 6))
        + _png_chunk(b"IEND", b"")
    )


def _encode(fmt: str, q: np.ndarray, bit_depth: int, icc: bytes | None, path: Path):
    """A callable writing the quantised array to an open binary file."""
    channels = 1 if q.ndim == 2 else q.shape[2]
    if bit_depth == 16:
        if fmt == "PNG" and channels > 1:
            data = _png16_bytes(q)
            return lambda f: f.write(data)
        if channels == 1:
            img = Image.fromarray(np.ascontiguousarray(q.reshape(q.shape[:2]), dtype=np.uint16))  # "I;16"
            return lambda f: img.save(
                f, format=fmt, **({"compression": "tiff_deflate"} if fmt == "TIFF" else {})
            )
        try:
            import tifffile  # optional
        except ImportError:
            raise UserError(
                f"{path}: 16-bit colour or alpha TIFF needs the 'tifffile' package; write a .png instead"
            ) from None
        photometric = "rgb" if channels in (3, 4) else "minisblack"
        extra = {"extrasamples": ["unassalpha"]} if channels in (2, 4) else {}
        return lambda f: tifffile.imwrite(f, q, photometric=photometric, **extra)
    img = Image.fromarray(np.ascontiguousarray(q if channels > 1 else q.reshape(q.shape[:2])))
    opts: dict = {}
    if icc:
        opts["icc_profile"] = icc
    if fmt == "JPEG":
        opts.update(quality=95, subsampling=0)
    elif fmt == "TIFF":
        opts["compression"] = "tiff_deflate"
    return lambda f: img.save(f, format=fmt, **opts)


def _ensure_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{folder}: output folder is a file") from None
    except NotADirectoryError:
        raise UserError(f"{folder}: cannot create output folder (a parent is a file)") from None
    except OSError as e:
        raise UserError(f"{folder}: cannot create output folder ({e.strerror or e})") from None
    if not folder.is_dir():
        raise UserError(f"{folder}: output folder is not a directory")


def atomic_write_bytes(path: str | os.PathLike[str], writer, force: bool = False) -> Path:
    """Write a file atomically: ``writer(f)`` fills a temporary file in the target folder, which is then
    renamed to ``path``.  An existing ``path`` is kept unless ``force``; the temporary file never survives.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected an output file name")
    if path.exists() and not force:
        raise UserError(f"{path}: output exists (use --force / force=True to overwrite)")
    folder = path.parent if str(path.parent) else Path(".")
    _ensure_folder(folder)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise UserError(f"{folder}: cannot write to output folder ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if force:
            os.replace(tmp, path)
        else:
            try:  # link fails if the target appeared meanwhile: never clobber without force
                os.link(tmp, path)
            except FileExistsError:
                raise UserError(f"{path}: output exists (use --force / force=True to overwrite)") from None
            except OSError as e:
                if e.errno in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                    os.replace(tmp, path)  # filesystem without hard links
                else:
                    raise
    except UserError:
        raise
    except OSError as e:
        raise UserError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_image(
    path: str | os.PathLike[str],
    array: np.ndarray,
    bit_depth: int = 8,
    alpha: np.ndarray | None = None,
    force: bool = False,
    icc_profile: bytes | None = None,
) -> Path:
    """Write a float image in [0, 1] (``H×W`` or ``H×W×3``; values are clipped) atomically.

    The format follows the file name ending (.png, .jpg/.jpeg, .tif/.tiff, .bmp).  ``bit_depth`` 16 is
    kept for PNG and TIFF; JPEG and BMP can only hold 8 bits and are written at 8.  ``alpha`` (``H×W`` in
    [0, 1]) is stored where the format allows (not in JPEG or BMP).  Raises :class:`UserError` when the output
    exists and ``force`` is false, or when the folder cannot be written.
    """
    path = Path(path)
    fmt = _SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"{path}: unknown output format '{path.suffix}' (use .png, .jpg, .tif or .bmp)")
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise UserError(f"{path}: cannot write an array of shape {a.shape} (H×W or H×W×3 expected)")
    if fmt in ("JPEG", "BMP"):
        bit_depth = 8
    if alpha is not None and fmt not in ("JPEG", "BMP"):
        al = np.asarray(alpha)
        if al.shape != a.shape[:2]:
            raise UserError(f"{path}: alpha of shape {al.shape} does not match image {a.shape[:2]}")
        a = np.concatenate([a.reshape(*a.shape[:2], -1), al[..., None]], axis=2)
    q = quantize(a, bit_depth)
    writer = _encode(fmt, q, bit_depth, icc_profile, path)
    return atomic_write_bytes(path, writer, force=force)


# ----------------------------------------------------------------------------------------------- tensors


def to_tensor(array: np.ndarray):
    """An ``H×W`` or ``H×W×C`` float array → a ``1×C×H×W`` float32 torch tensor."""
    import torch

    a = np.asarray(array, dtype=np.float32)
    if a.ndim == 2:
        a = a[None]
    else:
        a = np.moveaxis(a, 2, 0)
    return torch.from_numpy(np.ascontiguousarray(a))[None]


def from_tensor(x) -> np.ndarray:
    """A ``1×C×H×W`` tensor → an ``H×W`` (C=1) or ``H×W×C`` float32 array."""
    import torch

    a = x.detach().to("cpu", dtype=torch.float32).numpy()[0]
    return a[0] if a.shape[0] == 1 else np.ascontiguousarray(np.moveaxis(a, 0, 2))
