"""Training of WINNet denoisers and NENet noise estimators (``innverse train``).

* :mod:`~innverse.train.patches` -- deterministic patch sampling from in-memory images;
* :mod:`~innverse.train.losses` -- data terms, the step learning-rate schedule, :class:`TrainLoss`;
* :mod:`~innverse.train.checkpoint` -- atomic checkpoints with optimizer and RNG state;
* :mod:`~innverse.train.distributed` -- torchrun / DistributedDataParallel support;
* :mod:`~innverse.train.trainer` -- :class:`TrainConfig` and :class:`Trainer`.
"""

from innverse.train.losses import TrainLoss, denoising_loss, sigma_loss, step_lr
from innverse.train.patches import PatchSampler
from innverse.train.trainer import TrainConfig, Trainer, validate

__all__ = [
    "PatchSampler",
    "TrainConfig",
    "TrainLoss",
    "Trainer",
    "denoising_loss",
    "sigma_loss",
    "step_lr",
    "validate",
]
