"""Image reading and writing: PNG, JPEG, TIFF and BMP — pixels, bit depth and metadata.

Reading: :func:`read_image` returns ``(array, info)``.

* ``array`` holds the gray or colour channels as ``float32``, ``H×W`` (gray) or ``H×W×3`` (colour):
  8- and 16-bit files divided by 255 / 65535 (so on [0, 1]); float TIFF values as stored, which must
  follow the library's float rule (on [0, 1]; values in [−3, 4] are accepted, see
  :mod:`innverse.convention`).  A multipage TIFF is refused with one line unless ``stack=True``,
  which returns every page, ``P×H×W`` or ``P×H×W×3`` (the pages must agree in size and kind).
* ``info`` is an :class:`ImageInfo`: format, mode, bit depth (8, 16, or 32 for float) and sample
  dtype, channels, the alpha plane, the ICC profile, EXIF, XMP, resolution (dpi), PNG text, the page
  count, and ``notes``: one line for each thing of the file that is not carried over (a CMYK
  file's profile, unknown TIFF tags, ...).  JPEG EXIF orientation is applied to the pixels (and
  removed from the EXIF kept).

Writing: :func:`write_image` writes ``array`` (float on [0, 1], or a stack) in the format named by
the file ending and, given ``info=``, honours the input's bit depth, sample type, alpha, pages and
metadata as far as the format allows:

======  ===============  =====  ===  =====  ===  ===  ====  =====
format  depth            alpha  ICC  EXIF   XMP  dpi  text  pages
======  ===============  =====  ===  =====  ===  ===  ====  =====
PNG     8, 16            yes    yes  yes    yes  yes  yes   1
JPEG    8                no     yes  yes    yes  yes  [1]_  1
TIFF    8, 16, float32   yes    yes  [2]_   yes  yes  no    any
BMP     8                no     no   no     no   yes  no    1
======  ===============  =====  ===  =====  ===  ===  ====  =====

.. [1] the ``Comment`` entry only (JPEG comment).
.. [2] yes when written by Pillow (8-bit, or one channel at 16 bits / float), no when written by
   ``tifffile`` (16-bit / float with several channels).  With EXIF sub-IFDs a Pillow TIFF is written
   uncompressed (libtiff cannot write them), otherwise deflate-compressed.

Whatever cannot be kept is said in one line per output (``notes``): for example "JPEG holds 8 bits:
written at 8 bits (the data had 16 bits)".  Bit depth is never lost silently: a 16-bit or float TIFF with
several channels needs ``tifffile`` (``pip install innverse[tiff]``) for reading and writing, and
without it is refused with one line ("writing 16-bit colour TIFF needs tifffile: pip install
innverse[tiff]") unless 8 bits are asked for explicitly.

Writes are atomic: the encoder writes a temporary file in the target folder (by path, so that
libraries which reopen the file work), which is then renamed into place; an existing output is
never replaced unless ``force=True``, and the temporary file is removed on failure.  Every problem a
user can cause (missing file, folder, empty file, not an image, truncated image, too small, a
format that cannot hold the data, an unwritable folder) is a :class:`~innverse.errors.UserError`
naming the file.

:func:`check_writable` raises the same format and dependency errors before any work is done.
Pillow decodes 16-bit colour PNG to 8 bits and cannot write it, so such files (colour types 2, 4
and 6 at depth 16) go through the small codec of :mod:`innverse.data.png16`, metadata chunks
(iCCP, eXIf, iTXt/tEXt/zTXt, pHYs) included.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, TiffTags, UnidentifiedImageError

from innverse.convention import float_range_problem
from innverse.data.png16 import PNG_SIGNATURE, XMP_KEY, png16_bytes, read_png16
from innverse.data.png16 import Metadata as _Meta
from innverse.errors import UserError

__all__ = [
    "IMAGE_EXTENSIONS",
    "TIFF_EXTRA",
    "ImageInfo",
    "ImageNote",
    "read_image",
    "write_image",
    "check_writable",
    "atomic_write",
    "atomic_write_bytes",
    "sample_path",
    "to_tensor",
    "from_tensor",
    "quantize",
]

#: file name endings treated as images (lower case)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: how to install the optional TIFF support
TIFF_EXTRA = "pip install innverse[tiff]"

_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "TIFF": "TIFF", "BMP": "BMP", "DIB": "BMP"}
_SUFFIX_FORMAT = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
_DTYPE_OF_DEPTH = {8: "uint8", 16: "uint16", 32: "float32"}

#: IFD0 tags of a TIFF carried over as EXIF (descriptive, not layout); sub-IFDs EXIF and GPS
_TIFF_META_TAGS = (269, 270, 271, 272, 274, 285, 306, 315, 316, 33432, 34665, 34853)
#: IFD0 tags describing the pixel layout, the resolution, ICC and XMP (handled separately), and the
#: writing software (replaced by whoever writes the output)
_TIFF_LAYOUT_TAGS = frozenset(
    (254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 273, 277, 278, 279, 280, 281, 282, 283)
    + (284, 286, 287, 290, 291, 292, 293, 296, 297, 317, 318, 319, 320, 321, 322, 323, 324, 325)
    + (330, 332, 338, 339, 340, 341, 347, 512, 513, 514, 515, 517, 518, 519, 520, 521, 529, 530)
    + (305, 531, 532, 700, 34675)
)


class ImageNote(UserWarning):
    """One line saying what :func:`write_image` could not keep; issued when no ``notes`` list is given."""


@dataclass
class ImageInfo:
    """What :func:`read_image` learnt about a file besides its pixels; :func:`write_image` honours it."""

    path: Path | None
    format: str  # "PNG", "JPEG", "TIFF" or "BMP"
    mode: str  # Pillow mode as opened, or e.g. "RGB;16", "RGB;32F" for data Pillow cannot hold
    bit_depth: int  # 8, 16, or 32 (float samples)
    channels: int  # 1 (gray) or 3 (colour), alpha not counted
    alpha: np.ndarray | None = None  # H×W (P×H×W for a stack) float32 in [0, 1]
    icc_profile: bytes | None = None
    dtype: str = ""  # sample type in the file: "uint8", "uint16", "float32", "float64", ...
    exif: bytes | None = None  # EXIF block as Pillow writes it (b"Exif\0\0" + TIFF structure)
    xmp: bytes | None = None  # XMP packet
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks; JPEG comment as "Comment"
    pages: int = 1  # pages in the file
    stacked: bool = False  # True when read with stack=True (the array is P×H×W[×3])
    notes: list[str] = field(default_factory=list)  # what was not carried over, one line each

    def __post_init__(self) -> None:
        if not self.dtype:
            self.dtype = _DTYPE_OF_DEPTH.get(self.bit_depth, "uint8")

    @property
    def is_gray(self) -> bool:
        """True for a single-channel image."""
        return self.channels == 1

    @property
    def is_float(self) -> bool:
        """True when the file holds float samples (written back as float32 TIFF)."""
        return self.bit_depth == 32


def sample_path() -> Path:
    """The bundled sample image (a public-domain gray photograph, see ``data/samples/README.md``)."""
    p = Path(__file__).resolve().parent / "samples" / "sample.png"
    if not p.is_file():  # pragma: no cover - packaging error
        raise UserError(f"bundled sample image missing: {p}")
    return p


def _tifffile(path: Path, what: str):
    """The ``tifffile`` module, or a one-line :class:`UserError` saying ``what`` needs it."""
    try:
        import tifffile
    except ImportError:
        raise UserError(f"{path}: {what} needs tifffile: {TIFF_EXTRA}") from None
    return tifffile


def _as_bytes(v: Any) -> bytes | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = v.encode("utf-8")
    if isinstance(v, tuple | list):  # some readers give byte tags as tuples of ints
        v = bytes(v)
    return bytes(v) if v else None


# ----------------------------------------------------------------------------------------------- reading


@dataclass
class _Page:
    color: np.ndarray  # H×W or H×W×3 float32
    alpha: np.ndarray | None
    bit_depth: int
    dtype: str
    mode: str


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


def _file_head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(33)


def _png_header(head: bytes) -> tuple[int, int] | None:
    """(bit depth, colour type) of a PNG file, or None when the file is not a PNG."""
    if len(head) < 33 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _is_tiff(head: bytes) -> bool:
    return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def read_image(
    path: str | os.PathLike[str],
    min_size: int | None = None,
    *,
    stack: bool = False,
    float_range: bool = True,
) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file: ``(array, info)`` (see the module docstring).

    ``array`` is ``H×W`` (gray) or ``H×W×3`` (colour) ``float32``; alpha, if any, is in ``info.alpha``.
    Palette, 1-bit and CMYK images are converted to gray/RGB; JPEG EXIF orientation is applied.
    ``min_size``: smallest height/width accepted (the model's ``min_size``).  ``stack=True``: read
    every page of a multipage TIFF, ``array`` is then ``P×H×W`` or ``P×H×W×3`` (``P`` = 1 for
    single images) and ``info.alpha`` ``P×H×W``; without it a multipage file is refused.
    ``float_range=False`` accepts 32-bit float files of any range (blur kernels, whose scale is
    normalised away); images are held to the [0, 1] rule of :mod:`innverse.convention`.

    Raises :class:`UserError` naming the file for every unreadable input.
    """
    path = Path(path)
    _check_file(path)
    try:
        head = _file_head(path)
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        header = _png_header(head)
        if header is not None and header[0] == 16 and header[1] in (2, 4, 6):
            arr16, ctype, meta = read_png16(path)
            arr = arr16.astype(np.float32) / 65535.0
            alpha16 = arr[..., -1].copy() if ctype in (4, 6) else None
            color = np.ascontiguousarray(arr[..., :3] if ctype in (2, 6) else arr[..., 0])
            mode = {2: "RGB;16", 4: "LA;16", 6: "RGBA;16"}[ctype]
            pages, fmt = [_Page(color, alpha16, 16, "uint16", mode)], "PNG"
        else:
            pages, meta, fmt = _read_pillow(path, head, stack)
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
    first = pages[0]
    n = len(pages)
    for i, p in enumerate(pages[1:], start=2):
        if (
            p.color.shape != first.color.shape
            or (p.alpha is None) != (first.alpha is None)
            or (p.bit_depth != first.bit_depth)
        ):
            raise UserError(
                f"{path}: TIFF pages differ (page 1: {_page_text(first)}, page {i}: {_page_text(p)}); "
                "only stacks of equal pages are supported"
            )
    h, w = first.color.shape[:2]
    if min_size is not None and min(h, w) < min_size:
        raise UserError(f"{path}: image is {w}×{h} pixels, at least {min_size}×{min_size} is needed")
    for p in pages if float_range else ():
        if p.bit_depth == 32:
            lo, hi = float(np.min(p.color)), float(np.max(p.color))
            problem = float_range_problem(lo, hi)
            if problem is not None:
                raise UserError(f"{path}: {problem.replace('this one', 'this file')}")
    if stack:
        array = np.stack([p.color for p in pages])
        alpha = None if first.alpha is None else np.stack([p.alpha for p in pages])  # type: ignore[misc]
    else:
        array, alpha = first.color, first.alpha
    info = ImageInfo(
        path,
        fmt,
        first.mode,
        first.bit_depth,
        1 if first.color.ndim == 2 else 3,
        alpha,
        meta.icc,
        dtype=first.dtype,
        exif=meta.exif,
        xmp=meta.xmp,
        dpi=meta.dpi,
        text=meta.text,
        pages=n,
        stacked=stack,
        notes=meta.notes,
    )
    return array, info


