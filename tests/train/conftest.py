"""Fixtures of the training-task tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture()
def data_root(tmp_path: Path) -> Path:
    """A fake data root: ``photos/`` with 2 and ``CBSD68/`` with 3 random 8-bit RGB PNGs of 48 pixels
    wide and 40, 48, 56 high (what the photo-pool tasks such as durrnet and hinet read)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for sub, n in (("photos", 2), ("CBSD68", 3)):
        (tmp_path / sub).mkdir()
        for i in range(n):
            a = (rng.random((40 + 8 * i, 48, 3)) * 255).astype(np.uint8)
            Image.fromarray(a).save(tmp_path / sub / f"{i:03d}.png")
    return tmp_path
