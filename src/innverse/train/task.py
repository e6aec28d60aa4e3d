"""The contract between the training engine and what it trains.

The engine (:mod:`innverse.train.engine`) owns the loop: seeding, the optimizer and its learning-rate
schedule, gradient clipping, AMP, DDP, an optional EMA of the weights, checkpoints (exact resume,
NaN rollback, SIGTERM), the time budget, the CSV log and the progress bar.  It knows nothing about
images, noise levels or diffusion times.  A *task* supplies everything else:

* its settings, a dataclass (:attr:`TrainTask.Config`) whose fields become ``innverse train TASK``
  options (the field's ``metadata["help"]`` is the help text; ``metadata["recipe"] = False`` keeps a
  field out of the settings a resumed run must share);
* the model (:meth:`build_model`), the data (:meth:`prepare`, :meth:`fingerprint`,
  :meth:`epoch_size`);
* the batch of a step (:meth:`batch`), a *pure function* of ``(seed, step, shard)``: this is what
  makes a resumed run bit-identical to an uninterrupted one;
* the loss (:meth:`loss`), the validation scores (:meth:`validate`) and the export of the trained
  model (:meth:`export`).

The tasks ``innverse train`` knows are listed in :mod:`innverse.train.registry`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

__all__ = ["TrainTask", "Batch"]

#: a batch as the task makes it: named tensors (moved to the device by the engine)
Batch = dict[str, Tensor]


class TrainTask:
    """Base class of training tasks; subclasses override the methods below.

    ``cfg`` is an instance of the subclass's :attr:`Config` dataclass; ``seed`` is the run's seed
    (the engine's ``--seed``).  Methods are called in this order on every rank: ``prepare`` ->
    ``build_model`` -> (``fingerprint``, ``epoch_size``) -> per step ``batch`` and ``loss``; rank 0
    alone calls ``validate`` and ``export``.
    """

    #: the name of ``innverse train NAME``
    name: ClassVar[str] = ""
    #: one line for ``innverse train`` 's list of tasks
    summary: ClassVar[str] = ""
    #: command lines that ``innverse train NAME --help`` shows as examples
    examples: ClassVar[tuple[str, ...]] = ()

    @dataclasses.dataclass
    class Config:
        """The task's settings (a dataclass; override in subclasses)."""

    #: engine defaults this task prefers (``lr``, ``batch_size``, ``epochs``, ``lr_schedule``,
    #: ``warmup``, ``clip``, ``ema``, and ``init_lr``: the rate of a ``--init`` fine-tune), applied
    #: where the user gave no value
    engine_defaults: ClassVar[dict[str, Any]] = {}
    #: names of the loss parts :meth:`loss` returns (log.csv columns after ``loss``)
    log_fields: ClassVar[tuple[str, ...]] = ()
    #: names of the scores :meth:`validate` returns (log.csv columns after ``seconds``)
    val_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, cfg: Any, seed: int = 0) -> None:
        self.cfg = cfg
        self.seed = int(seed)
        #: the run folder (set by the engine before :meth:`prepare`; validation may write there)
        self.out_dir: Path | None = None
        #: the autocast dtype the engine chose (None: float32); use :meth:`autocast` in :meth:`loss`
        self.amp_dtype: torch.dtype | None = None

    def autocast(self, device_type: str) -> contextlib.AbstractContextManager:
        """The engine's mixed-precision context for the model's forward (a no-op in float32)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device_type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------ settings
    def check(self) -> None:
        """Validate ``self.cfg``; raise :class:`innverse.errors.UserError` with one line when bad."""

    def recipe(self) -> dict:
        """The task settings a ``--resume`` must share with the checkpoint (JSON-able)."""
        out = {}
        for f in dataclasses.fields(self.cfg):
            if f.metadata.get("recipe", True):
                out[f.name] = getattr(self.cfg, f.name)
        return out

    # ------------------------------------------------------------------ data and model
    def prepare(self, rank: int, world_size: int) -> None:
        """Load the training (and, on rank 0, validation) data."""

    def build_model(self) -> nn.Module:  # pragma: no cover - abstract
        """A freshly initialised model (called after the engine has seeded torch)."""
        raise NotImplementedError

    def fingerprint(self) -> dict:
        """Identity of the training data (sizes, counts), compared on ``--resume``."""
        return {}

    def epoch_size(self) -> int:
        """Training examples in one epoch (the engine turns ``--epochs`` into steps with it)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def batch(self, step: int, batch_size: int, shard: tuple[int, int]) -> Batch:  # pragma: no cover
        """This rank's part of the global batch of ``step``: a pure function of (seed, step, shard).

        ``shard = (rank, world_size)``; the global batch has ``batch_size`` examples and each rank
        gets ``batch_size // world_size`` of them, so a 2-process run sees the same examples as a
        1-process run of the same batch size.  Return CPU tensors; the engine moves them.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ optimisation
    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        """``(total, parts)``: the scalar to minimise and named scalar parts to log (e.g. ``data_loss``).

        Wrap the model's forward in ``with self.autocast(x.device.type):`` for mixed precision;
        ``model`` is the bare model (the engine wraps this call, not the model, in DDP).  The parts
        are those named in :attr:`log_fields`.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def parameters(self, model: nn.Module) -> list[nn.Parameter]:
        """The parameters to optimise (default: every one that requires a gradient)."""
        return [p for p in model.parameters() if p.requires_grad]

    # ------------------------------------------------------------------ task-owned training state
    def state_dict(self) -> dict:
        """Training state the task owns beyond the model and its optimizer (e.g. an adversary that is
        trained alongside, with its own optimizer): saved in every checkpoint and handed back to
        :meth:`load_state_dict` on ``--resume`` and on a NaN rollback.  ``{}`` (the default): none."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned; ``state`` is ``{}`` for a checkpoint without task
        state.  The default accepts only ``{}``."""
        if state:
            raise ValueError(f"task {self.name!r} keeps no training state, got {sorted(state)}")

    # ------------------------------------------------------------------ evaluation and export
    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Validation scores on rank 0 (the model is in eval mode); ``{}`` when there is no val set."""
        return {}

    def has_validation(self) -> bool:
        """True when :meth:`validate` has something to score."""
        return False

    def describe_validation(self, scores: dict[str, float]) -> str:
        """The line printed after a validation (empty: print nothing)."""
        return ", ".join(f"{k} {v:.4g}" for k, v in scores.items())

    def load_init(self, spec: str) -> nn.Module:
        """The model named by ``--init`` (default: :func:`innverse.models.load_model`)."""
        from innverse.models import load_model

        return load_model(spec)

    def export(self, model: nn.Module, directory: Path, card: dict) -> None:
        """Write the trained model to ``directory`` (a loadable model folder) with ``card``."""
        save = getattr(model, "save", None)
        if callable(save):
            save(directory, card=card)

    def describe_init(self, src: nn.Module, model: nn.Module) -> str | None:
        """``None`` when ``--init`` weights ``src`` fit ``model``; otherwise why not (one line)."""
        a, b = getattr(src, "config", None), getattr(model, "config", None)
        if a != b:
            return f"its model config {a} differs from this run's {b}"
        return None