def _page_text(p: _Page) -> str:
    h, w = p.color.shape[:2]
    kind = ("gray" if p.color.ndim == 2 else "RGB") + ("+alpha" if p.alpha is not None else "")
    return f"{w}×{h} {kind} {f'{p.bit_depth}-bit' if p.bit_depth < 32 else 'float'}"


def _refuse_pages(path: Path, n: int, stack: bool) -> None:
    if n > 1 and not stack:
        raise UserError(f"{path}: multipage TIFF ({n} pages); read it with stack=True to process every page")


def _read_pillow(path: Path, head: bytes, stack: bool) -> tuple[list[_Page], _Meta, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except UnidentifiedImageError:
            if _is_tiff(head):  # e.g. float colour TIFF: Pillow cannot open it at all
                return _read_tifffile(path, None, "this TIFF (float or multi-sample data)", stack)
            raise
        with img:
            fmt = _FORMATS.get(img.format or "")
            if fmt is None:
                raise UserError(
                    f"{path}: unsupported image format {img.format} (PNG, JPEG, TIFF or BMP expected)"
                )
            n = int(getattr(img, "n_frames", 1) or 1)
            if fmt == "TIFF":
                _refuse_pages(path, n, stack)
                meta = _tiff_meta_pillow(img)
                for i in range(n):
                    img.seek(i)
                    what = _tiff_needs_tifffile(img)
                    if what is not None:
                        return _read_tifffile(path, meta, what, stack)
                pages = []
                for i in range(n):
                    img.seek(i)
                    img.load()
                    pages.append(_pillow_page(img, path, meta))
                return pages, meta, fmt
            if fmt == "PNG" and n > 1:
                raise UserError(f"{path}: animated PNG ({n} frames) is not supported")
            img.load()  # force a full decode: truncated files fail here
            meta = _Meta(icc=_as_bytes(img.info.get("icc_profile")), dpi=_dpi(img.info.get("dpi")))
            im: Image.Image = img
            if fmt == "JPEG":
                if n > 1:
                    meta.notes.append(f"only the primary image of the {n} in this MPO file is kept")
                im = ImageOps.exif_transpose(img)
                if im.info.get("comment"):
                    c = im.info["comment"]
                    meta.text["Comment"] = c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c)
            if fmt in ("JPEG", "PNG"):
                meta.exif = _as_bytes(im.info.get("exif"))
                meta.xmp = _as_bytes(im.info.get("xmp"))
            if fmt == "PNG":
                meta.text.update({k: str(v) for k, v in getattr(im, "text", {}).items() if k != XMP_KEY})
                for key in ("gamma", "chromaticity"):
                    if key in im.info:
                        meta.notes.append(f"PNG {'gAMA' if key == 'gamma' else 'cHRM'} chunk not kept")
            return [_pillow_page(im, path, meta)], meta, fmt


