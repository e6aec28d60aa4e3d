"""The training loop behind ``innverse train`` (WINNet denoiser, NENet noise estimator).

Recipe (the WINNet paper's, the defaults of :class:`TrainConfig`):

* patches of the training images at scales 1, 0.9, 0.8, 0.7, stride 10, 40x40 for a fixed noise
  level and 50x50 (each position twice per epoch) for blind training and NENet, random
  flips/rotations (:mod:`innverse.train.patches`);
* noise: ``x + sigma/255 * n`` with ``n ~ N(0, 1)``; ``sigma`` fixed, or ``sigma ~ U[A, B]`` drawn
  once per batch (blind; paper U[0, 55]); the model gets that batch's ``sigma`` (data scale);
* WINNet loss ``0.5 * sum||x_hat - x||^2 / B + 10 * orthogonality + 0.1 * spectral`` (the last every
  10 steps); NENet loss ``mean((255 * (sigma_hat - sigma))^2)`` (:mod:`innverse.train.losses`);
* Adam, lr 1e-3 dropping to 1e-4 at 60 % of the run (a function of the step), gradient norm
  clipped at 1 (the released NENet code did not clip: ``clip=0`` reproduces that).

Determinism: the batch, its noise and its sigma are pure functions of ``(seed, step)``; together
with the checkpointed weights, optimizer state and RNG states this makes a resumed CPU run
bit-identical to an uninterrupted one.  A NaN/inf loss or gradient rolls the run back to the last
checkpoint and halves the learning rate (up to ``max_rollbacks`` times).  SIGINT/SIGTERM finish
the current step, save a checkpoint and return ``128 + signal`` (a second signal stops at once;
the last committed checkpoint stays intact).
"""

from __future__ import annotations

