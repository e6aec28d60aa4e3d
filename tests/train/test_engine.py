"""Tests of the training engine with the WINNet/NENet tasks: exact resume, NaN rollback, EMA,
never-clobber, the CLI, torchrun."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import innverse
from _ddp_worker import TinyDenoiser, TinyEstimator, winnet_task
from innverse.cli import main as cli_main
from innverse.errors import UserError
from innverse.train import Engine, EngineConfig, PatchSampler, learning_rate, step_lr
from innverse.train.checkpoint import has_checkpoint, read_config
from innverse.train.losses import denoising_loss, sigma_loss
from innverse.train.patches import dihedral_grids, load_gray
from innverse.train.tasks.nenet import NENetTask, NENetTrainConfig
from innverse.train.tasks.noisy_patches import validate_denoiser
from innverse.train.tasks.winnet import WINNetTask, WINNetTrainConfig

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Three small gray images and one colour image."""
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(40, 44), (36, 36), (48, 40)]):
        yy, xx = np.mgrid[0:h, 0:w]
        img = 128 + 60 * np.sin(xx / (3 + i)) * np.cos(yy / 5) + rng.normal(0, 10, (h, w))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"im{i}.png")
    rgb = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(d / "colour.png")
    return d


def _run(data: Path, out: Path, model=None, hook=None, task_kw=None, **kw) -> Engine:
    """An engine over a WINNet task with small patches (seed 3, batch 4, 6 steps by default)."""
    base = dict(
        out=str(out),
        batch_size=4,
        max_steps=6,
        ckpt_every=100,
        log_every=1,
        device="cpu",
        progress=False,
        seed=3,
    )
    base.update(kw)
    task = winnet_task(str(data), seed=base["seed"], **(task_kw or {}))
    return Engine(task, EngineConfig(**base), model=model, loss_hook=hook)


def _model(seed: int = 0) -> TinyDenoiser:
    torch.manual_seed(seed)
    return TinyDenoiser()


