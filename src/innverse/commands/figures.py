"""Side-by-side comparison figures (``--compare``): image panels with readable captions.

:func:`compare_figure` puts panels (e.g. noisy | denoised | clean reference) next to each other with
a white gap and one or two caption lines under each, in a TrueType font sized to the panels
(Pillow's bundled font, ``ImageFont.load_default(size=...)`` on Pillow >= 10.1; else DejaVu Sans;
else Pillow's small bitmap font drawn and scaled up).  Panels narrower than :data:`MIN_PANEL`
pixels are enlarged by an integer factor (nearest neighbour) so that captions fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["compare_figure", "caption_font", "psnr_text", "MIN_PANEL"]

#: panels are enlarged (integer factor, nearest neighbour) to at least this width
MIN_PANEL = 192
_GAP = 6


def psnr_text(value: float | None) -> str:
    """``"PSNR 20.42 dB"`` (empty for None)."""
    return "" if value is None else f"PSNR {value:.2f} dB"


def caption_font(size: int) -> tuple[Any, int]:
    """(font, scale): a TrueType font of pixel ``size`` with scale 1, or the bitmap font and the
    integer factor by which text drawn with it must be enlarged."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size), 1
    except (TypeError, ImportError, OSError, AttributeError):  # Pillow < 10.1, or no FreeType
        pass
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size), 1
        except (OSError, ImportError):
            continue
    return ImageFont.load_default(), max(1, round(size / 11))


def _as_rgb(a: np.ndarray) -> np.ndarray:
    a = np.clip(np.nan_to_num(np.asarray(a, dtype=np.float32)), 0, 1)
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a


def _text_size(draw, text: str, font, scale: int) -> tuple[int, int]:
    if not text:
        return 0, 0
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    return (x1 - x0) * scale, (y1 - y0) * scale


def _draw(img, xy: tuple[int, int], text: str, font, scale: int) -> None:
    from PIL import Image, ImageDraw

    if not text:
        return
    if scale == 1:
        ImageDraw.Draw(img).text(xy, text, fill=(0, 0, 0), font=font)
        return
    probe = ImageDraw.Draw(img)
    x0, y0, x1, y1 = probe.textbbox((0, 0), text, font=font)
    small = Image.new("RGB", (int(x1) + 1, int(y1) + 1), (255, 255, 255))
    ImageDraw.Draw(small).text((0, 0), text, fill=(0, 0, 0), font=font)
    big = small.resize((small.width * scale, small.height * scale), Image.Resampling.NEAREST)
    img.paste(big, xy)


def compare_figure(panels: Sequence[tuple[np.ndarray, Sequence[str]]]) -> np.ndarray:
    """A figure of ``panels`` side by side, each ``(image, caption lines)``; float in [0, 1].

    Images are ``H×W`` or ``H×W×3`` floats in [0, 1] of one size.  The result is ``H'×W'`` (all
    panels gray) or ``H'×W'×3``.
    """
    from PIL import Image, ImageDraw

    if not panels:
        raise ValueError("compare_figure needs at least one panel")
    imgs = [_as_rgb(a) for a, _ in panels]
    h, w = imgs[0].shape[:2]
    if any(a.shape[:2] != (h, w) for a in imgs):
        raise ValueError("all panels must have the same size")
    gray = all(np.asarray(a).ndim == 2 for a, _ in panels)
    zoom = max(1, -(-MIN_PANEL // w))
    if zoom > 1:
        imgs = [np.repeat(np.repeat(a, zoom, axis=0), zoom, axis=1) for a in imgs]
        h, w = h * zoom, w * zoom
    captions = [[str(t) for t in lines if t] for _, lines in panels]
    size = int(np.clip(round(min(w, h) / 14), 12, 32))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    while True:  # shrink the font until every caption line fits its panel
        font, scale = caption_font(size)
        widest = max([_text_size(probe, t, font, scale)[0] for c in captions for t in c] + [0])
        if widest <= w - 8 or size <= 9:
            break
        size -= 1
    line_h = max(_text_size(probe, "PSNR dBgjy(", font, scale)[1], size) + max(2, size // 4)
    lines = max(len(c) for c in captions)
    strip = lines * line_h + 2 * max(4, size // 3) if lines else 0
    n = len(imgs)
    canvas = np.ones((h + strip, n * w + (n - 1) * _GAP, 3), dtype=np.float32)
    for i, a in enumerate(imgs):
        canvas[:h, i * (w + _GAP) : i * (w + _GAP) + w] = a
    fig = Image.fromarray((canvas * 255 + 0.5).astype(np.uint8))
    top = h + max(4, size // 3)
    for i, cap in enumerate(captions):
        for j, text in enumerate(cap):
            _draw(fig, (i * (w + _GAP) + 4, top + j * line_h), text, font, scale)
    out = np.asarray(fig, dtype=np.float32) / 255.0
    return out.mean(axis=2) if gray else out