def _dpi(v: Any) -> tuple[float, float] | None:
    try:
        x, y = (float(t) for t in v)
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def _tiff_tag(img: Image.Image, tag: int, default: Any = None) -> Any:
    try:
        return getattr(img, "tag_v2").get(tag, default)  # noqa: B009 - TIFF images only
    except Exception:
        return default


def _tiff_needs_tifffile(img: Image.Image) -> str | None:
    """What Pillow cannot decode losslessly in this TIFF page (a short description), or None."""
    samples = int(_tiff_tag(img, 277, 1) or 1)
    bits = _tiff_tag(img, 258, (8,))
    bits = int(max(bits) if isinstance(bits, tuple | list) else bits)
    sformat = _tiff_tag(img, 339, 1)
    sformat = int(sformat[0] if isinstance(sformat, tuple | list) else sformat)
    if samples > 1 and bits > 8:
        kind = "colour" if samples >= 3 else "gray+alpha"
        return f"{'float' if sformat == 3 else f'{bits}-bit'} {kind} TIFF"
    if img.mode not in _PILLOW_MODES:
        return f"TIFF mode {img.mode}"
    return None


def _tiff_meta_pillow(img: Image.Image) -> _Meta:
    """ICC, resolution, XMP and the descriptive EXIF of a TIFF's first page (Pillow), and what is left out."""
    meta = _Meta(icc=_as_bytes(img.info.get("icc_profile")), dpi=_dpi(img.info.get("dpi")))
    meta.xmp = _as_bytes(_tiff_tag(img, 700))
    try:
        ex = img.getexif()
    except Exception:
        return meta
    keep = Image.Exif()
    dropped = []
    for k, v in ex.items():
        if k in (34665, 34853):
            sub = ex.get_ifd(k)
            if sub:
                keep[k] = dict(sub)
        elif k == 270 and isinstance(v, str) and v.startswith('{"shape":'):
            continue  # tifffile's own array-shape description, not the user's
        elif k in _TIFF_META_TAGS:
            keep[k] = v
        elif k not in _TIFF_LAYOUT_TAGS:
            dropped.append(TiffTags.lookup(k).name or str(k))
    if len(keep):
        meta.exif = keep.tobytes()
    if dropped:
        meta.notes.append(f"TIFF tags not kept: {', '.join(sorted(set(dropped)))}")
    return meta


