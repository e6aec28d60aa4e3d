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
    assert set(parts) == set(t.log_fields) - {"adv_loss", "steg_acc"}
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


def test_highpass_mse_is_the_steganalysers_residual_energy():
    from innverse.models.steganalysis import Steganalyser
    from innverse.train.tasks.hinet import highpass_mse

    g = torch.Generator().manual_seed(0)
    cover = torch.rand(2, 3, 12, 10, generator=g)
    assert float(highpass_mse(cover, cover.clone())) == 0.0
    stego = cover + 0.01 * torch.randn(cover.shape, generator=g)
    hp = highpass_mse(stego, cover)
    assert hp.shape == () and float(hp) > 0
    # the same residual domain the detector sees (its residuals are on the 0-255 scale)
    det = Steganalyser(channels=3)
    ref = ((det.residuals(stego) - det.residuals(cover)) / 255).square().mean()
    assert torch.allclose(hp, ref, rtol=1e-4)
    # an interior impulse of height a in one channel: KV energy 596/144 a^2, each difference 2 a^2
    d = torch.zeros(1, 3, 9, 9)
    d[0, 1, 4, 4] = 0.5
    want = 0.25 * (596 / 144 + 2 + 2) / (3 * 3 * 9 * 9)
    assert abs(float(highpass_mse(d, torch.zeros_like(d))) - want) < 1e-7
    # a constant offset has no high-pass energy
    assert float(highpass_mse(cover + 0.25, cover)) < 1e-10
    with pytest.raises(ValueError):
        highpass_mse(cover, cover[:, :2])


def _grads(model: torch.nn.Module, total: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad(set_to_none=True)
    total.backward()
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]


def _hiding_model_and_batch(t: HiNetTask) -> tuple[torch.nn.Module, dict]:
    """A HiNet of ``t`` with small random weights (seed 0; it hides something) and batch 0 of 4."""
    from innverse.nn.testing import randomise_

    torch.manual_seed(0)
    model = t.build_model()
    randomise_(model, std=0.05)
    return model, t.batch(0, 4, (0, 1))


def test_highpass_term_weights_gradients_and_recipe(data_root: Path):
    from innverse.train.tasks.hinet import highpass_mse

    t0, t1 = _task(data_root), _task(data_root, w_highpass=0.5)
    model, batch = _hiding_model_and_batch(t0)
    h, r, lo, stego8, _ = t0.losses(model, batch["cover"], batch["secrets"], batch["z"])
    old = 2 * h + 5 * r + lo  # the loss before the term existed
    g_old = _grads(model, old)
    # w = 0: the previous loss and gradient exactly; the term is still logged
    total0, parts0 = t0.loss(model, batch, 0)
    assert torch.equal(total0.detach(), old.detach())
    assert all(torch.equal(a, b) for a, b in zip(_grads(model, total0), g_old, strict=True))
    hp = highpass_mse(stego8.detach(), batch["cover"])
    assert float(hp) > 0 and torch.allclose(parts0["highpass_mse"], hp)
    # w > 0: adds w * highpass_mse of the 8-bit stego, and its gradient reaches the model
    total1, parts1 = t1.loss(model, batch, 0)
    assert set(parts1) == set(t1.log_fields) - {"adv_loss", "steg_acc"} and "highpass_mse" in t1.log_fields
    assert torch.allclose(total1.detach(), old.detach() + 0.5 * hp, rtol=1e-6, atol=0)
    g1 = _grads(model, total1)
    assert any(not torch.allclose(a, b) for a, b in zip(g1, g_old, strict=True))
    _, _, _, stego8b, _ = t1.losses(model, batch["cover"], batch["secrets"], batch["z"])
    g_hp = _grads(model, highpass_mse(stego8b, batch["cover"]))
    assert sum(float(g.abs().sum()) for g in g_hp) > 0 and all(torch.isfinite(g).all() for g in g_hp)
    # an untrained HiNet (zero-initialised sub-network outputs) hides nothing: its 8-bit stego is the
    # cover and the term vanishes
    fresh = t0.build_model()
    _, _, _, s8, _ = t0.losses(fresh, batch["cover"], batch["secrets"], batch["z"])
    assert torch.equal(s8, batch["cover"]) and float(t1.loss(fresh, batch, 0)[1]["highpass_mse"]) == 0.0
    # the recipe: off leaves it out (the recipe of runs before the term), on records the weight
    assert "w_highpass" not in t0.recipe() and t1.recipe()["w_highpass"] == 0.5
    assert set(t1.recipe()) - set(t0.recipe()) == {"w_highpass"}


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_w_highpass_is_checked(data_root: Path, bad: float):
    t = HiNetTask(HiNetTrainConfig(data=str(data_root), w_highpass=bad))
    with pytest.raises(UserError, match="--w-highpass must be a finite number >= 0"):
        t.check()


