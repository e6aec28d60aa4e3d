"""Single-image reflection removal: split a photograph taken through glass, ``I ≈ T + R``, into the
transmission ``T`` (the scene behind the glass) and the reflection ``R``.

:func:`remove_reflection` works on user images (the :mod:`innverse.convention` rules: numpy
channels-last / torch channels-first, uint8, uint16 or float on [0, 1]) and returns ``(T, R)`` in
the input's kind, dtype and layout; :func:`remove_reflection_tensor` on ``(B, 3, H, W)`` float
tensors.  The separators are RGB models; a gray image is repeated into R, G and B and each result
is given back as the mean of its three channels (so a gray input gets gray results); an alpha
channel is passed through to both results.

Any size works: each image (or tile) is padded by reflection to a multiple of the model's
:func:`size_factor` (DURRNet pools by ``2**(scales-1)`` and Haar-splits the coarsest scale once
more, so ``2**scales``; the U-Net baseline halves once, so 2), run, and cropped back.  Large images
are cut into overlapping tiles blended with :func:`innverse.solvers.tiled.tiled_apply` (``tile``
pixels a side, ``tile=None`` or 0: the whole image at once), so that memory stays bounded.

Models: a registered separator kind (``durrnet`` with its ablations, ``unet-separator``) loaded by
:func:`load_separator` from a shipped name (the default :data:`DEFAULT_MODEL`, ``durrnet-lite``,
once its weights ship), a folder / ``.safetensors`` file written by ``innverse train durrnet``, or
a model instance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.convention import as_batch
from innverse.errors import UserError

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TILE",
    "DEFAULT_OVERLAP",
    "MIN_TILE",
    "SEPARATOR_ROLE",
    "load_separator",
    "describe_separator",
    "size_factor",
    "pad_to_multiple",
    "check_tiling",
    "remove_reflection_tensor",
    "remove_reflection",
    "sample_paths",
]

#: the shipped model used when none is named
DEFAULT_MODEL = "durrnet-lite"
#: tile side (pixels) of tiled inference, and the overlap of neighbouring tiles
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 32
#: the smallest tile accepted (0 / None means whole images)
MIN_TILE = 32
#: the registry role of reflection-separation models
SEPARATOR_ROLE = "separator"


def _not_shipped(spec: str) -> UserError:
    from innverse.models.registry import list_pretrained, model_kinds

    seps = {k for k, v in model_kinds().items() if v.role == SEPARATOR_ROLE}
    shipped = sorted(n for n in list_pretrained() if _card_kind(n) in seps)
    if spec == DEFAULT_MODEL:
        return UserError(
            f"the {DEFAULT_MODEL} weights are not shipped yet: train a model with 'innverse train durrnet "
            "--out RUN' and pass --model RUN/model (or model=...)"
        )
    return UserError(
        f"unknown reflection-removal model {spec!r} (shipped: {', '.join(shipped) or 'none'}; or a folder "
        "written by 'innverse train durrnet')"
    )


def _card_kind(name: str) -> str | None:
    import json

    from innverse.models.registry import weights_dir

    try:
        return json.loads((weights_dir() / f"{name}.json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def load_separator(
    model: str | Path | nn.Module = DEFAULT_MODEL, device: str | torch.device = "cpu"
) -> nn.Module:
    """A reflection separator ``model(I) -> (T, R)`` in eval mode on ``device``.

    ``model``: a shipped name (``durrnet-lite``), a model folder or ``.safetensors`` file of ours (what
    ``innverse train durrnet`` exports), or an ``nn.Module`` (returned as it is, moved to ``device``).
    A checkpoint of another role (a denoiser, ...) or an unknown name is a one-line
    :class:`~innverse.errors.UserError`; the default name says how to train the model while its
    weights are not shipped.
    """
    if isinstance(model, nn.Module):
        return model.to(device).eval()
    import innverse.models as models
    from innverse.models.registry import kind_of, weights_dir

    spec = str(model)
    if not spec.strip():
        raise UserError("the model name is empty (give a shipped name or a model folder)")
    path = Path(spec).expanduser()
    if not path.exists():
        is_name = "/" not in spec and "\\" not in spec and not spec.endswith((".safetensors", ".pth", ".pt"))
        if not is_name:
            raise UserError(f"{spec}: model file not found")
        if not (weights_dir() / f"{spec}.safetensors").is_file():
            raise _not_shipped(spec)
    net = models.load_model(spec, device)
    kind = kind_of(net)
    if kind is None or kind.role != SEPARATOR_ROLE:
        what = f"a {kind.name} checkpoint ({kind.role})" if kind is not None else f"a {type(net).__name__}"
        raise UserError(f"{spec}: is {what}, not a reflection-removal model (durrnet, unet-separator)")
    channels = dict(getattr(net, "config", {})).get("channels", 3)
    if channels != 3:
        raise UserError(f"{spec}: this model separates {channels}-channel images, not RGB")
    return net.to(device).eval()


def describe_separator(net: nn.Module) -> str:
    """A short description: the model's kind, its ablation flags and its parameter count."""
    cfg = dict(getattr(net, "config", {}))
    params = sum(p.numel() for p in net.parameters())
    kind = getattr(net, "kind", type(net).__name__)
    if kind == "durrnet":
        name = "DURRNet"
        if not cfg.get("lifting", True):
            name += " (Haar prior)"
        if not cfg.get("exclusion", True):
            name += " (no exclusion)"
        extra = f"{cfg.get('features')} features, {cfg.get('scales')} scales x {cfg.get('stages')} stages"
    elif kind == "unet-separator":
        name, extra = "U-Net baseline", f"width {cfg.get('width')}"
    else:
        name, extra = str(kind), ""
    return f"{name}, {extra + ', ' if extra else ''}{params:,} parameters"


