"""``innverse benchmark glow`` parts on tiny inputs: the histogram baseline, test bits/dim, the
normflows peer, the side-by-side budget, activation memory with and without InvertibleCheckpoint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from innverse.bench.glow import dataset_bpd, histogram_bpd, saved_activation_bytes, side_by_side
from innverse.models.glow import Glow


def test_histogram_bpd_by_hand() -> None:
    train = np.zeros((4, 1, 2), dtype=np.uint8)
    train[:, 0, 1] = [0, 0, 255, 255]
    test = np.array([[[0, 255]]], dtype=np.uint8)
    # pixel 0: p(0) = (4 + 1) / (4 + 256); pixel 1: p(255) = (2 + 1) / (4 + 256)
    want = -(math.log2(5 / 260) + math.log2(3 / 260)) / 2
    assert abs(histogram_bpd(train, test) - want) < 1e-12
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 256, (20000, 2, 2), dtype=np.uint8)
    assert abs(histogram_bpd(uniform, uniform[:500]) - 8.0) < 0.05


def test_dataset_bpd_is_the_mean_of_bits_per_dim() -> None:
    torch.manual_seed(0)
    m = Glow(levels=2, steps=1, width=4, image_size=8).eval()
    imgs = (torch.rand(10, 1, 8, 8) * 256).to(torch.uint8)
    want = torch.cat(
        [
            m.bits_per_dim(imgs[:4], seed=3),
            m.bits_per_dim(imgs[4:8], seed=4),
            m.bits_per_dim(imgs[8:], seed=5),
        ]
    )
    assert abs(dataset_bpd(m, imgs, seed=3, batch=4) - float(want.mean())) < 1e-9


def test_checkpoint_saves_activation_memory() -> None:
    x = torch.rand(8, 1, 8, 8)
    sizes = {}
    for ck in (False, True):
        torch.manual_seed(0)
        m = Glow(levels=2, steps=4, width=16, image_size=8, checkpoint=ck).train()
        with torch.no_grad():
            m.log_prob(x[:2])
        sizes[ck] = saved_activation_bytes(m, x)
    assert sizes[True] < sizes[False] / 3


@pytest.mark.slow  # importing normflows takes seconds
def test_normflows_side_by_side() -> None:
    pytest.importorskip("normflows")
    from innverse.bench.glow import normflows_bits_per_dim, normflows_glow

    torch.manual_seed(0)
    peer = normflows_glow(2, 2, 8, (8, 8))
    x = torch.rand(4, 1, 8, 8)
    bpd = normflows_bits_per_dim(peer, x)
    assert bpd.shape == (4,) and bool(torch.isfinite(bpd).all())
    from innverse.train.tasks.glow import GlowTask, GlowTrainConfig

    task = GlowTask(GlowTrainConfig(steps_per_level=2, width=8, val_images=0), seed=0)
    images = (torch.rand(64, 8, 8) * 256).to(torch.uint8)
    task.train_images, task.val_images, task._perm = images, images[:0, None], None
    res = side_by_side(task, 0.5, 2, 2, 8, batch_size=8)
    assert set(res["steps"]) == {"innverse", "normflows"} and min(res["steps"].values()) >= 1
    assert all(s >= 0.5 for s in res["seconds"].values())
    # the same flow; the priors differ (ours: a 3x3 conv of the kept half; normflows: per channel)
    assert abs(res["params"]["innverse"] - res["params"]["normflows"]) < 0.02 * res["params"]["innverse"]