import contextlib
import csv
import inspect
import json
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.train.checkpoint import (
    CHECKPOINT_DIR,
    has_checkpoint,
    load_checkpoint,
    read_config,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from innverse.train.distributed import DistInfo, all_reduce_sum, barrier, init_distributed, shutdown
from innverse.train.losses import TrainLoss, step_lr
from innverse.train.patches import PatchSampler, load_gray_tensors, mix_seed

__all__ = [
    "TrainConfig",
    "Trainer",
    "RECIPE_KEYS",
    "build_model",
    "validate",
    "resolve_device",
    "resolve_amp",
]

#: settings a resumed run must share with the checkpoint (they decide the data, noise and updates)
RECIPE_KEYS = (
    "kind",
    "model_config",
    "sigma",
    "sigma_range",
    "patch_size",
    "stride",
    "scales",
    "aug_times",
    "train_pad",
    "batch_size",
    "lr",
    "lr_drop_at",
    "lr_drop",
    "w_orth",
    "w_spec",
    "spec_every",
    "clip",
    "seed",
)

LOG_FIELDS = ["step", "loss", "data_loss", "lr", "seconds", "val_psnr", "val_sigma_mae"]


@dataclass
class TrainConfig:
    """Everything a training run needs; noise levels are on the 0-255 scale here.

    ``sigma`` set: non-blind WINNet at that level.  ``sigma_range=(A, B)``: blind, sigma ~ U[A, B]
    per batch (NENet always trains blind, default U[0, 55]).  ``patch_size``/``aug_times``/
    ``epochs`` left as None take the recipe defaults (see :meth:`resolved`).
    """

    kind: str = "winnet"
    data: str = ""
    out: str = "runs/train"
    val: str | None = None
    sigma: float | None = None
    sigma_range: tuple[float, float] | None = None
    model_config: dict = field(default_factory=dict)
    patch_size: int | None = None
    stride: int = 10
    scales: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7)
    aug_times: int | None = None
    #: WINNet's reflect padding while training (the exported model keeps its own, 4, for
    #: inference).  0 = the circular frame on the bare patch: the released code's cost per patch
    #: (its 40x40 patches are not padded either) instead of 1.44x that with pad 4.
    train_pad: int = 0
    batch_size: int = 32
    max_steps: int | None = None
    epochs: float | None = None
    lr: float = 1e-3
    lr_drop_at: float = 0.6
    lr_drop: float = 0.1
    w_orth: float = 10.0
    w_spec: float = 0.1
    spec_every: int = 10
    clip: float = 1.0
    seed: int = 0
    ckpt_every: int = 1000
    val_every: int = 2000
    log_every: int = 50
    device: str = "auto"
    amp: str = "auto"
    compile: bool = False
    workers: int = 0
    resume: bool = False
    force: bool = False
    progress: bool = True
    max_rollbacks: int = 8
    #: wall-clock budget (s) of this invocation: after a short warm-up the run's total step count
    #: is lowered to what fits (the learning-rate schedule follows the new total; it is recorded in
    #: the checkpoint so a resumed run keeps it)
    time_limit: float | None = None
    #: start a fresh run from these weights (one of our checkpoints or a pretrained name)
    init: str | None = None

    @property
    def blind(self) -> bool:
        """True when sigma is drawn per batch (``sigma_range``)."""
        return self.sigma_range is not None

    def resolved(self) -> TrainConfig:
        """A copy with the recipe defaults filled in and the settings checked (UserError)."""
        c = replace(self, model_config=dict(self.model_config))
        if c.kind not in ("winnet", "nenet"):
            raise UserError(f"unknown model kind {c.kind!r} (expected winnet or nenet)")
        if c.kind == "nenet":
            if c.sigma is not None:
                raise UserError(
                    "NENet estimates the noise level: train it blind (--sigma-range), not at one --sigma"
                )
            if c.sigma_range is None:
                c.sigma_range = (0.0, 55.0)
        if c.sigma is not None and c.sigma_range is not None:
            raise UserError("give either --sigma or --sigma-range, not both")
        if c.sigma is None and c.sigma_range is None:
            c.sigma = 25.0
        if c.sigma is not None and not (0.0 <= c.sigma <= 255.0):
            raise UserError(f"--sigma {c.sigma} is outside [0, 255] (noise levels are on the 0-255 scale)")
        if c.sigma_range is not None:
            a, b = (float(v) for v in c.sigma_range)
            if not (0.0 <= a <= b <= 255.0):
                raise UserError(f"--sigma-range {a:g} {b:g} must satisfy 0 <= A <= B <= 255")
            c.sigma_range = (a, b)
        if c.patch_size is None:
            c.patch_size = 50 if c.blind else 40
        if c.aug_times is None:
            c.aug_times = 2 if c.blind else 1
        if c.max_steps is None and c.epochs is None:
            c.epochs = 50 if c.kind == "winnet" else 8
        if c.train_pad < 0 or c.train_pad >= c.patch_size:
            raise UserError(f"--train-pad {c.train_pad} must be >= 0 and smaller than the patch size")
        positive = ("batch_size", "patch_size", "stride", "aug_times", "ckpt_every", "val_every", "log_every")
        for name in positive:
            if int(getattr(c, name)) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1")
        if c.max_steps is not None and c.max_steps < 1:
            raise UserError("--max-steps must be at least 1")
        if c.epochs is not None and c.epochs <= 0:
            raise UserError("--epochs must be positive")
        if c.lr <= 0:
            raise UserError("--lr must be positive")
        if c.workers < 0:
            raise UserError("--workers must be >= 0")
        if c.amp not in ("auto", "bf16", "fp16", "none"):
            raise UserError(f"--amp {c.amp!r}: expected bf16, fp16 or none")
        if c.kind == "winnet" and c.blind and "blind" not in c.model_config:
            c.model_config["blind"] = True
        if not c.data:
            raise UserError("no training data: pass --data DIR")
        return c

    def recipe(self) -> dict:
        """The settings of :data:`RECIPE_KEYS`, JSON-normalised."""
        d = asdict(self)
        return json.loads(json.dumps({k: d[k] for k in RECIPE_KEYS}))


def build_model(kind: str, config: dict) -> nn.Module:
    """Build a fresh model of ``kind`` from ``innverse.models`` (imported lazily)."""
    try:
        from innverse.models import build_model as _build
    except ImportError as e:  # pragma: no cover - the models package is part of innverse
        raise UserError(f"models unavailable ({e})") from None
    try:
        return _build(kind, dict(config))
    except TypeError as e:
        raise UserError(f"bad {kind} configuration {config}: {e}") from None


