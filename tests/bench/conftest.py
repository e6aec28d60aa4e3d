"""Shared assets of the benchmark tests: a tiny test set and tiny models, nothing from the data root."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from innverse.models import NENet, WINNet

TINY = dict(levels=1, channels=8, blocks=1, dn_channels=8, dn_iters=1)


@pytest.fixture(scope="package")
def assets(tmp_path_factory) -> dict[str, Path]:
    """Three 48x48 gray PNGs, a non-blind and a blind tiny WINNet, a tiny NENet, a 5x5 kernel."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("bench")
    data = root / "tiny"
    data.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48]
    for i in range(3):
        smooth = 0.5 + 0.3 * np.sin(xx / (4 + i)) * np.cos(yy / 5)
        a = np.clip(smooth + 0.05 * rng.standard_normal((48, 48)), 0, 1)
        Image.fromarray((a * 255).round().astype(np.uint8)).save(data / f"img{i}.png")
    torch.manual_seed(0)
    WINNet(**TINY).save(root / "wn")
    WINNet(**TINY, blind=True).save(root / "wb")
    NENet(hidden=4, layers=1).save(root / "ne")
    k = np.zeros((5, 5))
    k[2, :] = 1.0
    np.save(root / "k.npy", k)
    return {
        "root": root,
        "data": data,
        "wn": root / "wn",
        "wb": root / "wb",
        "ne": root / "ne",
        "k": root / "k.npy",
    }