def _read_tifffile(path: Path, meta: _Meta | None, what: str, stack: bool) -> tuple[list[_Page], _Meta, str]:
    """A TIFF that Pillow cannot decode losslessly (several channels at 16 bits or float), via tifffile."""
    tifffile = _tifffile(path, f"reading {what}")
    pages = []
    with tifffile.TiffFile(path) as tf:
        _refuse_pages(path, len(tf.pages), stack)
        if meta is None:
            meta = _Meta()
            tags = tf.pages[0].tags
            meta.icc = _as_bytes(tags[34675].value) if 34675 in tags else None
            meta.xmp = _as_bytes(tags[700].value) if 700 in tags else None
            meta.dpi = _tifffile_dpi(tags)
            if 34665 in tags or 34853 in tags:
                meta.notes.append("EXIF of this TIFF not kept (Pillow cannot open the file to read it)")
        for i, page in enumerate(tf.pages):
            try:
                a = np.asarray(page.asarray())
            except ValueError as e:
                if "imagecodecs" in str(e):
                    raise UserError(
                        f"{path}: this TIFF's compression needs imagecodecs: pip install imagecodecs"
                    ) from None
                raise
            pages.append(_tifffile_page(path, page, a, i))
    return pages, meta, "TIFF"


def _tifffile_dpi(tags) -> tuple[float, float] | None:
    try:
        x, y = tags[282].value, tags[283].value
        unit = int(tags[296].value) if 296 in tags else 2
    except (KeyError, TypeError, ValueError):
        return None
    fx, fy = x[0] / x[1], y[0] / y[1]
    if unit == 3:  # centimetre
        fx, fy = fx * 2.54, fy * 2.54
    elif unit != 2:
        return None
    return (fx, fy) if fx > 0 and fy > 0 else None


