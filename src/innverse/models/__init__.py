"""Models: WINNet/LINN denoisers, NENet noise estimation, the DnCNN baseline; loading and saving.

* model definitions: :mod:`~innverse.models.winnet`, :mod:`~innverse.models.nenet`,
  :mod:`~innverse.models.dncnn` (they import :mod:`innverse.nn` and the checkpoint-format modules only);
* :mod:`~innverse.models.protocols` -- the typed seams (``Denoiser``, ``NoiseEstimator``, ``EpsModel``,
  ``Flow``, ``Checkpointable``);
* :mod:`~innverse.models.registry` -- the registry of model kinds, the shipped weights, the table of
  default models;
* :mod:`~innverse.models.io` (our safetensors checkpoints) and :mod:`~innverse.models.official`
  (released ``.pth`` formats);
* :mod:`~innverse.models.hub` -- ``load_model`` and friends.
"""

from innverse.models.dncnn import DnCNN
from innverse.models.hub import (
    load_checkpoint,
    load_denoiser,
    load_estimator,
    load_model,
    load_released,
    pretrained,
)
from innverse.models.io import read_checkpoint, save_model
from innverse.models.nenet import NENet
from innverse.models.protocols import Checkpointable, Denoiser, EpsModel, Flow, NoiseEstimator
from innverse.models.registry import (
    DEFAULTS,
    ModelKind,
    build_model,
    default_denoiser,
    default_estimator,
    list_pretrained,
    model_kinds,
    register_kind,
    weights_dir,
)
from innverse.models.winnet import CLISTA, LiftingNet, WINNet, WINNetCoeffs, count_parameters

__all__ = [
    "CLISTA",
    "DEFAULTS",
    "Checkpointable",
    "DnCNN",
    "Denoiser",
    "EpsModel",
    "Flow",
    "LiftingNet",
    "ModelKind",
    "NENet",
    "NoiseEstimator",
    "WINNet",
    "WINNetCoeffs",
    "build_model",
    "count_parameters",
    "default_denoiser",
    "default_estimator",
    "list_pretrained",
    "load_checkpoint",
    "load_denoiser",
    "load_estimator",
    "load_model",
    "load_released",
    "model_kinds",
    "pretrained",
    "read_checkpoint",
    "register_kind",
    "save_model",
    "weights_dir",
]