def size_factor(net: nn.Module) -> int:
    """The number the input's height and width should be a multiple of, for ``net`` to work without
    padding inside (DURRNet: ``2**scales``; the U-Net baseline: 2; others: their ``size_factor``
    attribute, else 1)."""
    kind = getattr(net, "kind", None)
    cfg = getattr(net, "config", None) or {}
    if kind == "durrnet":
        return 2 ** int(cfg["scales"])
    if kind == "unet-separator":
        return 2
    return max(1, int(getattr(net, "size_factor", 1)))


def pad_to_multiple(x: Tensor, factor: int) -> tuple[Tensor, tuple[int, int, int, int]]:
    """``x`` (B, C, H, W) padded to multiples of ``factor`` (as evenly as possible on both sides) by
    reflection -- replication where a side is too short to reflect -- and the crop box
    ``(top, left, H, W)`` that gives the original back."""
    h, w = x.shape[-2:]
    ph, pw = -h % factor, -w % factor
    top, left = ph // 2, pw // 2
    if ph or pw:
        pads = (left, pw - left, top, ph - top)
        mode = "reflect" if max(left, pw - left) < w and max(top, ph - top) < h else "replicate"
        x = F.pad(x, pads, mode=mode)
    return x, (top, left, h, w)


def check_tiling(tile: int | None, overlap: int | None) -> tuple[int | None, int]:
    """``(tile or None, overlap)`` checked: ``tile`` 0 / None = whole images, else >= :data:`MIN_TILE`;
    ``overlap`` None = :data:`DEFAULT_OVERLAP` capped at a quarter of the tile."""
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int | np.integer)):
        raise UserError(f"tile must be a whole number of pixels (0 or None: whole images), got {tile!r}")
    if overlap is not None and (isinstance(overlap, bool) or not isinstance(overlap, int | np.integer)):
        raise UserError(f"overlap must be a whole number of pixels, got {overlap!r}")
    if not tile:
        return None, 0 if overlap is None else int(overlap)
    if tile < MIN_TILE:
        raise UserError(f"tile must be 0 (whole image) or at least {MIN_TILE} pixels, got {tile}")
    if overlap is None:
        return int(tile), min(DEFAULT_OVERLAP, int(tile) // 4)
    if not 0 <= overlap < tile:
        raise UserError(f"overlap must be >= 0 and smaller than the tile {tile}, got {overlap}")
    return int(tile), int(overlap)


@torch.no_grad()
def remove_reflection_tensor(
    image: Tensor,
    model: nn.Module,
    tile: int | None = DEFAULT_TILE,
    overlap: int | None = None,
) -> tuple[Tensor, Tensor]:
    """``(T, R)`` of ``image`` (B, 3, H, W) float on [0, 1], any H and W, by ``model`` (a separator, see
    :func:`load_separator`); the results have the input's shape, dtype and device and are not
    clipped.  Each tile of at most ``tile`` pixels a side (None / 0: the whole image) is padded to
    a multiple of :func:`size_factor` by reflection and cropped back; tiles overlap by ``overlap``
    pixels (default :data:`DEFAULT_OVERLAP`, at most a quarter of the tile) and are blended."""
    from innverse.solvers.tiled import tiled_apply

    if not isinstance(image, Tensor) or image.dim() != 4 or image.shape[1] != 3:
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise UserError(f"remove_reflection_tensor expects a (B, 3, H, W) RGB tensor, got {shape}")
    if not image.is_floating_point():
        raise UserError(f"remove_reflection_tensor expects a float tensor on [0, 1], got {image.dtype}")
    tile, overlap = check_tiling(tile, overlap)
    factor = size_factor(model)
    p = next(model.parameters(), None)
    dtype = p.dtype if p is not None else image.dtype
    device = p.device if p is not None else image.device

    def run(x: Tensor) -> Tensor:
        xp, (top, left, h, w) = pad_to_multiple(x.to(device=device, dtype=dtype), factor)
        t, r = model(xp)
        return torch.cat((t, r), dim=1)[..., top : top + h, left : left + w]

    out = tiled_apply(run, image, tile, overlap)
    out = out.to(device=image.device, dtype=image.dtype)
    return out[:, :3], out[:, 3:]


def remove_reflection(
    image: Any,
    model: str | Path | nn.Module = DEFAULT_MODEL,
    *,
    tile: int | None = DEFAULT_TILE,
    overlap: int | None = None,
    device: str | torch.device | None = None,
) -> tuple[Any, Any]:
    """Remove the reflection from a photograph taken through glass: returns ``(T, R)``, the
    transmission and the reflection, each in the kind (numpy / torch), dtype, layout and device of
    ``image`` (see the module docstring; integer results are rounded and clipped, float results are
    not clipped).  ``model``: a shipped name, a model folder of ``innverse train durrnet`` or a model;
    ``tile``/``overlap``: tiled inference (``tile=None``: whole images); ``device``: where the model
    runs (default: CUDA when available)."""
    from innverse.devices import resolve_device

    tile, overlap = check_tiling(tile, overlap)
    batch = as_batch(image)
    dev = resolve_device(device)
    net = load_separator(model, dev)
    x = batch.x
    gray = x.shape[1] == 1
    if gray:
        x = x.expand(-1, 3, -1, -1)
    t, r = remove_reflection_tensor(x.to(dev), net, tile, overlap)
    if gray:
        t, r = t.mean(1, keepdim=True), r.mean(1, keepdim=True)
    return batch.restore(t), batch.restore(r)


def sample_paths() -> tuple[Path, Path, Path]:
    """The bundled example (see ``data/samples/README.md``): the mixture ``I`` and its truths ``T`` and
    ``R`` (192x128 8-bit RGB PNGs made by ``scripts/make_reflection_sample.py``)."""
    from innverse.data.io import sample_path

    folder = sample_path().parent
    paths = tuple(folder / f"reflection_sample{s}.png" for s in ("", "_T", "_R"))
    for p in paths:
        if not p.is_file():  # pragma: no cover - packaging error
            raise UserError(f"the bundled example {p.name} is missing from the installation")
    return paths  # type: ignore[return-value]