def _tifffile_page(path: Path, page, a: np.ndarray, index: int) -> _Page:
    samples = int(getattr(page, "samplesperpixel", 1) or 1)
    if samples > 1 and int(getattr(page, "planarconfig", 1)) == 2 and a.ndim == 3 and a.shape[0] == samples:
        a = np.moveaxis(a, 0, -1)  # planar (separate) → interleaved
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (2, 3, 4)):
        raise UserError(f"{path}: TIFF page {index + 1} has shape {a.shape}; H×W or H×W×(2-4) expected")
    photometric = int(getattr(page, "photometric", 1))
    nch = 1 if a.ndim == 2 else a.shape[-1]
    if not ((photometric in (0, 1) and nch in (1, 2)) or (photometric == 2 and nch in (3, 4))):
        raise UserError(
            f"{path}: TIFF page {index + 1}: photometric {photometric} with {nch} samples is not supported"
        )
    d: np.ndarray
    if a.dtype == np.uint8:
        d, depth = a.astype(np.float32) / 255.0, 8
    elif a.dtype == np.uint16:
        d, depth = a.astype(np.float32) / 65535.0, 16
    elif a.dtype.kind == "f":
        d, depth = a.astype(np.float32), 32
    else:
        raise UserError(f"{path}: TIFF samples of type {a.dtype} are not supported (uint8, uint16 or float)")
    if photometric == 0:  # min-is-white
        d = (1.0 - d) if depth < 32 else -d
    alpha = d[..., -1].copy() if nch in (2, 4) else None
    color = np.ascontiguousarray(d if nch == 1 else (d[..., 0] if nch == 2 else d[..., :3]))
    base = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[nch]
    mode = base if depth == 8 else f"{base};{depth if depth == 16 else '32F'}"
    if nch == 1 and depth == 32:
        mode = "F"
    return _Page(color, alpha, depth, str(a.dtype), mode)


_PILLOW_MODES = (
    "1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV",
    "I", "I;16", "I;16L", "I;16B", "I;16N", "F",
)  # fmt: skip


def _pillow_page(img: Image.Image, path: Path, meta: _Meta) -> _Page:
    mode = img.mode
    alpha = None
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return _Page(np.asarray(img, dtype=np.uint16).astype(np.float32) / 65535.0, None, 16, "uint16", mode)
    if mode == "I":
        iv = np.asarray(img, dtype=np.int64)
        if iv.min() < 0 or iv.max() > 65535:
            raise UserError(f"{path}: 32-bit integer image with values outside 0..65535 is not supported")
        return _Page(iv.astype(np.float32) / 65535.0, None, 16, "uint16", mode)
    if mode == "F":
        bits = _tiff_tag(img, 258, (32,))
        bits = int(max(bits) if isinstance(bits, tuple | list) else bits)
        return _Page(np.asarray(img, dtype=np.float32), None, 32, f"float{bits}", mode)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "1":
        img = img.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        if mode != "YCbCr" and mode != "RGBX" and meta.icc is not None:
            meta.icc = None
            note = f"{mode} converted to RGB; its ICC profile (for {mode}) not kept"
            if note not in meta.notes:
                meta.notes.append(note)
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
    return _Page(np.ascontiguousarray(a), alpha, 8, "uint8", mode)


# ----------------------------------------------------------------------------------------------- writing


def quantize(array: np.ndarray, bit_depth: int) -> np.ndarray:
    """Round a float array in [0, 1] to uint8 (``bit_depth=8``) or uint16 (``16``), clipping first."""
    if bit_depth not in (8, 16):
        raise UserError(f"bit depth must be 8 or 16, got {bit_depth}")
    top = 255 if bit_depth == 8 else 65535
    a = np.nan_to_num(np.asarray(array, dtype=np.float64), nan=0.0)
    q = np.rint(np.clip(a, 0.0, 1.0) * top)
    return q.astype(np.uint8 if bit_depth == 8 else np.uint16)


def _pil_image(q: np.ndarray) -> Image.Image:
    if q.ndim == 2 or q.shape[2] == 1:
        return Image.fromarray(np.ascontiguousarray(q.reshape(q.shape[:2])))  # L, I;16 or F
    return Image.fromarray(np.ascontiguousarray(q))  # LA, RGB, RGBA (uint8)