def test_cli_rejects_a_negative_w_highpass(data_root: Path, tmp_path: Path, capsys):
    from innverse.cli import main

    out = tmp_path / "run"
    code = main(["train", "hinet", "--data", str(data_root), "--w-highpass", "-1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--w-highpass must be a finite number >= 0" in lines[0], err
    assert not out.exists()


def test_engine_run_records_and_logs_the_highpass_term(data_root: Path, tmp_path: Path):
    import csv
    import json

    from innverse.train.checkpoint import read_config
    from innverse.train.engine import Engine, EngineConfig

    t = HiNetTask(HiNetTrainConfig(data=str(data_root), blocks=1, hidden=4, crop=16, w_highpass=1.5), seed=0)
    out = tmp_path / "run"
    cfg = EngineConfig(
        out=str(out), batch_size=2, max_steps=2, device="cpu", progress=False, val_every=2, log_every=1
    )
    assert Engine(t, cfg).run() == 0
    with open(out / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(float(r["highpass_mse"]) >= 0 for r in rows)
    card = json.loads((out / "model" / "card.json").read_text())
    assert card["recipe"]["task_config"]["w_highpass"] == 1.5
    assert read_config(out)["recipe"]["task_config"]["w_highpass"] == 1.5


# ------------------------------------------------------------------ the adversarial term (--w-adv)
def test_adversarial_term_trains_the_detector_and_pushes_the_hider(data_root: Path):
    t0, t1 = _task(data_root), _task(data_root, w_adv=0.5)
    model, batch = _hiding_model_and_batch(t0)
    total0, parts0 = t0.loss(model, batch, 0)
    assert "adv_loss" not in parts0 and t0.state_dict() == {}
    rng = torch.get_rng_state()
    fresh = t1.state_dict()["steganalyser"]  # a fresh detector, seeded by the run's seed alone
    assert torch.equal(torch.get_rng_state(), rng)
    total1, parts1 = t1.loss(model, batch, 0)
    assert set(parts1) == set(t1.log_fields)
    adv, acc = parts1["adv_loss"], parts1["steg_acc"]
    assert float(adv) > 0 and 0.0 <= float(acc) <= 1.0
    assert torch.allclose(total1.detach(), total0.detach() + 0.5 * adv, rtol=1e-6, atol=0)
    # the detector took one step; the hider's term does not reach its weights
    net, _ = t1._adversary(torch.device("cpu"))
    after = {k: v.clone() for k, v in net.state_dict().items()}
    assert any(not torch.equal(fresh[k], after[k]) for k in fresh if after[k].is_floating_point())
    grads = [None if p.grad is None else p.grad.clone() for p in net.parameters()]
    g1 = _grads(model, total1)
    assert all(
        (a is None and p.grad is None) or torch.equal(a, p.grad)
        for a, p in zip(grads, net.parameters(), strict=True)
    )
    assert any(not torch.allclose(a, b) for a, b in zip(g1, _grads(model, total0), strict=True))
    # the same seed gives the same detector
    assert all(
        torch.equal(fresh[k], v) for k, v in _task(data_root, w_adv=0.5).state_dict()["steganalyser"].items()
    )
    # the recipe: off leaves the three settings out, on records them
    assert not set(t0.recipe()) & {"w_adv", "adv_lr", "adv_width"}
    assert set(t1.recipe()) - set(t0.recipe()) == {"w_adv", "adv_lr", "adv_width"}


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"w_adv": -1.0}, "--w-adv must be"),
        ({"w_adv": float("nan")}, "--w-adv must be"),
        ({"adv_lr": 0.0}, "--adv-lr must be"),
        ({"adv_width": 0}, "--adv-width at least 1"),
    ],
)
def test_adversarial_settings_are_checked(data_root: Path, bad: dict, match: str):
    t = HiNetTask(HiNetTrainConfig(data=str(data_root), **bad))
    with pytest.raises(UserError, match=match):
        t.check()


def test_adversarial_run_resumes_bit_identically(data_root: Path, tmp_path: Path):
    import csv

    from innverse.train.engine import Engine, EngineConfig

    def run(out: Path, steps: int, resume: bool = False) -> Engine:
        t = HiNetTask(HiNetTrainConfig(data=str(data_root), blocks=1, hidden=4, crop=16, w_adv=1.0), seed=0)
        cfg = EngineConfig(
            out=str(out),
            batch_size=2,
            max_steps=steps,
            device="cpu",
            progress=False,
            log_every=1,
            ckpt_every=100,
            resume=resume,
            lr_schedule="constant",
        )
        e = Engine(t, cfg)
        assert e.run() == 0
        return e

    straight = run(tmp_path / "a", 4)
    run(tmp_path / "b", 2)
    resumed = run(tmp_path / "b", 4, resume=True)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    da, db = straight.task.state_dict(), resumed.task.state_dict()
    assert all(torch.equal(v, db["steganalyser"][k]) for k, v in da["steganalyser"].items())
    with open(tmp_path / "b" / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["1", "2", "3", "4"] and all(
        0 <= float(r["steg_acc"]) <= 1 for r in rows
    )
    # a checkpoint without the detector cannot resume an adversarial run
    t = HiNetTask(HiNetTrainConfig(data=str(data_root), w_adv=1.0), seed=0)
    with pytest.raises(UserError, match="holds no --w-adv steganalyser state"):
        t.load_state_dict({})
