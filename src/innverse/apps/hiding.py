"""Invertible image hiding with HiNet: :func:`hide` N secret images in a cover, :func:`reveal` them.

Images follow :mod:`innverse.convention` (numpy channels-last / torch channels-first, uint8, uint16 or
float on [0, 1]); they must be RGB (a gray image is repeated into three channels), and cover and
secrets must have the same size.  An odd height or width is cut to even by dropping the last row or
column (the Haar bands need even sizes); :func:`hide` says so in ``notes``.

The stego image :func:`hide` returns is rounded to 8 bits (what an 8-bit PNG holds, the condition the
shipped models are trained for); save it losslessly (PNG).  :func:`reveal` runs the network backwards
with ``z ~ N(0, I)`` (seeded) in place of the information the stego image does not carry.

Models: ``"hinet"`` (one secret) and ``"hinet-4"`` (four secrets), the shipped weights, or a folder /
``.safetensors`` file written by ``innverse train hinet``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from innverse.convention import as_batch
from innverse.errors import UserError
from innverse.models.hinet import HiNet

__all__ = [
    "load_hider",
    "hide",
    "reveal",
    "hide_tensor",
    "reveal_tensor",
    "even_crop",
    "example_images",
    "DEFAULT_MODEL",
    "MODEL_FOR_SECRETS",
    "EXAMPLE_SIZE",
]

#: the shipped model for one secret
DEFAULT_MODEL = "hinet"
#: shipped model by number of secrets
MODEL_FOR_SECRETS = {1: "hinet", 4: "hinet-4"}
#: side of the bundled example images
EXAMPLE_SIZE = 128


def load_hider(model: str | Path | HiNet = DEFAULT_MODEL, device: str | torch.device = "cpu") -> HiNet:
    """A HiNet in eval mode: a shipped name (``hinet``, ``hinet-4``), a model folder or ``.safetensors``
    file of ours, or a :class:`HiNet` instance (returned as it is, moved to ``device``)."""
    if isinstance(model, HiNet):
        return model.to(device).eval()
    from innverse.models.io import load_state_checked, mark_source, read_checkpoint
    from innverse.models.registry import list_pretrained, weights_dir

    spec = str(model)
    path = Path(spec)
    if not path.exists():
        shipped = weights_dir() / f"{spec}.safetensors"
        if shipped.is_file():
            path = shipped
        else:
            names = sorted(n for n in list_pretrained() if n.startswith("hinet"))
            raise UserError(
                f"unknown hiding model {spec!r} (shipped: {', '.join(names) or 'none'}; "
                "or a folder written by 'innverse train hinet')"
            )
    ck = read_checkpoint(path)
    if ck.kind != HiNet.kind:
        raise UserError(f"{spec}: a {ck.kind} model, not a HiNet hiding model")
    try:
        net = HiNet(**ck.config)
    except (TypeError, ValueError) as e:
        raise UserError(f"{spec}: bad HiNet configuration ({e})") from None
    load_state_checked(net, ck.state, ck.weights, "HiNet")
    mark_source(net, spec)
    return net.to(device).eval()


def even_crop(x: Tensor) -> tuple[Tensor, str | None]:
    """``x`` (…, H, W) cut to even H and W (last row / column dropped) and a note saying so, or None."""
    h, w = x.shape[-2:]
    h2, w2 = h - h % 2, w - w % 2
    if (h2, w2) == (h, w):
        return x, None
    if min(h2, w2) < 2:
        raise UserError(f"image is {w}×{h} pixels: hiding needs at least 2×2")
    return (
        x[..., :h2, :w2],
        f"{w}×{h} is odd: the last {'column' if w2 != w else 'row'}"
        f"{' and row' if w2 != w and h2 != h else ''} dropped, working at {w2}×{h2}",
    )


def _rgb(x: Tensor, what: str, notes: list[str] | None) -> Tensor:
    if x.shape[1] == 3:
        return x
    if notes is not None:
        notes.append(f"{what} is gray: repeated into R, G and B")
    return x.expand(-1, 3, -1, -1)


@torch.no_grad()
def hide_tensor(net: HiNet, cover: Tensor, secrets: list[Tensor], quantize: bool = True) -> Tensor:
    """The stego image ``(B, 3, H, W)`` of (B, 3, H, W) tensors on [0, 1] (even H, W; checked);
    rounded to 8 bits and clipped unless ``quantize=False``."""
    if len(secrets) != net.secrets:
        raise UserError(
            f"this model hides {net.secrets} secret image{'s' if net.secrets > 1 else ''}; got {len(secrets)}"
        )
    for i, s in enumerate(secrets, 1):
        if s.shape[-2:] != cover.shape[-2:]:
            raise UserError(
                f"secret {i} is {s.shape[-1]}×{s.shape[-2]} pixels, the cover "
                f"{cover.shape[-1]}×{cover.shape[-2]}: they must have the same size"
            )
    if cover.shape[-1] % 2 or cover.shape[-2] % 2:
        raise UserError(f"the cover is {cover.shape[-1]}×{cover.shape[-2]}: width and height must be even")
    p = next(net.parameters())
    stego, _ = net.hide(cover.to(p), [s.to(p) for s in secrets])
    if quantize:
        stego = (stego.clamp(0, 1) * 255).round() / 255
    return stego.to(cover)


@torch.no_grad()
def reveal_tensor(net: HiNet, stego: Tensor, seed: int | None = 0) -> list[Tensor]:
    """The revealed secrets (each ``(B, 3, H, W)``, clipped to [0, 1]) of a stego tensor on [0, 1];
    ``z`` is drawn from a generator seeded with ``seed`` (None: torch's global generator)."""
    if stego.shape[-1] % 2 or stego.shape[-2] % 2:
        raise UserError(
            f"the stego image is {stego.shape[-1]}×{stego.shape[-2]}: a stego image written by "
            "hide has even width and height"
        )
    p = next(net.parameters())
    g = None if seed is None else torch.Generator().manual_seed(int(seed))
    _, secrets = net.reveal(stego.to(p), generator=g)
    return [s.clamp(0, 1).to(stego) for s in secrets]


def hide(
    cover: Any,
    secrets: Any,
    model: str | Path | HiNet | None = None,
    device: str = "cpu",
    notes: list[str] | None = None,
) -> Any:
    """Hide ``secrets`` (one image or a list of images) in ``cover``; returns the stego image, rounded to
    8 bits, in the cover's kind and dtype (see the module docstring).

    ``model`` defaults to the shipped model for the number of secrets (``hinet`` for 1, ``hinet-4``
    for 4).  ``notes``, when given, receives one line per adjustment (odd size cut, gray repeated).
    """
    secret_list = list(secrets) if isinstance(secrets, list | tuple) else [secrets]
    if model is None:
        if len(secret_list) not in MODEL_FOR_SECRETS:
            raise UserError(f"{len(secret_list)} secrets: the shipped models hide 1 (hinet) or 4 (hinet-4)")
        model = MODEL_FOR_SECRETS[len(secret_list)]
    net = load_hider(model, device)
    cb = as_batch(cover)
    c = _rgb(cb.x, "the cover", notes)
    ss = []
    for i, s in enumerate(secret_list, 1):
        sb = as_batch(s)
        if sb.batch != cb.batch:
            raise UserError(f"secret {i} holds {sb.batch} images, the cover {cb.batch}")
        if sb.size != cb.size:
            raise UserError(
                f"secret {i} is {sb.size[1]}×{sb.size[0]} pixels, the cover "
                f"{cb.size[1]}×{cb.size[0]}: they must have the same size"
            )
        ss.append(_rgb(sb.x, f"secret {i}", notes))
    c, note = even_crop(c)
    if note and notes is not None:
        notes.append(note)
    if cb.alpha is not None and notes is not None:
        notes.append("the cover's alpha channel is not carried into the stego image")
    ss = [even_crop(s)[0] for s in ss]
    return _give_back(cb, hide_tensor(net, c, ss))


def _give_back(cb, out: Tensor) -> Any:
    """An RGB result ``(B, 3, H', W')`` on [0, 1] in the kind, dtype and layout (single image or batch)
    of the input read as ``cb`` (its size and channel count may differ from the input's)."""
    if cb.scale is not None:
        out = torch.round(out.to(torch.float32).clamp(0.0, 1.0) * cb.scale)
    single = len(cb.shape) < 4
    if cb.is_torch:
        r = out[0] if single else out
        if cb.dtype == getattr(torch, "uint16", None):
            return r.to(cb.device, torch.int32).to(torch.uint16)
        return r.to(cb.device, cb.dtype)
    a = out.detach().to("cpu").numpy().transpose(0, 2, 3, 1)
    return (a[0] if single else a).copy().astype(cb.dtype, copy=False)


def reveal(
    stego: Any, model: str | Path | HiNet = DEFAULT_MODEL, seed: int | None = 0, device: str = "cpu"
) -> list[Any]:
    """The secret images hidden in ``stego`` (a list, one per secret), in the stego image's kind and
    dtype; ``z`` is drawn with ``seed``.  ``model`` must be the one the stego image was made with."""
    net = load_hider(model, device)
    sb = as_batch(stego)
    if sb.x.shape[1] != 3:
        raise UserError("the stego image is gray: stego images written by hide are RGB")
    return [_give_back(sb, o) for o in reveal_tensor(net, sb.x, seed)]


def example_images(secrets: int = 1, size: int = EXAMPLE_SIZE) -> tuple[np.ndarray, list[np.ndarray]]:
    """Bundled examples, ``size`` x ``size`` uint8 RGB: a cover drawn procedurally (sky, sun, hills and
    seeded texture) and ``secrets`` secrets cut from the bundled CC0 sample photograph
    (:func:`innverse.data.io.sample_path`), each quarter tinted with its own colours."""
    from innverse.data.io import read_image, sample_path

    if secrets < 1 or secrets > 4:
        raise UserError("the examples have 1 to 4 secret images")
    if size < 8 or size % 2:
        raise UserError("example size must be even and >= 8")
    g = np.random.default_rng(2021)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    sky = np.stack([0.35 + 0.3 * yy, 0.55 + 0.25 * yy, 0.95 - 0.2 * yy], -1)
    sun = np.exp(-(((xx - 0.72) ** 2 + (yy - 0.25) ** 2) / 0.006))[..., None] * np.array([0.6, 0.45, -0.3])
    img = sky + sun
    ridge = 0.55 + 0.08 * np.sin(7.0 * xx + 1.0) + 0.04 * np.sin(23.0 * xx)
    hill = yy > ridge
    grass = np.stack([0.25 + 0.2 * xx, 0.5 - 0.15 * yy, 0.15 + 0.1 * xx], -1)
    img = np.where(hill[..., None], grass, img)
    noise = g.standard_normal((size // 4 + 1, size // 4 + 1))
    tex = np.kron(noise, np.ones((4, 4)))[:size, :size]
    img = img + 0.04 * tex[..., None] * hill[..., None] + 0.015 * g.standard_normal((size, size, 1))
    cover = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    photo, _ = read_image(sample_path())
    gray = photo if photo.ndim == 2 else photo.mean(-1)
    h, w = gray.shape
    tints = [(1.0, 0.85, 0.6), (0.6, 0.85, 1.0), (0.9, 1.0, 0.7), (1.0, 0.7, 0.9)]
    out = []
    for i in range(secrets):
        y0, x0 = (i // 2) * (h // 2), (i % 2) * (w // 2)
        q = gray[y0 : y0 + h // 2, x0 : x0 + w // 2]
        iy = (np.arange(size) * q.shape[0] // size)[:, None]
        ix = (np.arange(size) * q.shape[1] // size)[None, :]
        q = q[iy, ix]
        lo, hi = np.array(tints[i]) * 0.15, np.array(tints[i])
        rgb = lo + q[..., None] * (hi - lo)
        out.append((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8))
    return cover, out