def _log_rows(out: Path) -> list[dict]:
    with open(out / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------------ patches
def test_dihedral_grids_match_rot90_and_flip():
    p = 5
    patch = torch.arange(p * p).reshape(p, p)
    dy, dx = dihedral_grids(p)
    for m in range(8):
        ref = torch.rot90(patch, m // 2, (0, 1))
        if m % 2:
            ref = torch.flip(ref, (0,))
        assert torch.equal(patch[dy[m], dx[m]], ref), m


def test_patch_sampler_geometry_determinism_and_shards(data_dir: Path):
    imgs = [load_gray(p) for p in sorted(data_dir.glob("*.png"))]
    assert all(a.ndim == 2 and a.dtype == np.uint8 for a in imgs)  # colour converted to gray
    s = PatchSampler(imgs, patch=16, stride=10, scales=(1.0, 0.9), aug_times=1, seed=1)
    expect = 0
    for a in imgs:
        for sc in (1.0, 0.9):
            h, w = a.shape if sc == 1.0 else (int(a.shape[0] * sc), int(a.shape[1] * sc))
            if h >= 16 and w >= 16:
                expect += ((h - 16) // 10 + 1) * ((w - 16) // 10 + 1)
    assert s.num_positions == expect
    # an identity-mode gather is the plain crop
    pos = torch.tensor([0, s.num_positions - 1])
    got = s.gather(pos, torch.zeros(2, dtype=torch.long))
    assert torch.equal(got[0], torch.from_numpy(imgs[0][:16, :16]))
    # batches depend on (seed, step) only; shards partition the global batch
    s2 = PatchSampler(imgs, patch=16, stride=10, scales=(1.0, 0.9), seed=1)
    spe = s.steps_per_epoch(4)
    for step in (0, 1, spe, spe + 1):
        full = s.batch(step, 4)
        assert torch.equal(full, s2.batch(step, 4))
        assert torch.equal(torch.cat([s.batch(step, 4, (0, 2)), s.batch(step, 4, (1, 2))]), full)
    assert not torch.equal(s.batch(0, 4), s.batch(spe, 4))  # new permutation next epoch
    # every position is visited exactly once per epoch (aug_times=1)
    seen = torch.cat([s.indices(k, 4)[0] for k in range(spe)])
    assert seen.unique().numel() == seen.numel() == spe * 4
    # aug_times=2 visits each position twice
    s3 = PatchSampler(imgs, patch=16, stride=10, scales=(1.0,), aug_times=2)
    perm, modes = s3.epoch_order(0)
    assert torch.equal(torch.bincount(perm, minlength=s3.num_positions), torch.full((s3.num_positions,), 2))
    assert modes.min() >= 0 and modes.max() <= 7


def test_sampler_refuses_images_smaller_than_patch(tmp_path: Path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(UserError):
        PatchSampler.from_folder(tmp_path, patch=16)


# ------------------------------------------------------------------------------------- losses
def test_losses_and_schedule():
    torch.manual_seed(0)
    x, y = torch.rand(5, 1, 8, 8), torch.rand(5, 1, 8, 8)
    ref = torch.nn.MSELoss(reduction="sum")(y, x) / (2 * 5)
    assert torch.allclose(denoising_loss(y, x), ref)
    assert torch.allclose(
        sigma_loss(torch.tensor([0.1, 0.2]), torch.tensor([0.1, 0.1])), torch.tensor((25.5**2) / 2)
    )
    assert step_lr(59, 100, 1e-3) == 1e-3
    assert step_lr(60, 100, 1e-3) == pytest.approx(1e-4)
    assert step_lr(0, 100, 1e-3, scale=0.5) == 5e-4


def test_cosine_constant_and_warmup_schedules():
    assert learning_rate("constant", 50, 100, 1e-3) == 1e-3
    assert learning_rate("constant", 0, 100, 1e-3, warmup=10) == pytest.approx(1e-4)
    assert learning_rate("constant", 9, 100, 1e-3, warmup=10) == pytest.approx(1e-3)
    assert learning_rate("cosine", 0, 100, 1e-3, drop=0.0) == pytest.approx(1e-3)
    assert learning_rate("cosine", 100, 100, 1e-3, drop=0.0) == pytest.approx(0.0, abs=1e-15)
    assert learning_rate("cosine", 50, 100, 1e-3, drop=0.0) == pytest.approx(5e-4)
    assert learning_rate("step", 60, 100, 1e-3) == step_lr(60, 100, 1e-3)
    with pytest.raises(ValueError):
        learning_rate("nope", 0, 1, 1e-3)


# ------------------------------------------------------------------------------------- tasks
def _resolved(task_cls, config_cls, **kw):
    t = task_cls(config_cls(**kw))
    t.check()
    return t.cfg


def test_task_defaults_follow_the_recipe(data_dir: Path):
    c = _resolved(NENetTask, NENetTrainConfig, data=str(data_dir))
    assert c.sigma_range == (0.0, 55.0) and c.patch_size == 50 and c.aug_times == 2
    assert NENetTask.engine_defaults["epochs"] == 8.0 and WINNetTask.engine_defaults["epochs"] == 50.0
    c = _resolved(WINNetTask, WINNetTrainConfig, data=str(data_dir))
    assert c.sigma == 25.0 and c.patch_size == 40 and c.aug_times == 1 and c.val_sigma == 25.0
    c = _resolved(WINNetTask, WINNetTrainConfig, data=str(data_dir), sigma_range=(0, 55))
    assert c.model_config == {"blind": True} and c.patch_size == 50
    assert _resolved(WINNetTask, WINNetTrainConfig, data=str(data_dir), sigma=15.0).val_sigma == 15.0
    with pytest.raises(UserError):
        _resolved(NENetTask, NENetTrainConfig, data=str(data_dir), sigma=25.0)
    assert _resolved(WINNetTask, WINNetTrainConfig, data=str(data_dir)).train_pad == 0
    for bad in (-1, 40):
        with pytest.raises(UserError, match="train-pad"):
            _resolved(WINNetTask, WINNetTrainConfig, data=str(data_dir), train_pad=bad)
    # the engine takes the task's preferences where the user gave none; --init lowers the rate
    e = Engine(winnet_task(str(data_dir)), EngineConfig(out="x"))
    assert e.cfg.lr == 1e-3 and e.cfg.batch_size == 32 and e.cfg.epochs == 50.0
    assert Engine(winnet_task(str(data_dir)), EngineConfig(out="x", init="winnet-s25")).cfg.lr == 2e-4
    assert Engine(winnet_task(str(data_dir)), EngineConfig(out="x", init="m", lr=1e-3)).cfg.lr == 1e-3
    for bad in (dict(ema=1.0), dict(lr=-1.0), dict(lr_schedule="x"), dict(batch_size=0), dict(time_limit=0)):
        with pytest.raises(UserError):
            Engine(winnet_task(str(data_dir)), EngineConfig(out="x", **bad))


def test_validate_uses_the_seeded_noise_convention(data_dir: Path):
    from innverse.train.patches import load_gray_tensors

    imgs = load_gray_tensors(data_dir)

    class Identity(torch.nn.Module):
        def forward(self, y, sigma):
            return y

    psnr = validate_denoiser(Identity(), imgs, 25.0)
    ref = []
    for i, x in enumerate(imgs):
        n = 25.0 / 255.0 * torch.randn(x.shape, generator=torch.Generator().manual_seed(i))
        mse = ((x + n).clamp(0, 1).double() - x.double()).square().mean().item()
        ref.append(10 * np.log10(1 / mse))
    assert psnr == pytest.approx(float(np.mean(ref)), abs=1e-9)
    # the benchmark protocol's loop, exactly: validation and published scores are one computation
    from innverse.bench.protocol import mean_psnr, mean_sigma_error
    from innverse.train.tasks.noisy_patches import validate_estimator

    assert psnr == mean_psnr(lambda y: y, imgs, 25.0)
    estimate = lambda y: torch.tensor([20 / 255])  # noqa: E731
    assert validate_estimator(estimate, imgs, 25.0) == mean_sigma_error(estimate, imgs, 25.0)


def test_rank_device_is_the_library_rule():
    from innverse.train.distributed import DistInfo
    from innverse.train.engine import rank_device

    one, second_of_two = DistInfo(), DistInfo(rank=1, world_size=2, local_rank=1)
    assert rank_device("cpu", one) == rank_device("cpu", second_of_two) == torch.device("cpu")
    with pytest.raises(UserError, match="expected cpu, cuda or auto"):
        rank_device("cuda:0", one)
    if torch.cuda.is_available():
        assert rank_device("auto", one) == torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.device_count() > 1:
            assert rank_device("cuda", second_of_two) == torch.device("cuda", 1)
    else:
        assert rank_device("auto", one) == torch.device("cpu")
        with pytest.raises(UserError, match="--device 'cuda': CUDA is not available"):
            rank_device("cuda", one)


# ----------------------------------------------------------------------- resume, NaN, clobber
def test_resume_after_sigterm_is_bit_identical(data_dir: Path, tmp_path: Path):
    straight = _run(data_dir, tmp_path / "a", model=_model())
    assert straight.run() == 0
    assert straight.step == 6

    def send_sigterm(step: int, loss):
        if step == 2:  # the handler sets a flag; step 2 completes, then the run saves and stops
            os.kill(os.getpid(), signal.SIGTERM)
        return loss

    before = signal.getsignal(signal.SIGTERM)
    first = _run(data_dir, tmp_path / "b", model=_model(), hook=send_sigterm)
    assert first.run() == 128 + signal.SIGTERM
    assert first.step == 3
    assert read_config(tmp_path / "b")["step"] == 3
    assert signal.getsignal(signal.SIGTERM) == before  # handler restored

    resumed = _run(data_dir, tmp_path / "b", model=_model(seed=123), resume=True)
    assert resumed.run() == 0
    assert resumed.step == 6
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa, sb = straight.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    for i in sa:
        assert torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"])
    assert [r["step"] for r in _log_rows(tmp_path / "b")] == [str(s) for s in range(1, 7)]
    assert (tmp_path / "b" / "model" / "model.safetensors").is_file()


def test_ema_is_exported_checkpointed_and_resumed_exactly(data_dir: Path, tmp_path: Path):
    from safetensors.torch import load_file

    straight = _run(data_dir, tmp_path / "a", model=_model(), ema=0.5, lr_schedule="constant")
    assert straight.run() == 0
    assert straight.ema_model is not None
    # EMA differs from the raw weights, and it is what model/ holds
    raw, ema = straight.model.state_dict(), straight.ema_model.state_dict()
    assert any(not torch.equal(raw[k], ema[k]) for k in raw)
    exported = load_file(str(tmp_path / "a" / "model" / "model.safetensors"))
    for k in ema:
        assert torch.equal(exported[k], ema[k]), k
    first = _run(data_dir, tmp_path / "b", model=_model(), ema=0.5, max_steps=3, lr_schedule="constant")
    assert first.run() == 0
    resumed = _run(
        data_dir, tmp_path / "b", model=_model(seed=9), ema=0.5, resume=True, lr_schedule="constant"
    )
    assert resumed.run() == 0 and resumed.step == 6
    for k, v in resumed.ema_model.state_dict().items():
        assert torch.equal(v, ema[k]), k
    with pytest.raises(UserError, match="ema"):
        _run(
            data_dir,
            tmp_path / "b",
            model=_model(),
            ema=0.9,
            resume=True,
            max_steps=8,
            lr_schedule="constant",
        ).run()


def test_nan_loss_rolls_back_and_halves_lr(data_dir: Path, tmp_path: Path, capsys):
    fired = []

    def poison(step: int, loss):
        if step == 3 and not fired:
            fired.append(step)
            return loss * float("nan")
        return loss

    t = _run(data_dir, tmp_path / "o", model=_model(), hook=poison, ckpt_every=2)
    assert t.run() == 0
    assert fired == [3] and t.step == 6 and t.rollbacks == 1 and t.lr_scale == 0.5
    assert all(torch.isfinite(p).all() for p in t.model.parameters())
    rows = _log_rows(tmp_path / "o")
    assert [r["step"] for r in rows] == [str(s) for s in range(1, 7)]
    # steps replayed after the rollback run at half rate (and the 60 % drop still applies)
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 5e-5, 5e-5])
    assert "rolled back to step 2" in capsys.readouterr().err


def test_never_clobbers_a_checkpoint(data_dir: Path, tmp_path: Path):
    out = tmp_path / "o"
    assert _run(data_dir, out, model=_model(), max_steps=1).run() == 0
    with pytest.raises(UserError, match="--resume"):
        _run(data_dir, out, model=_model(), max_steps=1).run()
    with pytest.raises(UserError, match="batch_size"):
        _run(data_dir, out, model=_model(), max_steps=2, batch_size=2, resume=True).run()
    with pytest.raises(UserError, match="sigma"):
        _run(data_dir, out, model=_model(), max_steps=2, resume=True, task_kw={"sigma": 15.0}).run()
    assert _run(data_dir, out, model=_model(), max_steps=2, force=True).run() == 0
    assert read_config(out)["step"] == 2


# ------------------------------------------------------------------------------------------ CLI
@pytest.fixture
def tiny_models(monkeypatch):
    """Make the tasks build the stand-in models."""

    def build_w(self):
        torch.manual_seed(0)
        return TinyDenoiser()

    def build_n(self):
        torch.manual_seed(0)
        return TinyEstimator()

    monkeypatch.setattr(WINNetTask, "build_model", build_w)
    monkeypatch.setattr(NENetTask, "build_model", build_n)


def test_cli_trains_validates_and_resumes(data_dir: Path, tmp_path: Path, tiny_models, capsys):
    out = tmp_path / "run"
    args = [
        "train",
        "winnet",
        "--data",
        str(data_dir),
        "--val",
        str(data_dir),
        "--sigma",
        "15",
        "--patch-size",
        "16",
        "--batch-size",
        "4",
        "--max-steps",
        "4",
        "--out",
        str(out),
        "--val-every",
        "2",
        "--log-every",
        "1",
        "--no-progress",
        "--inject-nan-at",
        "1",
        "--ckpt-every",
        "1",
    ]
    assert cli_main(args) == 0
    err = capsys.readouterr().err
    assert "rolled back to step 1" in err and "validation at sigma 15" in err
    rows = _log_rows(out)
    assert rows[-1]["step"] == "4" and float(rows[-1]["val_psnr"]) > 20
    cfg = read_config(out)
    assert cfg["settings"]["sigma"] == 15.0 and cfg["recipe"]["engine"]["batch_size"] == 4
    assert (out / "model" / "config.json").is_file()
    # a fresh run into the same folder is refused with a one-line error
    assert cli_main(args) == 2
    assert "already holds a training checkpoint" in capsys.readouterr().err
    # resume without repeating the recipe: settings (and the run's cadences) come from the checkpoint
    assert (
        cli_main(["train", "winnet", "--out", str(out), "--resume", "--max-steps", "6", "--no-progress"]) == 0
    )
    assert read_config(out)["step"] == 6
    assert read_config(out)["run"] == {"ckpt_every": 1, "val_every": 2, "log_every": 1}
    assert [r["step"] for r in _log_rows(out)] == [str(s) for s in range(1, 7)]
    # --max-steps below the checkpoint's step warns
    assert (
        cli_main(["train", "winnet", "--out", str(out), "--resume", "--max-steps", "3", "--no-progress"]) == 0
    )
    assert "below the checkpoint's step 6" in capsys.readouterr().err
    # conflicting recipe on resume
    assert cli_main(["train", "winnet", "--out", str(out), "--resume", "--sigma", "25", "--no-progress"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_cli_lists_tasks_and_user_errors(data_dir: Path, tmp_path: Path, tiny_models, capsys):
    assert cli_main(["train"]) == 0
    listing = capsys.readouterr().out
    assert "winnet" in listing and "nenet" in listing
    out = tmp_path / "ne"
    assert (
        cli_main(
            [
                "train",
                "nenet",
                "--data",
                str(data_dir),
                "--val",
                str(data_dir),
                "--patch-size",
                "16",
                "--max-steps",
                "2",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    rows = _log_rows(out)
    assert rows[-1]["val_sigma_mae"] != ""
    assert read_config(out)["settings"]["sigma_range"] == [0.0, 55.0]
    capsys.readouterr()
    bad = [
        ["train", "nenet", "--data", str(data_dir), "--sigma", "25", "--out", str(tmp_path / "x")],
        ["train", "winnet", "--out", str(tmp_path / "y")],
        ["train", "winnet", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "z")],
        ["train", "nosuch"],
        ["train", "winnet", "--sigma", "abc"],
        ["train", "winnet", "--out", str(tmp_path / "w"), "--resume"],
    ]
    for argv in bad:
        assert cli_main(argv) == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == len(bad) and all(line.startswith("innverse train: error:") for line in err)
    assert "no checkpoint" in err[-1]
    assert not has_checkpoint(tmp_path / "z")


# --------------------------------------------------------------------------------- real models
def test_real_models_train_a_few_steps(data_dir: Path, tmp_path: Path):
    models = pytest.importorskip("innverse.models")
    torch.manual_seed(0)
    w = models.build_model("winnet", dict(levels=1, steps=1, blocks=1, channels=4, dn_channels=8, dn_iters=1))
    t = _run(data_dir, tmp_path / "w", model=w, max_steps=2, batch_size=2)
    assert t.run() == 0 and t.step == 2
    assert t.task.cfg.train_pad == 0 and w.pad == 4  # trains on the bare patch, exports pad 4
    assert all(torch.isfinite(p).all() for p in w.parameters())
    assert (tmp_path / "w" / "model" / "model.safetensors").is_file()
    ne = models.build_model("nenet", dict(hidden=4, layers=1))
    task = NENetTask(NENetTrainConfig(data=str(data_dir), patch_size=16), seed=3)
    cfg = EngineConfig(out=str(tmp_path / "n"), batch_size=2, max_steps=2, device="cpu", progress=False)
    assert Engine(task, cfg, model=ne).run() == 0


def test_init_carries_weights_across_the_blind_label(data_dir: Path, tmp_path: Path, capsys):
    """--init: a blind run may start from non-blind weights (same network); another shape is refused."""
    models = pytest.importorskip("innverse.models")
    from innverse.models.io import save_model

    small = dict(levels=1, steps=1, blocks=1, channels=4, dn_channels=8, dn_iters=1)
    torch.manual_seed(1)
    src = models.build_model("winnet", small)
    assert src.blind is False
    save_model(src, tmp_path / "src")
    t = _run(
        data_dir,
        tmp_path / "b",
        init=str(tmp_path / "src"),
        max_steps=1,
        lr=1e-12,
        task_kw=dict(sigma=None, sigma_range=(0.0, 55.0), model_config=dict(small)),
    )
    assert t.run() == 0
    assert t.model.blind is True and "initialised from" in capsys.readouterr().err
    # one Adam step of lr 1e-12 moves each weight by about 1e-12: the weights are src's
    for (k, a), b in zip(src.state_dict().items(), t.model.state_dict().values(), strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-9), k
    assert models.load_model(tmp_path / "b" / "model").blind is True
    other = _run(
        data_dir,
        tmp_path / "c",
        init=str(tmp_path / "src"),
        max_steps=1,
        task_kw=dict(sigma=None, sigma_range=(0.0, 55.0), model_config=dict(small, channels=8)),
    )
    with pytest.raises(UserError, match="differs from this run"):
        other.run()


# ---------------------------------------------------------------------------------- torchrun
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_and_resume(data_dir: Path, tmp_path: Path):
    out = tmp_path / "ddp"
    src = str(Path(innverse.__file__).resolve().parents[1])
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([src, str(TESTS), os.environ.get("PYTHONPATH", "")]),
    )

    def torchrun(*args: str) -> None:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            str(TESTS / "_ddp_worker.py"),
            str(data_dir),
            str(out),
            *args,
        ]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]

    torchrun("3")
    cfg = read_config(out)
    assert cfg["step"] == 3 and cfg["world_size"] == 2
    torchrun("5", "resume")  # both ranks continue from the same checkpoint
    assert read_config(out)["step"] == 5
    # two ranks with 4-patch shards follow the single-process 8-patch recipe (same 3 -> 5 history:
    # the learning-rate drop at 60 % moves with --max-steps)
    for steps, resume in ((3, False), (5, True)):
        torch.manual_seed(0)
        single = _run(
            data_dir,
            tmp_path / "one",
            model=TinyDenoiser(),
            batch_size=8,
            max_steps=steps,
            ckpt_every=2,
            seed=0,
            resume=resume,
        )
        assert single.run() == 0
    from safetensors.torch import load_file

    rec = json.loads((out / "checkpoint" / "latest.json").read_text())
    ddp = load_file(str(out / "checkpoint" / rec["model"]))
    for k, v in single.model.state_dict().items():
        assert torch.allclose(v, ddp[k], atol=1e-5), k


class _Clock:
    """A fake ``time.perf_counter`` that the loss hook advances: ``fast`` seconds a step before
    ``slow_from``, ``slow`` seconds a step after it."""

    def __init__(self, fast: float, slow: float, slow_from: int) -> None:
        self.now, self.fast, self.slow, self.slow_from = 1000.0, fast, slow, slow_from

    def __call__(self) -> float:
        return self.now

    def hook(self, step: int, total):
        self.now += self.fast if step < self.slow_from else self.slow
        return total


@pytest.mark.parametrize(
    "limit, ends_by",
    [
        (300.0, "refit"),  # the refit at a quarter of the run lowers the total in time
        (100.0, "limit"),  # the limit arrives before the first refit: the run ends there
    ],
)
def test_time_limit_follows_a_run_that_slows_down(data_dir, tmp_path, monkeypatch, limit, ends_by):
    import innverse.train.engine as engine_mod

    clock = _Clock(fast=0.001, slow=1.0, slow_from=40)
    monkeypatch.setattr(engine_mod.time, "perf_counter", clock)
    said: list[str] = []
    eng = _run(data_dir, tmp_path / "run", model=_model(), hook=clock.hook, max_steps=500, time_limit=limit)
    eng.say = said.append
    eng.run()
    spent = clock.now - 1000.0
    assert eng.step == eng.total_steps < 500
    assert spent <= limit + 1.0, (spent, said)
    text = " ".join(said)
    if ends_by == "refit":
        assert "total lowered" in text and "reached at step" not in text
    else:
        assert "reached at step" in text
    assert (tmp_path / "run" / "model").is_dir()
