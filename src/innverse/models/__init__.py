"""Models: WINNet/LINN denoisers, NENet noise estimation; official checkpoint import."""

from innverse.models.frames import DCTFrame, dct_matrix
from innverse.models.io import build_model, load_checkpoint, save_model
from innverse.models.nenet import NENet
from innverse.models.registry import default_denoiser, list_pretrained, load_model, pretrained
from innverse.models.winnet import CLISTA, LiftingNet, WINNet, WINNetCoeffs

__all__ = [
    "CLISTA",
    "DCTFrame",
    "LiftingNet",
    "NENet",
    "WINNet",
    "WINNetCoeffs",
    "build_model",
    "dct_matrix",
    "default_denoiser",
    "list_pretrained",
    "load_checkpoint",
    "load_model",
    "pretrained",
    "save_model",
]
