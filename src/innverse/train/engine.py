"""The training engine behind ``innverse train TASK``: the loop, with no knowledge of the task.

What the engine gives every task (:class:`innverse.train.task.TrainTask`):

* seeding, then Adam with a learning-rate schedule that is a pure function of the step
  (:mod:`innverse.train.schedule`), gradient-norm clipping, optional AMP on CUDA;
* an optional exponential moving average of the weights (``ema``; the EMA weights are the ones
  validated and exported);
* atomic checkpoints every ``ckpt_every`` steps (:mod:`innverse.train.checkpoint`) holding the
  weights, the optimizer, the EMA, every RNG state and the data fingerprint: a resumed CPU run is
  bit-identical to an uninterrupted one because the task's batch is a pure function of
  ``(seed, step)``;
* a NaN/inf loss or gradient rolls the run back to the last checkpoint and halves the learning
  rate (up to ``max_rollbacks`` times);
* SIGINT/SIGTERM finish the current step, save a checkpoint and return ``128 + signal`` (a second
  signal stops at once; the last committed checkpoint stays intact);
* DistributedDataParallel under torchrun (gloo on CPU, nccl on CUDA): ``batch_size`` is the global
  batch and every rank takes its shard of the same global batch;
* ``time_limit``: after a short warm-up the run's step count is lowered to what fits, refitted at a
  quarter, half and three quarters of the run (validation and checkpoints included in the rate); a
  run that still reaches the limit ends there, validated and exported;
* a CSV log (``OUT/log.csv``), a progress bar, TensorBoard when it is installed.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import json
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from innverse.devices import resolve_device
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
from innverse.train.schedule import SCHEDULES, learning_rate
from innverse.train.task import Batch, TrainTask

__all__ = ["EngineConfig", "Engine", "ENGINE_RECIPE", "rank_device", "resolve_amp"]

#: engine settings a resumed run must share with its checkpoint (they decide the updates)
ENGINE_RECIPE = (
    "batch_size",
    "lr",
    "lr_schedule",
    "lr_drop_at",
    "lr_drop",
    "warmup",
    "clip",
    "seed",
    "ema",
)


@dataclass
class EngineConfig:
    """The engine's settings.  ``None`` fields take the task's :attr:`~TrainTask.engine_defaults`,
    then the values below."""

    out: str = "runs/train"
    batch_size: int | None = None
    max_steps: int | None = None
    epochs: float | None = None
    lr: float | None = None
    lr_schedule: str | None = None
    lr_drop_at: float | None = None
    lr_drop: float | None = None
    warmup: int | None = None
    clip: float | None = None
    seed: int = 0
    ema: float | None = None
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
    #: wall-clock budget (s) of this invocation: after a short warm-up the run's total step count is
    #: lowered to what fits (recorded in the checkpoint, so a resumed run keeps it)
    time_limit: float | None = None
    #: start a fresh run from these weights (a model folder, a checkpoint file or a pretrained name)
    init: str | None = None


#: fallbacks for the ``None`` fields of :class:`EngineConfig`
_FALLBACK: dict[str, Any] = {
    "batch_size": 32,
    "lr": 1e-3,
    "lr_schedule": "step",
    "lr_drop_at": 0.6,
    "lr_drop": 0.1,
    "warmup": 0,
    "clip": 1.0,
    "ema": 0.0,
    "epochs": 1.0,
}


def resolve_engine_config(cfg: EngineConfig, task: TrainTask) -> EngineConfig:
    """``cfg`` with defaults filled in (task preferences first) and the values checked (UserError)."""
    c = replace(cfg)
    prefs = dict(task.engine_defaults)
    if c.init and c.lr is None and "init_lr" in prefs:
        c.lr = prefs["init_lr"]
    for f in dataclasses.fields(EngineConfig):
        if getattr(c, f.name) is None and f.name in _FALLBACK:
            if f.name == "epochs" and c.max_steps is not None:
                continue
            setattr(c, f.name, prefs.get(f.name, _FALLBACK[f.name]))
    if c.lr_schedule not in SCHEDULES:
        raise UserError(f"--lr-schedule {c.lr_schedule!r}: expected one of {', '.join(SCHEDULES)}")
    for name in ("batch_size", "ckpt_every", "val_every", "log_every"):
        if int(getattr(c, name)) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    if c.max_steps is not None and c.max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    if c.epochs is not None and c.epochs <= 0:
        raise UserError("--epochs must be positive")
    if not (c.lr is not None and c.lr > 0 and math.isfinite(c.lr)):
        raise UserError("--lr must be a positive number")
    if c.warmup is None or c.warmup < 0:
        raise UserError("--warmup must be >= 0")
    if not (0.0 <= float(c.ema or 0.0) < 1.0):
        raise UserError(f"--ema {c.ema}: the decay must be in [0, 1) (0 disables it)")
    if c.workers < 0:
        raise UserError("--workers must be >= 0")
    if c.amp not in ("auto", "bf16", "fp16", "none"):
        raise UserError(f"--amp {c.amp!r}: expected bf16, fp16 or none")
    if c.time_limit is not None and not c.time_limit > 0:
        raise UserError("--time-limit must be positive (seconds)")
    return c


def rank_device(pref: str, info: DistInfo) -> torch.device:
    """``auto``/``cpu``/``cuda`` -> the device of this rank (:func:`innverse.devices.resolve_device`):
    CUDA device ``local_rank`` in a distributed run, else the current CUDA device."""
    if pref not in ("auto", "cpu", "cuda"):
        raise UserError(f"--device {pref!r}: expected cpu, cuda or auto")
    dev = resolve_device(pref, local_rank=info.local_rank if info.enabled else None, option="--device")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: bf16 by default on CUDA with bf16 support; CPU training stays float32."""
    if device.type != "cuda":
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}[amp]


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