def resolve_device(pref: str, info: DistInfo) -> torch.device:
    """``auto``/``cpu``/``cuda`` -> the device of this rank."""
    if pref not in ("auto", "cpu", "cuda"):
        raise UserError(f"--device {pref!r}: expected cpu, cuda or auto")
    if pref == "auto":
        pref = "cuda" if torch.cuda.is_available() else "cpu"
    if pref == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is available")
        return torch.device("cuda", info.local_rank if info.enabled else torch.cuda.current_device())
    return torch.device("cpu")


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: bf16 by default on CUDA with bf16 support; CPU training stays float32."""
    if device.type != "cuda":
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}[amp]


@torch.no_grad()
def validate(
    model: nn.Module, kind: str, images: list[Tensor], sigma255: float, device: torch.device | str = "cpu"
) -> float:
    """Validation score on ``images`` ((1,1,H,W) float32 in [0,1], in sorted-file order).

    Image ``i`` gets ``sigma255/255 * randn`` from ``torch.Generator().manual_seed(i)`` (float32, no
    clipping).  WINNet: mean PSNR (dB) of the output clamped to [0, 1].  NENet: mean absolute
    error of the estimated noise level, in grey levels (0-255 scale).  Runs in float32, eval mode.
    """
    was_training = model.training
    model.eval()
    scores = []
    try:
        for i, x in enumerate(images):
            g = torch.Generator().manual_seed(i)
            noisy = x + (sigma255 / 255.0) * torch.randn(x.shape, generator=g, dtype=torch.float32)
            noisy = noisy.to(device)
            if kind == "nenet":
                est = model(noisy).float().reshape(-1)[0].item()
                scores.append(abs(est * 255.0 - sigma255))
            else:
                sig = torch.full((noisy.shape[0],), sigma255 / 255.0, device=noisy.device)
                out = model(noisy, sig).float().clamp(0.0, 1.0).cpu().double()
                mse = (out - x.double()).square().mean().item()
                scores.append(10.0 * math.log10(1.0 / max(mse, 1e-20)))
    finally:
        model.train(was_training)
    return float(sum(scores) / len(scores))


class _StopFlag:
    """SIGINT/SIGTERM -> a flag the loop polls; a second signal raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.signum = 0
        self._prev: dict[int, object] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._prev[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum:
            self.restore()
            raise KeyboardInterrupt
        self.signum = signum

    def restore(self) -> None:
        for sig, h in self._prev.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, h)  # type: ignore[arg-type]
        self._prev.clear()


class _Batches:
    """Batches of the recipe as a function of the step, optionally prepared one step ahead in a
    background thread (``workers >= 1``; the result does not depend on it)."""

    def __init__(
        self,
        sampler: PatchSampler,
        cfg: TrainConfig,
        shard: tuple[int, int],
        device: torch.device,
        workers: int,
    ) -> None:
        self.sampler, self.cfg, self.shard, self.device = sampler, cfg, shard, device
        self.pin = device.type == "cuda"
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="innverse-batches") if workers > 0 else None
        self.pending: dict[int, Future] = {}

    def make(self, step: int) -> tuple[Tensor, Tensor, Tensor, float]:
        """(clean, noisy, sigma (data scale, (b,)), sigma255) of this rank's shard of ``step``."""
        cfg = self.cfg
        i, n = self.shard
        u8 = self.sampler.batch(step, cfg.batch_size, self.shard)
        # element-wise work in NumPy (single-threaded): torch would spread these small ops over its
        # intra-op threads, ~50x slower on cores busy with the training step
        clean_np = u8.numpy()[:, None].astype(np.float32) / np.float32(255.0)
        g = torch.Generator().manual_seed(mix_seed(cfg.seed, 3, step))
        if cfg.sigma_range is not None:
            a, b = cfg.sigma_range
            s255 = a + (b - a) * float(torch.rand((), generator=g))
        else:
            s255 = float(cfg.sigma)
        p = cfg.patch_size
        noise = torch.randn((cfg.batch_size, 1, p, p), generator=g)
        bs = cfg.batch_size // n
        noisy_np = clean_np + noise[i * bs : (i + 1) * bs].numpy() * np.float32(s255 / 255.0)
        clean, noisy = torch.from_numpy(clean_np), torch.from_numpy(noisy_np)
        sigma = torch.full((bs,), s255 / 255.0)
        if self.pin:
            clean, noisy, sigma = clean.pin_memory(), noisy.pin_memory(), sigma.pin_memory()
        return clean, noisy, sigma, s255

    def get(self, step: int) -> tuple[Tensor, Tensor, Tensor, float]:
        fut = self.pending.pop(step, None)
        for f in self.pending.values():
            f.cancel()
        self.pending.clear()
        out = fut.result() if fut is not None else self.make(step)
        if self.pool is not None:
            self.pending[step + 1] = self.pool.submit(self.make, step + 1)
        return out

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _architecture(model) -> dict | None:
    """A model's config without the keys that label how it was trained rather than what it computes.

    WINNet's ``blind`` flag says whether a model was trained over a range of noise levels; the
    network is the same either way (its thresholds always scale with the sigma it is given), so a
    blind run may start from non-blind weights (``--init winnet-s25``) and the other way round.
    """
    cfg = getattr(model, "config", None)
    if cfg is None:
        return None
    return {k: v for k, v in cfg.items() if k != "blind"}