def _pillow_options(fmt: str, meta: _Meta) -> dict:
    opts: dict[str, Any] = {}
    if meta.dpi:
        opts["dpi"] = meta.dpi
    if fmt == "BMP":
        return opts
    if meta.icc:
        opts["icc_profile"] = meta.icc
    if fmt == "PNG":
        if meta.exif:
            opts["exif"] = meta.exif
        if meta.text or meta.xmp:
            pi = PngImagePlugin.PngInfo()
            for k, v in meta.text.items():
                pi.add_text(k, v)
            if meta.xmp:
                pi.add_itxt(XMP_KEY, meta.xmp.decode("utf-8", "replace"))
            opts["pnginfo"] = pi
    elif fmt == "JPEG":
        opts.update(quality=95, subsampling=0)
        if meta.exif:
            opts["exif"] = meta.exif
        if meta.xmp:
            opts["xmp"] = meta.xmp
        if meta.text.get("Comment"):
            opts["comment"] = meta.text["Comment"]
    elif fmt == "TIFF":
        ex = Image.Exif()
        if meta.exif:
            ex.load(meta.exif)
            for tag in [int(t) for t in ex]:
                if tag in _TIFF_LAYOUT_TAGS:
                    del ex[tag]
        if meta.xmp:
            ex[700] = meta.xmp
        if len(ex):
            opts["exif"] = ex
        # libtiff (used for compression) cannot write EXIF/GPS sub-IFDs: keep them, uncompressed
        if not any(k in ex for k in (34665, 34853)):
            opts["compression"] = "tiff_deflate"
    return opts


def _tifffile_writer(pages: list[np.ndarray], meta: _Meta, path: Path, what: str) -> Callable[[str], None]:
    tifffile = _tifffile(path, f"writing {what}")
    n = 1 if pages[0].ndim == 2 else pages[0].shape[2]
    kw: dict[str, Any] = {"photometric": "rgb" if n >= 3 else "minisblack", "compression": "zlib"}
    if n in (2, 4):
        kw["extrasamples"] = ["unassalpha"]
    if meta.icc:
        kw["iccprofile"] = meta.icc
    if meta.dpi:
        kw["resolution"] = tuple(float(d) for d in meta.dpi)
        kw["resolutionunit"] = "INCH"

    def write(tmp: str) -> None:
        with tifffile.TiffWriter(tmp) as tw:
            for i, page in enumerate(pages):
                extra = [(700, "B", len(meta.xmp), meta.xmp, True)] if meta.xmp and i == 0 else []
                tw.write(page, metadata=None, extratags=extra, **kw)

    return write


def _check_pages(array: Any, path: Path, stack: bool) -> list[np.ndarray]:
    a = np.asarray(array)
    if a.dtype == np.uint8 or a.dtype == np.uint16:
        a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 65535.0)
    elif a.dtype == np.bool_:
        a = a.astype(np.float32)
    elif a.dtype.kind != "f":
        raise UserError(f"{path}: cannot write an array of dtype {a.dtype} (float on [0, 1], uint8, uint16)")
    if stack:
        if not (a.ndim == 3 or (a.ndim == 4 and a.shape[3] in (1, 3))):
            raise UserError(f"{path}: cannot write a stack of shape {a.shape} (P×H×W or P×H×W×3 expected)")
        pages = list(a)
    else:
        if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3))):
            raise UserError(f"{path}: cannot write an array of shape {a.shape} (H×W or H×W×3 expected)")
        pages = [a]
    pages = [p[..., 0] if p.ndim == 3 and p.shape[2] == 1 else p for p in pages]
    if pages and pages[0].size and a.dtype.kind == "f":
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        problem = float_range_problem(lo, hi)
        if problem is not None:
            raise UserError(f"{path}: {problem}")
    return pages


def _missing(fmt: str, meta: _Meta, tifffile_used: bool) -> list[str]:
    """Metadata present in ``meta`` that ``fmt`` (and the chosen encoder) cannot store."""
    lost = []
    if meta.icc and fmt == "BMP":
        lost.append("the ICC profile")
    if meta.exif and (fmt == "BMP" or tifffile_used):
        lost.append("EXIF")
    if meta.xmp and fmt == "BMP":
        lost.append("XMP")
    text = dict(meta.text)
    if fmt == "JPEG":
        text.pop("Comment", None)
    if text and fmt != "PNG":
        lost.append(f"text ({', '.join(sorted(text))})")
    return lost


