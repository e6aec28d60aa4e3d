"""Training: the engine, the task contract and the built-in tasks (``innverse train TASK``).

* :mod:`~innverse.train.engine` -- :class:`Engine` and :class:`EngineConfig`: the loop (exact resume,
  NaN rollback, DDP, AMP, EMA, time budget, CSV log, progress), knowing nothing about the task;
* :mod:`~innverse.train.task` -- :class:`TrainTask`, what a task supplies;
* :mod:`~innverse.train.registry` -- the tasks ``innverse train`` knows;
* :mod:`~innverse.train.tasks` -- the built-in tasks (``winnet``, ``nenet``, ...);
* :mod:`~innverse.train.patches` -- deterministic patch sampling from in-memory images;
* :mod:`~innverse.train.schedule` -- learning-rate schedules;
* :mod:`~innverse.train.checkpoint` -- atomic checkpoints with optimizer and RNG state;
* :mod:`~innverse.train.distributed` -- torchrun / DistributedDataParallel support.
"""

from innverse.train.engine import Engine, EngineConfig
from innverse.train.patches import PatchSampler
from innverse.train.registry import get_task, register_task, task_names
from innverse.train.schedule import learning_rate, step_lr
from innverse.train.task import TrainTask

__all__ = [
    "Engine",
    "EngineConfig",
    "PatchSampler",
    "TrainTask",
    "get_task",
    "learning_rate",
    "register_task",
    "step_lr",
    "task_names",
]