class _Prefetch:
    """The task's batches, optionally made one step ahead in a background thread (``workers >= 1``;
    the result does not depend on it)."""

    def __init__(self, make: Callable[[int], Batch], pin: bool, workers: int) -> None:
        self.make_batch, self.pin = make, pin
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="innverse-batches") if workers > 0 else None
        self.pending: dict[int, Future] = {}

    def _make(self, step: int) -> Batch:
        b = self.make_batch(step)
        if self.pin:
            b = {k: v.pin_memory() for k, v in b.items()}
        return b

    def get(self, step: int) -> Batch:
        fut = self.pending.pop(step, None)
        for f in self.pending.values():
            f.cancel()
        self.pending.clear()
        out = fut.result() if fut is not None else self._make(step)
        if self.pool is not None:
            self.pending[step + 1] = self.pool.submit(self._make, step + 1)
        return out

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _StepModule(nn.Module):
    """Wraps the task's loss so that DistributedDataParallel / torch.compile can wrap one module."""

    def __init__(self, task: TrainTask, model: nn.Module) -> None:
        super().__init__()
        self.task = task
        self.model = model

    def forward(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self.task.loss(self.model, batch, step)


class Engine:
    """Runs one training (fresh, resumed, single- or multi-process) of ``task`` under ``cfg``.

    ``model``: an already built model (tests, custom architectures); by default
    ``task.build_model()`` after seeding.  ``loss_hook(step, loss) -> loss`` is called on every
    step's total loss before the backward pass (tests use it to inject NaNs or signals).
    After :meth:`run`: ``step``, ``model``, ``history`` (the logged rows) and ``steps_per_sec``.
    """

    def __init__(
        self,
        task: TrainTask,
        cfg: EngineConfig,
        model: nn.Module | None = None,
        loss_hook: Callable[[int, Tensor], Tensor] | None = None,
    ) -> None:
        task.check()
        self.task = task
        self.cfg = resolve_engine_config(cfg, task)
        self.model = model
        self.ema_model: nn.Module | None = None
        self.loss_hook = loss_hook
        self.out = Path(self.cfg.out)
        self.stop = _StopFlag()
        self.step = 0
        self.lr_scale = 1.0
        self.rollbacks = 0
        self.elapsed0 = 0.0
        self.history: list[dict] = []
        self.steps_per_sec = float("nan")
        self.info = DistInfo()
        self._bar: Any = None
        self._tb: Any = None
        self.log_fields = ["step", "loss", *task.log_fields, "lr", "seconds", *task.val_fields]

    # --------------------------------------------------------------------------- settings
    def recipe(self) -> dict:
        """Engine and task settings a resumed run must share, JSON-normalised."""
        eng = {k: getattr(self.cfg, k) for k in ENGINE_RECIPE}
        return json.loads(
            json.dumps({"task": self.task.name, "engine": eng, "task_config": self.task.recipe()})
        )

    # ---------------------------------------------------------------------------- messages
    def say(self, msg: str) -> None:
        """One line on stderr from rank 0 (through the progress bar when it is shown)."""
        if not self.info.is_main:
            return
        if self._bar is not None:
            self._bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def request_stop(self, signum: int = signal.SIGTERM) -> None:
        """Ask the loop to finish the current step, save and return (as a signal would)."""
        self.stop.signum = self.stop.signum or int(signum)

    # ------------------------------------------------------------------------------- setup
    def _check_out(self) -> bool:
        """Apply the never-clobber rule; return True when resuming from a checkpoint."""
        cfg = self.cfg
        exists = has_checkpoint(self.out)
        if exists and not (cfg.resume or cfg.force):
            saved = read_config(self.out) or {}
            raise UserError(
                f"{self.out} already holds a training checkpoint (step {saved.get('step', '?')}); "
                f"pass --resume to continue it or --force to start over"
            )
        if cfg.resume and not exists:
            self.say(f"innverse train: no checkpoint in {self.out} to resume; starting a fresh run")
        if cfg.resume and exists:
            saved = read_config(self.out) or {}
            theirs = saved.get("recipe")
            if theirs is None:
                raise UserError(
                    f"--resume: {self.out} holds a checkpoint of an older innverse without a recorded "
                    f"recipe; start a fresh run (--init {self.out / 'model'} keeps its weights)"
                )
            mine = self.recipe()
            mism = []
            if theirs.get("task") != mine["task"]:
                raise UserError(f"--resume: {self.out} holds a {theirs.get('task')} run, not {mine['task']}")
            for group in ("engine", "task_config"):
                a, b = theirs.get(group, {}), mine[group]
                for k in sorted(set(a) | set(b)):
                    if a.get(k) != b.get(k):
                        mism.append(f"{k}={json.dumps(a.get(k))} (now {json.dumps(b.get(k))})")
            if mism:
                raise UserError(
                    "--resume: the checkpoint was trained with other settings: " + ", ".join(mism)
                )
        return bool(cfg.resume and exists)

    def _config_record(self) -> dict:
        return {
            "task": self.task.name,
            "kind": getattr(self.model, "kind", self.task.name),
            "model_config": self._model_config(),
            "recipe": self.recipe(),
            "settings": json.loads(json.dumps(dataclasses.asdict(self.task.cfg))),
            "run": {k: getattr(self.cfg, k) for k in ("ckpt_every", "val_every", "log_every")},
            "data": self.fingerprint,
            "step": self.step,
            "total_steps": self.total_steps,
            "world_size": self.info.world_size,
            "innverse": _version(),
        }

    def _model_config(self) -> dict:
        cfg = getattr(self.model, "config", None)
        return dict(cfg) if isinstance(cfg, dict) else {}

    def _state(self) -> dict:
        spe = self.steps_per_epoch
        state = {
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
        if self.ema_model is not None:
            state["ema"] = {k: v.detach().cpu().clone() for k, v in self.ema_model.state_dict().items()}
        task_state = self.task.state_dict()
        if task_state:
            state["task"] = task_state
        return state

    def _elapsed(self) -> float:
        return self.elapsed0 + (time.perf_counter() - self._t0)

    # -------------------------------------------------------------------------- checkpoints
    def save(self) -> None:
        """Checkpoint + model export (rank 0 writes; every rank waits for it)."""
        if self.info.is_main:
            save_checkpoint(self.out, self.model, self._state(), self._config_record())
            self._export()
        barrier(self.info)
        self._saved_step = self.step

    @property
    def eval_model(self) -> nn.Module:
        """The model validated and exported: the EMA weights when ``ema`` is set."""
        return self.ema_model if self.ema_model is not None else self.model

    def _export(self) -> None:
        card = {
            "trained_by": "innverse train",
            "task": self.task.name,
            "step": self.step,
            "total_steps": self.total_steps,
            "recipe": self.recipe(),
            "ema": bool(self.ema_model is not None),
        }
        self.task.export(self.eval_model, self.out / "model", card)

    def _load(self) -> dict:
        state, _ = load_checkpoint(self.out, self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema_model is not None:
            if "ema" not in state:
                raise UserError(f"--resume: {self.out} holds no EMA weights (trained without --ema)")
            self.ema_model.load_state_dict(state["ema"])
        self.task.load_state_dict(state.get("task", {}))
        self.step = int(state["step"])
        return state

    def _resume(self) -> None:
        state = self._load()
        if state.get("data") != self.fingerprint:
            raise UserError(
                f"--resume: the training data differs from the checkpoint's ({state.get('data')} then, "
                f"{self.fingerprint} now)"
            )
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.rollbacks = int(state.get("rollbacks", 0))
        self.elapsed0 = float(state.get("elapsed", 0.0))
        set_rng_state(state["rng"])
        if self.cfg.max_steps is not None and self.cfg.max_steps < self.step:
            self.say(
                f"innverse train: warning: --max-steps {self.cfg.max_steps} is below the checkpoint's step "
                f"{self.step}; nothing to train (the model is exported as it is)"
            )
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
        self._acc = _Accumulator()
        if self.info.is_main:
            _truncate_log(self.out / "log.csv", self.step, self.log_fields)
        self.say(
            f"innverse train: {what} at step {bad}; rolled back to step {self.step}, learning rate x{scale:g}"
        )

    # ------------------------------------------------------------------------------ logging
    def _log(self, row: dict) -> None:
        self.history.append(row)
        if not self.info.is_main:
            return
        path = self.out / "log.csv"
        new = not path.exists()
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.log_fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: ("" if row.get(k) is None else row[k]) for k in self.log_fields})
        if self._tb is not None:
            for k in self.log_fields[1:]:
                if isinstance(row.get(k), (int, float)):
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
            self.device = rank_device(cfg.device, self.info)
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

    def _setup(self) -> _Prefetch:
        cfg, info, task = self.cfg, self.info, self.task
        bs = int(cfg.batch_size)  # type: ignore[arg-type]
        if bs % info.world_size:
            raise UserError(f"--batch-size {bs} is not divisible by the {info.world_size} processes")
        resuming = self._check_out()
        barrier(info)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed % (1 << 32))
        task.out_dir = self.out
        task.prepare(info.rank, info.world_size)
        if self.model is None:
            self.model = task.build_model()
        if cfg.init and not resuming:
            src = task.load_init(cfg.init)
            why = task.describe_init(src, self.model)
            if why is not None:
                raise UserError(f"--init {cfg.init}: {why}")
            self.model.load_state_dict(src.state_dict())
            self.say(f"innverse train: initialised from {cfg.init}")
        self.fingerprint = json.loads(json.dumps(task.fingerprint()))
        self.steps_per_epoch = task.epoch_size() // bs
        if self.steps_per_epoch < 1:
            raise UserError(f"{task.epoch_size()} training examples: fewer than one batch of {bs}")
        self.total_steps = int(
            cfg.max_steps
            if cfg.max_steps is not None
            else max(1, round(float(cfg.epochs) * self.steps_per_epoch))
        )
        self.model.to(self.device).train()
        if cfg.ema:
            self.ema_model = copy.deepcopy(self.model).requires_grad_(False).eval()
        self.amp_dtype = resolve_amp(cfg.amp, self.device)
        task.amp_dtype = self.amp_dtype
        if self.device.type == "cpu" and cfg.amp in ("bf16", "fp16"):
            self.say(f"innverse train: --amp {cfg.amp} ignored on CPU (training runs in float32)")
        fused = self.device.type == "cuda"
        self.params = task.parameters(self.model)
        self.optimizer = torch.optim.Adam(self.params, lr=float(cfg.lr), fused=fused or None)  # type: ignore[arg-type]
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self._t0 = time.perf_counter()
        if resuming:
            self._resume()
        module: nn.Module = _StepModule(task, self.model)
        if info.enabled:
            from torch.nn.parallel import DistributedDataParallel

            module = DistributedDataParallel(
                module, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if cfg.compile:
            module = torch.compile(module)  # type: ignore[assignment]
        self.step_module = module

        self.out.mkdir(parents=True, exist_ok=True)
        if info.is_main:
            if resuming:
                _truncate_log(self.out / "log.csv", self.step, self.log_fields)
            else:
                (self.out / "log.csv").unlink(missing_ok=True)
        if not resuming:
            self.save()  # step 0: claims OUT and gives a NaN rollback a target
        self._saved_step = self.step
        self._open_tensorboard()
        shard = (info.rank, info.world_size)
        return _Prefetch(lambda s: task.batch(s, bs, shard), self.device.type == "cuda", cfg.workers)

    @torch.no_grad()
    def _update_ema(self) -> None:
        assert self.ema_model is not None
        decay = float(self.cfg.ema)  # type: ignore[arg-type]
        for e, p in zip(self.ema_model.parameters(), self.model.parameters(), strict=True):
            e.lerp_(p.detach(), 1.0 - decay)
        for e, b in zip(self.ema_model.buffers(), self.model.buffers(), strict=True):
            e.copy_(b)

    def _loop(self, batches: _Prefetch) -> int:
        cfg, info = self.cfg, self.info
        if info.is_main and cfg.progress:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total_steps,
                initial=min(self.step, self.total_steps),
                unit="step",
                dynamic_ncols=True,
                desc=f"train {self.task.name}",
                file=sys.stderr,
                mininterval=1.0,
                smoothing=0.1,
            )
        self.stop.install()
        self._acc = _Accumulator()
        t_start, s_start = time.perf_counter(), self.step
        nonblocking = self.device.type == "cuda"
        stopped = 0
        warm_from, warm_to = s_start + 10, s_start + 40
        t_warm = t_start
        refits: list[int] = []
        clip = float(cfg.clip) if cfg.clip and cfg.clip > 0 else float("inf")  # type: ignore[arg-type]
        while self.step < self.total_steps:
            step = self.step
            if cfg.time_limit and step == warm_from:
                t_warm = time.perf_counter()
            if cfg.time_limit and step == warm_to:
                self._fit_time_budget(step, warm_to - warm_from, time.perf_counter() - t_warm, t_start)
                refits = [warm_to + (self.total_steps - warm_to) * k // 4 for k in (1, 2, 3)]
            elif cfg.time_limit and step > warm_to and refits and step >= refits[0]:
                refits.pop(0)
                self._fit_time_budget(step, step - warm_from, time.perf_counter() - t_warm, t_start)
            batch = {k: v.to(self.device, non_blocking=nonblocking) for k, v in batches.get(step).items()}
            lr = learning_rate(
                str(cfg.lr_schedule),
                step,
                self.total_steps,
                float(cfg.lr),  # type: ignore[arg-type]
                warmup=int(cfg.warmup or 0),
                drop_at=float(cfg.lr_drop_at),
                drop=float(cfg.lr_drop),  # type: ignore[arg-type]
                scale=self.lr_scale,
            )
            for g in self.optimizer.param_groups:
                g["lr"] = lr
            self.optimizer.zero_grad(set_to_none=True)
            total, parts = self.step_module(batch, step)
            if self.loss_hook is not None:
                total = self.loss_hook(step, total)
            if self.scaler is not None:
                self.scaler.scale(total).backward()
                self.scaler.unscale_(self.optimizer)
            else:
                total.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(self.params, clip)
            names = list(parts)
            flags = torch.stack(
                [
                    total.detach().float(),
                    gnorm.detach().float().to(total.device),
                    torch.tensor(float(self.stop.signum), device=total.device),
                    *[parts[k].detach().float().to(total.device) for k in names],
                ]
            )
            reduced = all_reduce_sum(flags, info).tolist()
            loss_v, gn, stop_sum = reduced[0] / info.world_size, reduced[1], reduced[2]
            part_v = {k: v / info.world_size for k, v in zip(names, reduced[3:], strict=True)}
            if not math.isfinite(loss_v) or (self.scaler is None and not math.isfinite(gn)):
                self.optimizer.zero_grad(set_to_none=True)
                if self.scaler is not None:
                    self.scaler.update()  # closes this step's unscale_() (the state is reloaded next)
                self._rollback("non-finite loss" if not math.isfinite(loss_v) else "non-finite gradient")
                continue
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            if self.ema_model is not None:
                self._update_ema()
            self.step += 1
            if cfg.time_limit and self.step < self.total_steps:
                self._stop_at_time_limit(t_start)
            self._acc.add(loss_v, part_v)
            if self._bar is not None:
                self._bar.update(1)
                if self.step % 10 == 0 or self.step == self.total_steps:
                    self._bar.set_postfix(loss=f"{loss_v:.4g}", lr=f"{lr:.1e}", refresh=False)
            last = self.step == self.total_steps
            do_val = self.task.has_validation() and (self.step % cfg.val_every == 0 or last)
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
        self.steps_per_sec = done / dt if dt > 0 and done > 0 else float("nan")
        if self._saved_step != self.step:
            self.save()
        elif done <= 0 and self.info.is_main:
            self._export()
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

    def _lower_total(self, total: int) -> None:
        """End the run at step ``total`` (the schedule and the progress bar follow)."""
        self.total_steps = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def _stop_at_time_limit(self, t_start: float) -> None:
        """End the run at this step when ``--time-limit`` (less the final save's margin) has passed."""
        limit = float(self.cfg.time_limit)  # type: ignore[arg-type]
        if time.perf_counter() - t_start < limit - 5.0:
            return
        self.say(
            f"innverse train: --time-limit {limit:g}s reached at step {self.step} of {self.total_steps}: "
            "the run ends here"
        )
        self._lower_total(self.step)

    def _fit_time_budget(self, step: int, n: int, seconds: float, t_start: float) -> None:
        """Lower ``total_steps`` so that the run ends within ``--time-limit`` (measured rate over the
        last ``n`` steps, which took ``seconds``); never raises it, and ignores changes under 1 %."""
        rate = n / max(seconds, 1e-9)
        left = float(self.cfg.time_limit) - (time.perf_counter() - t_start) - 15.0  # type: ignore[arg-type]
        fit = step + max(1, int(rate * left * 0.95))
        if fit < self.total_steps and (self.total_steps - fit) > 0.01 * self.total_steps:
            self.say(
                f"innverse train: {rate:.1f} steps/s; --time-limit {self.cfg.time_limit:g}s fits "
                f"{fit} of {self.total_steps} steps: total lowered to {fit}"
            )
            self._lower_total(fit)

    def _write_row(self, lr: float, do_val: bool) -> None:
        row: dict = {"step": self.step, "lr": lr, "seconds": round(self._elapsed(), 3)}
        row.update(self._acc.means())
        self._acc = _Accumulator()
        if do_val and self.info.is_main:
            m = self.eval_model
            was = m.training
            m.eval()
            self.task.step = self.step  # tasks may name validation outputs by step
            try:
                scores = self.task.validate(m, self.device)
            finally:
                m.train(was)
            row.update({k: round(float(v), 4) for k, v in scores.items()})
            line = self.task.describe_validation(scores)
            if line:
                self.say(f"step {self.step}: {line}")
        self._log(row)


def _version() -> str:
    """The installed innverse version (without importing the package's face)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("innverse")
    except PackageNotFoundError:
        return "unknown"


class _Accumulator:
    """Running means of the logged loss and its parts between two log rows."""

    def __init__(self) -> None:
        self.n = 0
        self.sums: dict[str, float] = {}

    def add(self, loss: float, parts: dict[str, float]) -> None:
        self.n += 1
        for k, v in {"loss": loss, **parts}.items():
            self.sums[k] = self.sums.get(k, 0.0) + v

    def means(self) -> dict[str, float | None]:
        return {k: (v / self.n if self.n else None) for k, v in self.sums.items()}


def _truncate_log(path: Path, step: int, fields: list[str]) -> None:
    """Drop rows logged after ``step`` (work that a resume or rollback redoes)."""
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r.get("step", "").isdigit() and int(r["step"]) <= step]
    if len(keep) == len(rows):
        return
    from innverse.data.io import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(keep)

    atomic_write(path, write, force=True)
