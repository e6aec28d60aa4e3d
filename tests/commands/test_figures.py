"""Comparison figures: panels, readable captions."""

from __future__ import annotations

import numpy as np
import pytest

from innverse.commands import figures


def _text_rows(fig: np.ndarray, top: int) -> int:
    """Height in pixels of the dark (text) rows below ``top``."""
    dark = (fig[top:] < 0.5).any(axis=1)
    rows = np.nonzero(dark)[0]
    return int(rows.max() - rows.min() + 1) if rows.size else 0


def test_layout_and_caption_size():
    a = np.full((256, 256), 0.9, np.float32)
    fig = figures.compare_figure([(a, ["noisy input", "PSNR 20.42 dB"]), (a, ["denoised"]), (a, ["clean"])])
    assert fig.ndim == 2 and fig.shape[1] == 3 * 256 + 2 * 6
    assert _text_rows(fig, 256) >= 24  # two lines of text at a real font size (>= 12 px each)
    colour = figures.compare_figure([(np.dstack([a] * 3), ["x"]), (a, ["y"])])
    assert colour.ndim == 3


def test_small_panels_are_enlarged_and_captions_fit():
    a = np.zeros((20, 30), np.float32) + 0.8
    fig = figures.compare_figure([(a, ["denoised: winnet-blind", "PSNR 31.05 dB"])])
    assert fig.shape[1] == 30 * 7 and fig.shape[0] > 20 * 7  # 30 px -> 210 px (>= 192)
    right = fig[20 * 7 :, -3:]
    assert (right > 0.9).all()  # the caption does not run off the panel


def test_psnr_text():
    assert figures.psnr_text(20.4249) == "PSNR 20.42 dB"
    assert figures.psnr_text(None) == ""


def test_bitmap_fallback(monkeypatch):
    from PIL import ImageFont

    def no_truetype(*a, **k):
        raise OSError("no FreeType")

    bitmap = ImageFont.load_default_imagefont  # what Pillow gives without FreeType
    monkeypatch.setattr(
        ImageFont, "load_default", lambda size=None: bitmap() if size is None else no_truetype()
    )
    monkeypatch.setattr(ImageFont, "truetype", no_truetype)
    font, scale = figures.caption_font(22)
    assert scale == 2
    a = np.full((256, 256), 0.9, np.float32)
    fig = figures.compare_figure([(a, ["PSNR 20.42 dB"])])
    assert _text_rows(fig, 256) >= 12


def test_mismatched_panels():
    with pytest.raises(ValueError):
        figures.compare_figure([(np.zeros((4, 4)), []), (np.zeros((5, 4)), [])])