@dataclass
class _Plan:
    fmt: str
    depth: int  # the depth written: 8, 16 or 32 (float32)
    keep_alpha: bool
    use_tifffile: bool
    what: str  # the output kind, for messages ("PNG", "16-bit colour TIFF (written with tifffile)")
    notes: list[str]  # without the path prefix


def _plan(
    path: Path,
    bit_depth: int | None,
    info: ImageInfo | None,
    channels: int,
    has_alpha: bool,
    n_pages: int,
    meta: _Meta,
) -> _Plan:
    """How ``write_image`` writes this output, what it will say, and the UserErrors it raises first."""
    fmt = _SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"{path}: unknown output format '{path.suffix}' (use .png, .jpg, .tif or .bmp)")
    depth = bit_depth if bit_depth is not None else (info.bit_depth if info is not None else 8)
    if depth not in (8, 16, 32):
        raise UserError(f"bit depth must be 8, 16 or 32 (float), got {depth}")
    if n_pages > 1 and fmt != "TIFF":
        raise UserError(f"{path}: {fmt} holds one image; write the {n_pages} pages to a .tif file")
    notes = list(meta.notes)
    data_text = {8: "8 bits", 16: "16 bits", 32: "float samples"}[depth]
    if fmt in ("JPEG", "BMP") and depth > 8:
        notes.append(f"{fmt} holds 8 bits: written at 8 bits (the data had {data_text})")
        depth = 8
    if fmt == "PNG" and depth == 32:
        notes.append("PNG holds no floats: float data written as 16-bit (clipped to [0, 1])")
        depth = 16
    keep_alpha = has_alpha and fmt not in ("JPEG", "BMP")
    if has_alpha and not keep_alpha:
        notes.append(f"{fmt} has no alpha channel: alpha not kept")
    if info is not None and info.dtype == "float64" and depth == 32:
        notes.append("float64 data written as float32")
    n = channels + int(keep_alpha)
    use_tifffile = fmt == "TIFF" and depth > 8 and n > 1
    what = fmt
    if use_tifffile:
        what = f"{'float' if depth == 32 else '16-bit'} {'colour' if n >= 3 else 'gray+alpha'} TIFF"
        _tifffile(path, f"writing {what}")
        what += " (written with tifffile)"
    lost = _missing(fmt, meta, use_tifffile)
    if lost:
        notes.append(f"{what} cannot store {' and '.join(lost)}: not kept")
    return _Plan(fmt, depth, keep_alpha, use_tifffile, what, notes)


def _meta_of(info: ImageInfo | None, icc_profile: bytes | None) -> _Meta:
    meta = _Meta()
    if info is not None:
        meta = _Meta(info.icc_profile, info.exif, info.xmp, info.dpi, dict(info.text), list(info.notes))
    if icc_profile is not None:
        meta.icc = icc_profile
    return meta


def check_writable(
    path: str | os.PathLike[str],
    info: ImageInfo | None = None,
    bit_depth: int | None = None,
    channels: int | None = None,
    stack: bool | None = None,
) -> list[str]:
    """Check, before any work, that :func:`write_image` can write ``path`` for an input like ``info``.

    Raises the :class:`UserError` that writing would raise (unknown file ending, a multipage stack to
    a single-image format, a 16-bit/float colour TIFF without ``tifffile``) and returns the notes it
    would give (without the path prefix).  ``channels`` defaults to ``info.channels`` (else 1).
    """
    path = Path(path)
    stack = bool(info.stacked if (stack is None and info is not None) else stack)
    n_pages = info.pages if (info is not None and stack) else 1
    ch = channels if channels is not None else (info.channels if info is not None else 1)
    has_alpha = info is not None and info.alpha is not None
    return _plan(path, bit_depth, info, ch, has_alpha, n_pages, _meta_of(info, None)).notes