class Trainer:
    """Runs one training (fresh, resumed, single- or multi-process) described by a TrainConfig.

    ``model``: an already built model (tests, custom architectures); by default it is built from
    ``cfg.kind``/``cfg.model_config`` after seeding.  ``loss_hook(step, loss) -> loss`` is called on
    every step's total loss before the backward pass (tests use it to inject NaNs or signals).
    After :meth:`run`: ``step``, ``model``, ``history`` (list of logged rows) and ``steps_per_sec``.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module | None = None,
        loss_hook: Callable[[int, Tensor], Tensor] | None = None,
    ) -> None:
        self.cfg = cfg.resolved()
        self.model = model
        self.loss_hook = loss_hook
        self.out = Path(self.cfg.out)
        self.stop = _StopFlag()
        self.step = 0
        self.lr_scale = 1.0
        self.rollbacks = 0
        self.elapsed0 = 0.0
        self.history: list[dict] = []
        self.steps_per_sec = float("nan")
        self._bar = None
        self._tb = None

    # ------------------------------------------------------------------------------ messages
    def say(self, msg: str) -> None:
        """One line on stderr from rank 0 (through the progress bar when it is shown)."""
        if not getattr(self, "info", DistInfo()).is_main:
            return
        if self._bar is not None:
            self._bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        """Ask the loop to finish the current step, save and return (as a signal would)."""
        self.stop.signum = self.stop.signum or int(signum)

    # ---------------------------------------------------------------------------------- setup
    def _check_out(self) -> bool:
        """Apply the never-clobber rule; return True when resuming from a checkpoint."""
        cfg = self.cfg
        exists = has_checkpoint(self.out)
        if exists and not (cfg.resume or cfg.force):
            saved = read_config(self.out) or {}
            step = saved.get("step", "?")
            raise UserError(
                f"{self.out} already holds a training checkpoint (step {step}); "
                f"pass --resume to continue it or --force to start over"
            )
        if cfg.resume and not exists:
            self.say(f"innverse train: no checkpoint in {self.out}; starting a fresh run")
        if cfg.resume and exists:
            saved = read_config(self.out) or {}
            mism = []
            mine = cfg.recipe()
            theirs = saved.get("train", {})
            for k in RECIPE_KEYS:
                if k in theirs and theirs[k] != mine[k]:
                    mism.append(f"{k}={json.dumps(theirs[k])} (now {json.dumps(mine[k])})")
            if mism:
                raise UserError(
                    "--resume: the checkpoint was trained with other settings: " + ", ".join(mism)
                )
        return bool(cfg.resume and exists)

    def _config_record(self) -> dict:
        import innverse

        return {
            "kind": self.cfg.kind,
            "model_config": self._model_config(),
            "train": self.cfg.recipe(),
            "data": str(self.cfg.data),
            "val": self.cfg.val,
            "step": self.step,
            "total_steps": self.total_steps,
            "world_size": self.info.world_size,
            "innverse": innverse.__version__,
        }

    def _model_config(self) -> dict:
        cfg = getattr(self.model, "config", None)
        return dict(cfg) if isinstance(cfg, dict) else dict(self.cfg.model_config)

    def _state(self) -> dict:
        spe = self.steps_per_epoch
        return {
            "step": self.step,
            "epoch": self.step // spe,
            "position": self.step % spe,
            "total_steps": self.total_steps,
            "lr_scale": self.lr_scale,
            "rollbacks": self.rollbacks,
            "elapsed": self._elapsed(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "rng": rng_state(),
            "data": self.fingerprint,
            "world_size": self.info.world_size,
        }

    def _elapsed(self) -> float:
        return self.elapsed0 + (time.perf_counter() - self._t0)

    # --------------------------------------------------------------------------- checkpoints
    def save(self) -> None:
        """Checkpoint + model export (rank 0 writes; every rank waits for it)."""
        if self.info.is_main:
            save_checkpoint(self.out, self.model, self._state(), self._config_record())
            self._export()
        barrier(self.info)
        self._saved_step = self.step

    def _export(self) -> None:
        d = self.out / "model"
        save = getattr(self.model, "save", None)
        if save is None:
            return
        card = {
            "trained_by": "innverse train",
            "step": self.step,
            "total_steps": self.total_steps,
            "recipe": self.cfg.recipe(),
        }
        if "card" in inspect.signature(save).parameters:
            save(d, card=card)
        else:
            save(d)

    def _load(self) -> dict:
        state, _ = load_checkpoint(self.out, self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        return state

    def _resume(self) -> None:
        state = self._load()
        if state.get("data") != self.fingerprint:
            raise UserError(
                f"--resume: the training data differs from the checkpoint's "
                f"({state.get('data', {}).get('positions')} patches then, "
                f"{self.fingerprint['positions']} now)"
            )
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.rollbacks = int(state.get("rollbacks", 0))
        self.elapsed0 = float(state.get("elapsed", 0.0))
        set_rng_state(state["rng"])
        self.say(f"innverse train: resuming {self.out} at step {self.step}/{self.total_steps}")

    def _rollback(self, what: str) -> None:
        bad = self.step
        self.rollbacks += 1
        if self.rollbacks > self.cfg.max_rollbacks:
            raise UserError(
                f"{what} at step {bad} after {self.cfg.max_rollbacks} rollbacks: training "
                f"diverged (last good checkpoint: {self.out / CHECKPOINT_DIR})"
            )
        scale = self.lr_scale * 0.5
        self._load()
        self.lr_scale = scale
        self._acc = [0.0, 0.0, 0]
        if self.info.is_main:
            _truncate_log(self.out / "log.csv", self.step)
        self.say(
            f"innverse train: {what} at step {bad}; rolled back to step {self.step}, learning rate x{scale:g}"
        )

    # ------------------------------------------------------------------------------- logging
    def _log(self, row: dict) -> None:
        self.history.append(row)
        if not self.info.is_main:
            return
        path = self.out / "log.csv"
        new = not path.exists()
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=LOG_FIELDS, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: ("" if row.get(k) is None else row[k]) for k in LOG_FIELDS})
        if self._tb is not None:
            for k in ("loss", "data_loss", "lr", "val_psnr", "val_sigma_mae"):
                if row.get(k) is not None:
                    self._tb.add_scalar(f"train/{k}", row[k], row["step"])

    def _open_tensorboard(self) -> None:
        if not self.info.is_main:
            return
        try:  # optional: only when the tensorboard package is installed
            from torch.utils.tensorboard import SummaryWriter
        except Exception:  # noqa: BLE001 - any import problem just disables it
            return
        self._tb = SummaryWriter(str(self.out / "tensorboard"))

    # ---------------------------------------------------------------------------------- run
    def run(self) -> int:
        """Train to ``total_steps`` (or until stopped); return 0, or 128+signal when stopped."""
        cfg = self.cfg
        want_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
        self.info = init_distributed("cuda" if want_cuda else "cpu")
        batches = None
        try:
            self.device = resolve_device(cfg.device, self.info)
            batches = self._setup()
            return self._loop(batches)
        finally:
            self.stop.restore()
            if batches is not None:
                batches.close()
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            if self._tb is not None:
                self._tb.close()
            shutdown(self.info)

    def _setup(self) -> _Batches:
        cfg, info = self.cfg, self.info
        if cfg.batch_size % info.world_size:
            raise UserError(
                f"--batch-size {cfg.batch_size} is not divisible by the {info.world_size} processes"
            )
        resuming = self._check_out()
        barrier(info)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed % (1 << 32))
        if self.model is None:
            self.model = build_model(cfg.kind, cfg.model_config)
        if cfg.init and not resuming:
            from innverse.models import load_model

            src = load_model(cfg.init)
            if _architecture(src) != _architecture(self.model):
                raise UserError(
                    f"--init {cfg.init}: its model config {getattr(src, 'config', None)} differs "
                    f"from this run's {getattr(self.model, 'config', None)}"
                )
            self.model.load_state_dict(src.state_dict())
            self.say(f"innverse train: initialised from {cfg.init}")
        self.sampler = PatchSampler.from_folder(
            cfg.data,
            patch=cfg.patch_size,
            stride=cfg.stride,
            scales=cfg.scales,
            aug_times=cfg.aug_times,
            seed=cfg.seed,
        )
        self.fingerprint = self.sampler.fingerprint()
        self.steps_per_epoch = self.sampler.steps_per_epoch(cfg.batch_size)
        if self.steps_per_epoch < 1:
            raise UserError(
                f"{cfg.data}: {self.sampler.epoch_size} patches, fewer than one batch of {cfg.batch_size}"
            )
        self.total_steps = int(
            cfg.max_steps if cfg.max_steps is not None else max(1, round(cfg.epochs * self.steps_per_epoch))
        )
        self.val_images = load_gray_tensors(cfg.val) if (cfg.val and info.is_main) else None
        if cfg.val and not info.is_main:
            load_gray_tensors(cfg.val)  # same error on every rank when the folder is bad

        self.model.to(self.device).train()
        self.amp_dtype = resolve_amp(cfg.amp, self.device)
        if self.device.type == "cpu" and cfg.amp in ("bf16", "fp16"):
            self.say(f"innverse train: --amp {cfg.amp} ignored on CPU (training runs in float32)")
        fused = self.device.type == "cuda"
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, fused=fused or None)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.loss_module = TrainLoss(
            self.model, cfg.kind, cfg.w_orth, cfg.w_spec, self.amp_dtype,
            pad=cfg.train_pad if cfg.kind == "winnet" else None,
        )
        self._t0 = time.perf_counter()
        if resuming:
            self._resume()
        module: nn.Module = self.loss_module
        if info.enabled:
            from torch.nn.parallel import DistributedDataParallel

            module = DistributedDataParallel(
                module, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if cfg.compile:
            module = torch.compile(module)
        self.step_module = module
        self.params = [p for p in self.model.parameters() if p.requires_grad]

        self.out.mkdir(parents=True, exist_ok=True)
        if info.is_main:
            if resuming:
                _truncate_log(self.out / "log.csv", self.step)
            else:
                (self.out / "log.csv").unlink(missing_ok=True)
        if not resuming:
            self.save()  # step 0: claims OUT and gives a NaN rollback a target
        self._saved_step = self.step
        self._open_tensorboard()
        return _Batches(self.sampler, cfg, (info.rank, info.world_size), self.device, cfg.workers)

    def _loop(self, batches: _Batches) -> int:
        cfg, info = self.cfg, self.info
        if info.is_main and cfg.progress:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total_steps,
                initial=self.step,
                unit="step",
                dynamic_ncols=True,
                desc=f"train {cfg.kind}",
                file=sys.stderr,
                mininterval=1.0,
                smoothing=0.1,
            )
        self.stop.install()
        self._acc = [0.0, 0.0, 0]
        t_start, s_start = time.perf_counter(), self.step
        nonblocking = self.device.type == "cuda"
        stopped = 0
        warm_from, warm_to = s_start + 10, s_start + 40
        t_warm = t_start
        while self.step < self.total_steps:
            step = self.step
            if cfg.time_limit and step == warm_from:
                t_warm = time.perf_counter()
            if cfg.time_limit and step == warm_to:
                self._fit_time_budget(step, warm_to - warm_from, time.perf_counter() - t_warm, t_start)
            clean, noisy, sigma, _ = batches.get(step)
            clean = clean.to(self.device, non_blocking=nonblocking)
            noisy = noisy.to(self.device, non_blocking=nonblocking)
            sigma = sigma.to(self.device, non_blocking=nonblocking)
            lr = step_lr(step, self.total_steps, cfg.lr, cfg.lr_drop_at, cfg.lr_drop, self.lr_scale)
            for g in self.optimizer.param_groups:
                g["lr"] = lr
            self.optimizer.zero_grad(set_to_none=True)
            with_spec = cfg.spec_every > 0 and step % cfg.spec_every == 0
            total, data = self.step_module(noisy, clean, sigma, with_spec)
            if self.loss_hook is not None:
                total = self.loss_hook(step, total)
            if self.scaler is not None:
                self.scaler.scale(total).backward()
                self.scaler.unscale_(self.optimizer)
            else:
                total.backward()
            max_norm = cfg.clip if cfg.clip > 0 else float("inf")
            gnorm = torch.nn.utils.clip_grad_norm_(self.params, max_norm)
            flags = torch.stack(
                [
                    total.detach().float(),
                    data.detach().float(),
                    gnorm.detach().float(),
                    torch.tensor(float(self.stop.signum), device=gnorm.device),
                ]
            )
            loss_sum, data_sum, gn, stop_sum = all_reduce_sum(flags, info).tolist()
            loss_v, data_v = loss_sum / info.world_size, data_sum / info.world_size
            if not math.isfinite(loss_v) or (self.scaler is None and not math.isfinite(gn)):
                self.optimizer.zero_grad(set_to_none=True)
                if self.scaler is not None:
                    self.scaler.update()  # closes the unscale_() of this step (the state is reloaded next)
                self._rollback("non-finite loss" if not math.isfinite(loss_v) else "non-finite gradient")
                continue
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            self.step += 1
            self._acc[0] += loss_v
            self._acc[1] += data_v
            self._acc[2] += 1
            if self._bar is not None:
                self._bar.update(1)
                if self.step % 10 == 0 or self.step == self.total_steps:
                    self._bar.set_postfix(loss=f"{loss_v:.4g}", lr=f"{lr:.1e}", refresh=False)
            last = self.step == self.total_steps
            do_val = self.val_images is not None and (self.step % cfg.val_every == 0 or last)
            do_ckpt = self.step % cfg.ckpt_every == 0
            if self.step % cfg.log_every == 0 or do_val or do_ckpt or last or stop_sum > 0:
                self._write_row(lr, do_val)
            if do_ckpt:
                self.save()
            if stop_sum > 0:
                stopped = int(self.stop.signum) or int(signal.SIGTERM)
                break
        dt = time.perf_counter() - t_start
        done = self.step - s_start
        self.steps_per_sec = done / dt if dt > 0 else float("nan")
        if self._saved_step != self.step:
            self.save()
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if stopped:
            try:
                name = signal.Signals(stopped).name
            except ValueError:
                name = f"signal {stopped}"
            self.say(
                f"innverse train: stopped by {name} at step {self.step}/{self.total_steps}; checkpoint "
                f"saved in {self.out / CHECKPOINT_DIR}; continue with --resume"
            )
            return 128 + stopped
        self.say(
            f"innverse train: {done} steps in {dt:.1f} s ({self.steps_per_sec:.2f} steps/s); "
            f"model exported to {self.out / 'model'}"
        )
        return 0

    def _fit_time_budget(self, step: int, n: int, seconds: float, t_start: float) -> None:
        """Lower ``total_steps`` so that the run ends within ``--time-limit`` (measured rate)."""
        rate = n / max(seconds, 1e-9)
        left = float(self.cfg.time_limit) - (time.perf_counter() - t_start) - 15.0  # final save
        fit = step + max(1, int(rate * left * 0.95))
        if fit < self.total_steps:
            self.say(f"innverse train: {rate:.1f} steps/s; --time-limit {self.cfg.time_limit:g}s fits "
                     f"{fit} of {self.total_steps} steps: total lowered to {fit}")
            self.total_steps = fit
            if self._bar is not None:
                self._bar.total = fit
                self._bar.refresh()

    def _write_row(self, lr: float, do_val: bool) -> None:
        n = self._acc[2]
        row: dict = {
            "step": self.step,
            "loss": self._acc[0] / n if n else None,
            "data_loss": self._acc[1] / n if n else None,
            "lr": lr,
            "seconds": round(self._elapsed(), 3),
            "val_psnr": None,
            "val_sigma_mae": None,
        }
        self._acc = [0.0, 0.0, 0]
        if do_val and self.info.is_main:
            s255 = float(self.cfg.sigma) if self.cfg.sigma is not None else 25.0
            score = validate(self.model, self.cfg.kind, self.val_images, s255, self.device)
            row["val_sigma_mae" if self.cfg.kind == "nenet" else "val_psnr"] = round(score, 4)
            unit = "grey levels" if self.cfg.kind == "nenet" else "dB"
            self.say(f"step {self.step}: validation at sigma {s255:g}: {score:.3f} {unit}")
        self._log(row)


def _truncate_log(path: Path, step: int) -> None:
    """Drop rows logged after ``step`` (work that a resume or rollback redoes)."""
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r.get("step", "").isdigit() and int(r["step"]) <= step]
    if len(keep) == len(rows):
        return
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LOG_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(keep)
    tmp.replace(path)
