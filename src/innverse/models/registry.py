"""What models exist: the registry of model kinds, the shipped weights, and the table of default models.

* **Kinds** -- every model class innverse can build, save and load is registered here once, under the
  ``kind`` its checkpoints carry (:class:`ModelKind`: its role, its class, imported lazily, a small
  example configuration for the contract tests, and how to read its released checkpoints).
  :func:`build_model` makes a fresh model of a kind; :func:`innverse.models.load_model` loads one.
* **Shipped weights** -- :func:`list_pretrained` (name -> model card) under :func:`weights_dir`.
* **Defaults** -- :data:`DEFAULTS`, the one table of which shipped model serves which job when the
  user names none; :func:`default_denoiser` and :func:`default_estimator` read it.

This module only looks things up; loading weights is :mod:`innverse.models.hub`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.models.protocols import Checkpointable

__all__ = [
    "Role",
    "ModelKind",
    "register_kind",
    "source_name",
    "model_kinds",
    "get_kind",
    "build_model",
    "kind_of",
    "example_input",
    "weights_dir",
    "list_pretrained",
    "DefaultModels",
    "DEFAULTS",
    "default_denoiser",
    "default_estimator",
]

#: what a model is for (each role has its protocol in :mod:`innverse.models.protocols`)
Role = Literal["denoiser", "noise-estimator", "eps-model", "flow", "posterior", "classifier", "separator"]
#: (path of a released checkpoint, device) -> model in eval mode
ReleasedLoader = Callable[[Path, "str | torch.device"], nn.Module]
#: (dtype, device) -> (input, conditioning keywords) for a kind's example model
ExampleInput = Callable[[torch.dtype, torch.device], "tuple[Tensor, dict[str, Any]]"]


@dataclass(frozen=True)
class ModelKind:
    """One registered kind of model.

    ``model_class()`` imports and returns the class (constructor keywords = the checkpoint's
    ``config``); ``example`` is a small configuration used by the contract tests, and
    ``example_input(dtype, device) -> (x, cond)`` an input for that example (needed for roles whose
    input is not a gray image, e.g. flows); ``from_released`` loads a checkpoint in the authors'
    released format, when innverse reads one.
    """

    name: str
    role: Role
    summary: str
    model_class: Callable[[], type[nn.Module]]
    example: Mapping[str, Any] = field(default_factory=dict)
    from_released: ReleasedLoader | None = None
    example_input: ExampleInput | None = None


_KINDS: dict[str, ModelKind] = {}


def register_kind(kind: ModelKind) -> ModelKind:
    """Register ``kind`` (a name registered again is replaced)."""
    _KINDS[kind.name] = kind
    return kind


def model_kinds() -> dict[str, ModelKind]:
    """Name -> :class:`ModelKind` of every registered kind."""
    return dict(_KINDS)


def get_kind(name: str) -> ModelKind:
    """The registered kind ``name``; an unknown name is a :class:`~innverse.errors.UserError`."""
    if name not in _KINDS:
        raise UserError(f"unknown model kind {name!r} (expected one of {sorted(_KINDS)})")
    return _KINDS[name]


def build_model(kind: str, config: Mapping[str, Any]) -> nn.Module:
    """A freshly initialised model of ``kind`` with constructor keywords ``config``.

    An unknown kind raises :class:`~innverse.errors.UserError`; keywords the class does not take
    raise ``TypeError`` (callers that read a config from a file turn it into a ``UserError``)."""
    return get_kind(kind).model_class()(**dict(config))


def kind_of(model: object) -> ModelKind | None:
    """The registered kind of a model instance (a :class:`~innverse.models.protocols.Checkpointable`
    whose ``kind`` is registered), or None."""
    return _KINDS.get(model.kind) if isinstance(model, Checkpointable) else None


# ------------------------------------------------------------------------------ the built-in kinds
def example_input(shape: tuple[int, ...], cond: Mapping[str, tuple[int, ...]] | None = None) -> ExampleInput:
    """An :attr:`ModelKind.example_input`: a seeded uniform [0, 1) input of ``shape`` and seeded normal
    conditioning tensors of the given shapes."""

    def make(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, dict[str, Any]]:
        g = torch.Generator().manual_seed(0)
        x = torch.rand(shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
        extra = {
            k: torch.randn(s, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
            for k, s in (cond or {}).items()
        }
        return x, extra

    return make


def _winnet() -> type[nn.Module]:
    from innverse.models.winnet import WINNet

    return WINNet


def _nenet() -> type[nn.Module]:
    from innverse.models.nenet import NENet

    return NENet


def _dncnn() -> type[nn.Module]:
    from innverse.models.dncnn import DnCNN

    return DnCNN


def _released_winnet(path: Path, device: str | torch.device) -> nn.Module:
    from innverse.models.winnet import WINNet

    return WINNet.from_official(path, device)


def _released_nenet(path: Path, device: str | torch.device) -> nn.Module:
    from innverse.models.nenet import NENet

    return NENet.from_official(path, device)


def _released_dncnn(path: Path, device: str | torch.device) -> nn.Module:
    from innverse.models.dncnn import DnCNN

    return DnCNN.from_official(path, device)


register_kind(
    ModelKind(
        "winnet",
        "denoiser",
        "WINNet/LINN: lifting-scheme invertible denoiser (Huang & Dragotti, TIP 2022)",
        _winnet,
        {"levels": 2, "steps": 1, "blocks": 1, "channels": 4, "dn_channels": 4, "dn_iters": 2},
        _released_winnet,
    )
)
register_kind(
    ModelKind(
        "nenet",
        "noise-estimator",
        "NENet: learned noise-level estimation by weighted patch PCA (WINNet paper, Sec. V)",
        _nenet,
        {"hidden": 4, "layers": 1},
        _released_nenet,
    )
)
register_kind(
    ModelKind(
        "dncnn",
        "denoiser",
        "DnCNN-S (Zhang et al., 2017), a residual CNN baseline (KAIR's released weights)",
        _dncnn,
        {"depth": 3, "channels": 4},
        _released_dncnn,
    )
)


def _glow() -> type[nn.Module]:
    from innverse.models.glow import Glow

    return Glow


def _posterior_inn() -> type[nn.Module]:
    from innverse.models.posterior import PosteriorINN

    return PosteriorINN


def _posterior_cinn() -> type[nn.Module]:
    from innverse.models.posterior import ConditionalINN

    return ConditionalINN


def _ddpm_unet() -> type[nn.Module]:
    from innverse.diffusion.unet import UNet

    return UNet


register_kind(
    ModelKind(
        "ddpm",
        "eps-model",
        "time-conditioned UNet epsilon-network of a diffusion prior (innverse.diffusion.load_prior adds "
        "its noise schedule)",
        _ddpm_unet,
        {"width": 8, "mults": [1, 2], "blocks": [1, 1], "attention": [1], "groups": 4, "sample_size": 8},
    )
)
register_kind(
    ModelKind(
        "glow",
        "flow",
        "Glow (Kingma & Dhariwal, 2018): multi-scale normalizing flow, log-likelihood in bits/dim",
        _glow,
        {"levels": 1, "steps": 2, "width": 4, "image_size": 4},
        example_input=example_input((2, 1, 4, 4)),
    )
)
register_kind(
    ModelKind(
        "posterior-inn",
        "posterior",
        "INN x <-> [z, y] trained bidirectionally (Ardizzone et al., ICLR 2019): samples of p(x | y)",
        _posterior_inn,
        {"x_dim": 2, "y_dim": 2, "z_dim": 1, "total_dim": 4, "blocks": 1, "hidden": 8},
        example_input=example_input((2, 4)),
    )
)
register_kind(
    ModelKind(
        "posterior-cinn",
        "posterior",
        "conditional INN x <-> z given y, maximum likelihood (Ardizzone et al. 2019b): samples of p(x | y)",
        _posterior_cinn,
        {"x_dim": 2, "y_dim": 2, "blocks": 1, "hidden": 8},
        example_input=example_input((2, 2), {"cond": (2, 2)}),
    )
)


def _classifier_resnet() -> type[nn.Module]:
    from innverse.models.classifier import ResNetClassifier

    return ResNetClassifier


def _classifier_convnet() -> type[nn.Module]:
    from innverse.models.classifier import ConvNetClassifier

    return ConvNetClassifier


register_kind(
    ModelKind(
        "classifier-resnet",
        "classifier",
        "Fashion-MNIST pre-activation ResNet classifier (the attack target, fmnist-classifier)",
        _classifier_resnet,
        {"width": 4, "blocks": [1, 1, 1]},
        example_input=example_input((2, 1, 28, 28)),
    )
)
register_kind(
    ModelKind(
        "classifier-convnet",
        "classifier",
        "Fashion-MNIST plain VGG-style classifier (transfer target, fmnist-classifier-b)",
        _classifier_convnet,
        {"width": 4, "hidden": 8},
        example_input=example_input((2, 1, 28, 28)),
    )
)


def _hinet() -> type[nn.Module]:
    from innverse.models.hinet import HiNet

    return HiNet


register_kind(
    ModelKind(
        "hinet",
        "flow",
        "HiNet invertible image hiding (Jing et al., ICCV 2021): [cover | secrets] <-> [stego | r]",
        _hinet,
        {"secrets": 1, "blocks": 2, "hidden": 4},
        example_input=example_input((2, 6, 4, 4)),
    )
)


def _indigo_inn() -> type[nn.Module]:
    from innverse.models.indigo_inn import INDigoINN

    return INDigoINN


register_kind(
    ModelKind(
        "indigo-inn",
        "flow",
        "INDigo's INN (You, Floros & Dragotti, MMSP 2023): Haar + lifting steps per 2x level whose coarse "
        "part mimics a degradation; x <-> [c | details]",
        _indigo_inn,
        {"channels": 1, "scale": 4, "steps": 1, "hidden": 4, "blocks": 1},
        example_input=example_input((2, 1, 8, 12)),
    )
)


def _durrnet() -> type[nn.Module]:
    from innverse.models.durrnet import DURRNet

    return DURRNet


def _unet_separator() -> type[nn.Module]:
    from innverse.models.unet_separator import UNetSeparator

    return UNetSeparator


register_kind(
    ModelKind(
        "durrnet",
        "separator",
        "DURRNet reflection removal (Huang, Dragotti et al., ICASSP 2024): I -> (T, R); the ablations "
        "durrnet-haar / durrnet-noexcl are its lifting / exclusion flags",
        _durrnet,
        {"features": 4, "stages": 1, "scales": 2, "prior_steps": 1, "prior_hidden": 4},
        example_input=example_input((2, 3, 8, 12)),
    )
)
register_kind(
    ModelKind(
        "unet-separator",
        "separator",
        "residual U-Net separating I -> (T, R): the non-invertible baseline of DURRNet",
        _unet_separator,
        {"width": 4},
        example_input=example_input((2, 3, 8, 12)),
    )
)


# ------------------------------------------------------------------------------ shipped weights
def weights_dir() -> Path:
    """The folder of the shipped weights (``<name>.safetensors``, ``<name>.json``, ``<name>.card.json``)."""
    return Path(str(resources.files("innverse") / "weights"))


def source_name(source: str) -> str:
    """A model's ``source`` for messages: shipped weights by their name (not their install path),
    anything else as given."""
    p = Path(source)
    if p.suffix == ".safetensors" and p.parent.resolve() == weights_dir().resolve():
        return p.stem
    return source


def list_pretrained() -> dict[str, dict[str, Any]]:
    """Name -> model card for every shipped model."""
    out = {}
    for cfg in sorted(weights_dir().glob("*.json")):
        if cfg.name.endswith(".card.json"):
            continue
        name = cfg.stem
        if (weights_dir() / f"{name}.safetensors").is_file():
            card_file = weights_dir() / f"{name}.card.json"
            out[name] = json.loads(card_file.read_text()) if card_file.is_file() else {}
    return out


# ------------------------------------------------------------------------------ default models
@dataclass(frozen=True)
class DefaultModels:
    """Which shipped model serves which job when the user names none.

    ``denoisers``: noise level (0-255 scale) -> the non-blind denoiser trained for it, used for any
    sigma within ``sigma_tolerance`` of that level; ``blind_denoiser`` for every other sigma and when
    sigma is unknown; ``noise_estimator`` for blind denoising.
    """

    denoisers: Mapping[float, str]
    blind_denoiser: str
    noise_estimator: str
    sigma_tolerance: float = 2.5


#: the one table of default models
DEFAULTS = DefaultModels(
    denoisers={15.0: "winnet-s15", 25.0: "winnet-s25", 50.0: "winnet-s50"},
    blind_denoiser="winnet-blind",
    noise_estimator="nenet",
)


def default_denoiser(sigma255: float | None) -> str:
    """Name of the shipped denoiser for a noise level on the 0-255 scale (None: blind), from
    :data:`DEFAULTS` (a non-blind entry counts only when its weights are shipped)."""
    if sigma255 is not None:
        available = list_pretrained()
        fixed = {s: n for s, n in DEFAULTS.denoisers.items() if n in available}
        if fixed:
            best = min(fixed, key=lambda s: abs(s - sigma255))
            if abs(best - sigma255) <= DEFAULTS.sigma_tolerance:
                return fixed[best]
    return DEFAULTS.blind_denoiser


def default_estimator() -> str:
    """Name of the shipped noise estimator (from :data:`DEFAULTS`)."""
    return DEFAULTS.noise_estimator
