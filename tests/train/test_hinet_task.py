"""``innverse train hinet``: seeded batches, the three HiNet losses with 8-bit quantisation in the loop,
the fixed test tiles, and a short engine run whose export loads as a hiding model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from innverse.errors import UserError
from innverse.train.registry import get_task
from innverse.train.tasks.hinet import HiNetTask, HiNetTrainConfig, held_out_pairs, held_out_tiles


def _task(root: Path, **kw) -> HiNetTask:
    t = HiNetTask(HiNetTrainConfig(data=str(root), blocks=2, hidden=4, crop=16, **kw), seed=3)
    t.check()
    t.prepare(0, 1)
    return t


def test_registered_and_checked(data_root: Path):
    assert get_task("hinet") is HiNetTask
    for bad in ({"crop": 15}, {"crop": 4}, {"w_reveal": 0.0}, {"blocks": 0}, {"clamp": 0.0}):
        t = HiNetTask(HiNetTrainConfig(data=str(data_root), **bad))
        with pytest.raises(UserError):
            t.check()


@pytest.mark.parametrize("n", [1, 4])
def test_batches_are_seeded_and_sharded(data_root: Path, n: int):
    t = _task(data_root, secrets=n)
    a, b, c = t.batch(5, 4, (0, 1)), t.batch(5, 4, (0, 1)), t.batch(6, 4, (0, 1))
    assert a["cover"].shape == (4, 3, 16, 16) and a["secrets"].shape == (4, n, 3, 16, 16)
    assert a["z"].shape == (4, 12 * n, 8, 8)
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["cover"], c["cover"])
    half = t.batch(5, 4, (1, 2))
    assert torch.equal(half["secrets"], a["secrets"][2:])
    assert t.fingerprint()["images"] == 5


def test_losses_reveal_from_the_8bit_stego(data_root: Path):
    t = _task(data_root, secrets=1)
    torch.manual_seed(0)
    model = t.build_model()
    from innverse.nn.testing import randomise_

    randomise_(model, std=0.05)
    batch = t.batch(0, 4, (0, 1))
    h, r, lo, stego8, revealed = t.losses(model, batch["cover"], batch["secrets"], batch["z"])
    levels = stego8 * 255
    assert torch.allclose(levels, levels.round(), atol=1e-4) and stego8.min() >= 0 and stego8.max() <= 1
    _, ref = model.reveal(stego8.detach(), batch["z"])
    assert torch.allclose(revealed[0], ref[0], atol=1e-6)
    stego, _ = model.hide(batch["cover"], [batch["secrets"][:, 0]])
    assert torch.allclose(h, (stego - batch["cover"]).square().mean())
    ll = model.low_frequency
    assert torch.allclose(lo, (ll(stego) - ll(batch["cover"])).square().mean())
    total, parts = t.loss(model, batch, 0)
    total.backward()
    assert set(parts) == set(t.log_fields)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert abs(float(total.detach()) - float((2 * h + 5 * r + lo).detach())) < 1e-5
    scores = t.validate(model.eval(), torch.device("cpu"))
    assert set(scores) == set(t.val_fields) and all(np.isfinite(list(scores.values())))


def test_test_tiles_and_pairs():
    ims = [np.full((321, 481, 3), i, np.uint8) for i in range(12)]
    ims[3] = np.full((481, 321, 3), 3, np.uint8)
    tiles = held_out_tiles(ims)
    assert tiles.shape == (72, 128, 128, 3)
    covers, secrets = held_out_pairs(tiles, 4)
    assert covers.shape == (72, 3, 128, 128) and secrets.shape == (72, 4, 3, 128, 128)
    img = covers[:, 0, 0, 0] * 255
    for j in range(4):  # every secret comes from another image than its cover
        assert (secrets[:, j, 0, 0, 0] * 255 != img).all()


def test_engine_run_exports_a_hiding_model(data_root: Path, tmp_path: Path):
    from innverse.apps.hiding import hide_tensor, load_hider, reveal_tensor
    from innverse.train.engine import Engine, EngineConfig

    t = HiNetTask(HiNetTrainConfig(data=str(data_root), blocks=1, hidden=4, crop=16), seed=0)
    out = tmp_path / "run"
    cfg = EngineConfig(out=str(out), batch_size=2, max_steps=3, device="cpu", progress=False, val_every=3)
    assert Engine(t, cfg).run() == 0
    net = load_hider(out / "model")
    assert net.config["blocks"] == 1 and net.secrets == 1
    x = torch.rand(1, 3, 8, 8)
    stego = hide_tensor(net, x, [x.flip(-1)])
    assert stego.shape == x.shape and len(reveal_tensor(net, stego, 0)) == 1
