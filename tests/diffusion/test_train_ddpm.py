"""Tests of the ``ddpm`` training task (:mod:`innverse.train.tasks.ddpm`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import require_data
from innverse.diffusion.prior import load_prior
from innverse.errors import UserError
from innverse.train.registry import get_task

TINY = dict(
    width=8,
    mults=(1, 2),
    blocks=(1,),
    attention=(1,),
    groups=4,
    val_images=8,
    val_t=(50, 200),
    val_samples=2,
    T=300,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        yy, xx = np.mgrid[0:40, 0:48]
        img = 128 + 100 * np.sin(xx / (2 + i % 3)) * np.cos(yy / 4) + rng.normal(0, 5, (40, 48))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"{i}.png")
    return d


def _task(data: str, **kw):
    T = get_task("ddpm")
    cfg = T.Config(data=data, **{"size": 16, **TINY, **kw})
    task = T(cfg, seed=3)
    task.check()
    task.prepare(0, 1)
    return task


def test_batches_are_pure_and_shard(folder: Path) -> None:
    task = _task(str(folder))
    a, b = task.batch(7, 8, (0, 1)), task.batch(7, 8, (0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["x0"].shape == (8, 1, 16, 16) and a["x0"].min() >= -1 and a["x0"].max() <= 1
    assert a["t"].min() >= 0 and a["t"].max() < 300
    s0, s1 = task.batch(7, 8, (0, 2)), task.batch(7, 8, (1, 2))
    for k in a:
        assert torch.equal(torch.cat([s0[k], s1[k]]), a[k])
    assert not torch.equal(task.batch(8, 8, (0, 1))["noise"], a["noise"])
    assert task.fingerprint()["images"] == 9 and len(task.val_x) == 6  # one 40x48 image held out: 2x3 crops


def test_training_lowers_the_loss_validates_and_exports(folder: Path, tmp_path: Path) -> None:
    task = _task(str(folder))
    torch.manual_seed(0)
    model = task.build_model()
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    fixed = task.batch(0, 16, (0, 1))
    with torch.no_grad():
        before = float(task.loss(model, fixed, 0)[0])
    for s in range(40):
        loss, _ = task.loss(model, task.batch(s, 16, (0, 1)), s)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(task.loss(model, fixed, 0)[0])
    assert after < 0.7 * before
    task.out_dir, task.step = tmp_path / "run", 40
    task.out_dir.mkdir()
    model.eval()
    scores = task.validate(model, torch.device("cpu"))
    assert set(scores) == {"val_psnr_t50", "val_psnr_t200"} == set(task.val_fields)
    assert scores["val_psnr_t50"] > scores["val_psnr_t200"] > 0
    assert (tmp_path / "run" / "samples_step40.png").is_file()
    task.export(model, tmp_path / "run" / "model", {"step": 40})
    prior = load_prior(tmp_path / "run" / "model")
    assert prior.schedule.T == 300 and prior.card["step"] == 40 and prior.sample_size == 16
    x, t = torch.randn(2, 1, 16, 16), torch.tensor([3, 200])
    torch.testing.assert_close(prior(x, t), model(x, t), rtol=0, atol=0)
    assert task.describe_init(prior.unet, model) is None


def test_check_errors(folder: Path) -> None:
    T = get_task("ddpm")
    for bad in (
        dict(size=17),
        dict(channels=2),
        dict(blocks=(1, 1, 1)),
        dict(val_t=(300,)),
        dict(schedule="sq"),
    ):
        cfg = T.Config(data=str(folder), **{"size": 16, **TINY, **bad})
        with pytest.raises(UserError):
            T(cfg).check()
    with pytest.raises(UserError):
        _task(str(folder), size=64)  # images are 40x48


@pytest.mark.data
def test_fashion_mnist_data() -> None:
    require_data("fashion-mnist")
    T = get_task("ddpm")
    task = T(T.Config(val_images=20), seed=0)
    task.check()
    task.prepare(0, 1)
    assert task.epoch_size() == 60000 and task.val_x.shape == (20, 1, 32, 32)
    b = task.batch(0, 4, (0, 1))
    assert b["x0"].shape == (4, 1, 32, 32)
    assert float(b["x0"][:, :, :2].max()) == -1.0  # the padding is background
    m = task.build_model()
    assert 1_000_000 < sum(p.numel() for p in m.parameters()) < 2_500_000