def write_image(
    path: str | os.PathLike[str],
    array: np.ndarray,
    bit_depth: int | None = None,
    alpha: np.ndarray | None = None,
    force: bool = False,
    icc_profile: bytes | None = None,
    *,
    info: ImageInfo | None = None,
    stack: bool | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Write an image atomically, in the format of the file name ending (.png, .jpg, .tif, .bmp).

    ``array``: float on [0, 1] (``H×W`` or ``H×W×3``; values are clipped when quantised, float32
    TIFF output is written unclipped), or uint8/uint16 (scaled by 255/65535).  With ``stack=True``
    (default: ``info.stacked``) it is a stack ``P×H×W`` / ``P×H×W×3`` written as a multipage TIFF.

    ``info``: the :class:`ImageInfo` of the input; its bit depth (8, 16, or 32 = float32), alpha,
    ICC profile, EXIF, XMP, dpi and text are kept where the format allows (module table), and its
    ``notes`` (what reading could not carry over) are passed on.  Explicit ``bit_depth``, ``alpha``
    and ``icc_profile`` override it; ``bit_depth`` defaults to ``info.bit_depth``, else 8.

    What cannot be kept (bit depth the format cannot hold, alpha in JPEG/BMP, metadata) is reported
    as one line per item, prefixed with the path: appended to ``notes`` when a list is given,
    otherwise issued as :class:`ImageNote` warnings.  A 16-bit or float TIFF with several channels
    needs ``tifffile`` and is refused with one line without it (:func:`check_writable` raises the
    same errors before any work).  Raises :class:`UserError` when the output exists and ``force``
    is false, or when the folder cannot be written.
    """
    path = Path(path)
    if path.suffix.lower() not in _SUFFIX_FORMAT:
        raise UserError(f"{path}: unknown output format '{path.suffix}' (use .png, .jpg, .tif or .bmp)")
    stack = bool(info.stacked if (stack is None and info is not None) else stack)
    pages = _check_pages(array, path, stack)
    if not pages:
        raise UserError(f"{path}: empty stack, nothing to write")
    shape = pages[0].shape
    if any(p.shape != shape for p in pages):
        raise UserError(f"{path}: the pages of a stack must have equal shapes")
    if alpha is None and info is not None:
        alpha = info.alpha
    if alpha is not None:
        al = np.asarray(alpha, dtype=np.float32)
        want = (len(pages), *shape[:2]) if stack else shape[:2]
        if al.shape != want:
            raise UserError(f"{path}: alpha of shape {al.shape} does not match image {want}")
    meta = _meta_of(info, icc_profile)
    channels = 1 if len(shape) == 2 else shape[2]
    plan = _plan(path, bit_depth, info, channels, alpha is not None, len(pages), meta)
    if alpha is not None and plan.keep_alpha:
        als = list(al) if stack else [al]
        pages = [
            np.concatenate([p.reshape(*p.shape[:2], -1), a[..., None]], axis=2)
            for p, a in zip(pages, als, strict=True)
        ]
    if plan.depth == 32:
        qpages = [np.asarray(p, dtype=np.float32) for p in pages]
    else:
        qpages = [quantize(p, plan.depth) for p in pages]
    fmt = plan.fmt
    if plan.use_tifffile:
        writer = _tifffile_writer(qpages, meta, path, plan.what)
    elif fmt == "PNG" and plan.depth == 16 and qpages[0].ndim == 3:
        data = png16_bytes(qpages[0], meta)

        def writer(tmp: str) -> None:
            with open(tmp, "wb") as f:
                f.write(data)

    else:
        imgs = [_pil_image(q) for q in qpages]
        opts = _pillow_options(fmt, meta)
        if len(imgs) > 1:
            opts.update(save_all=True, append_images=imgs[1:])

        def writer(tmp: str) -> None:
            imgs[0].save(tmp, format=fmt, **opts)

    out = atomic_write(path, writer, force=force)
    said = [f"{path}: {n}" for n in plan.notes]
    if notes is not None:
        notes.extend(said)
    else:
        for line in said:
            warnings.warn(line, ImageNote, stacklevel=2)
    return out


# ------------------------------------------------------------------------------------------ atomic writes


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


def atomic_write(path: str | os.PathLike[str], writer: Callable[[str], Any], force: bool = False) -> Path:
    """Write a file atomically: ``writer(tmp)`` writes the temporary file ``tmp`` (a path in the target
    folder, so encoders that open or reopen it by name work), which is then renamed to ``path``.

    An existing ``path`` is kept unless ``force``; the temporary file never survives.
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
        os.close(fd)
    except OSError as e:
        raise UserError(f"{folder}: cannot write to output folder ({e.strerror or e})") from None
    try:
        writer(tmp)
        with open(tmp, "rb+") as f:
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


def atomic_write_bytes(
    path: str | os.PathLike[str], writer: Callable[[Any], Any] | bytes, force: bool = False
) -> Path:
    """:func:`atomic_write` for writers of an open binary file: ``writer(f)`` fills the temporary file
    (``writer`` may also be the ``bytes`` to write)."""

    def by_path(tmp: str) -> None:
        with open(tmp, "wb") as f:
            if isinstance(writer, bytes):
                f.write(writer)
            else:
                writer(f)

    return atomic_write(path, by_path, force=force)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
