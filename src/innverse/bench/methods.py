"""Methods: the rows of a benchmark table (denoisers, classical baselines, the degraded input).

A :class:`Method` restores a degraded image ``y`` (1,1,H,W) under a condition (a noise level on the
0-255 scale, or a blur kernel) for image ``index`` of a set.  Models are loaded by name or path
through :func:`load_denoisers` / :func:`load_estimator`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from innverse.errors import UserError

__all__ = [
    "BASELINES",
    "BASELINE_NAMES",
    "BM3D_MISSING",
    "Method",
    "count_params",
    "label",
    "unique",
    "sigma_tensor",
    "model_method",
    "baseline_method",
    "identity_method",
    "load_denoisers",
    "load_estimator",
    "shipped_denoisers",
]

#: classical baselines known to ``benchmark denoise``
BASELINES = ("bayes", "visu", "bm3d")
BASELINE_NAMES = {"bayes": "BayesShrink (cdf97)", "visu": "VisuShrink (cdf97)", "bm3d": "BM3D"}
BM3D_MISSING = "bm3d not installed (pip install innverse[bm3d]); skipped"


@dataclass
class Method:
    """One row of a table.

    ``fn(y, condition_value, index) -> (output, extras)`` restores the degraded image ``y``
    (1,1,H,W); ``extras`` (JSON-able) is stored with the image's scores.  ``kind`` is ``'model'``,
    ``'baseline'`` or ``'reference'`` (the degraded input itself: not timed).  ``warmup(y)`` runs
    once, untimed, before the first timed call (default: ``fn`` on a crop).
    """

    name: str
    fn: Callable[[Tensor, Any, int], tuple[Tensor, dict]]
    kind: str = "model"
    params: int | None = None
    source: str | None = None
    info: dict = field(default_factory=dict)
    warmup: Callable[[Tensor], Any] | None = None

    def describe(self) -> dict:
        """The JSON record of the method (name, kind, parameters, weights and ``info``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "params": self.params,
            "source": self.source,
            **self.info,
        }


def count_params(model: Any) -> int | None:
    """Trainable parameters of an ``nn.Module`` (None for anything else)."""
    from innverse.models.winnet import count_parameters

    return count_parameters(model) if isinstance(model, nn.Module) else None


def unique(name: str, taken: Sequence[str]) -> str:
    """``name``, or ``name#2``, ``name#3``, ... when it is already in ``taken``."""
    out, k = name, 2
    while out in taken:
        out, k = f"{name}#{k}", k + 1
    return out


def label(spec: str | Path, taken: Sequence[str] = ()) -> str:
    """The table label of a model given by name or path, made unique against ``taken``.

    A pretrained name stays as it is; a checkpoint folder is named by the folder (its parent when
    the folder is called ``model``), a file by its stem, and a released ``net_WINNet.pth`` /
    ``net_NENet.pth`` by its folder (``released WINNet_lvl_1_nlvl_25``).  ``#2``, ``#3``, ... are
    appended to a label already taken.
    """
    p = Path(spec)
    if p.exists():
        base = p.parent.name if p.is_dir() and p.name == "model" else (p.name if p.is_dir() else p.stem)
        if p.suffix == ".pth" and p.stem in ("net_WINNet", "net_NENet"):
            base = f"released {p.parent.name}"
    else:
        base = str(spec)
    return unique(base, taken)


def sigma_tensor(sigma: float, ref: Tensor) -> Tensor:
    """``sigma`` (data scale) as a float32 (B,) tensor for the batch ``ref`` on its device."""
    return torch.full((ref.shape[0],), float(sigma), dtype=torch.float32, device=ref.device)


def model_method(
    spec: str,
    model: Any,
    taken: Sequence[str] = (),
    estimator: Any = None,
    estimator_name: str = "nenet",
    force_estimate: bool | None = None,
) -> Method:
    """A denoiser as a table row: ``model(y, sigma)`` with sigma on the data scale.

    The true sigma is given unless the model is blind and ``estimator`` is given (or
    ``force_estimate`` is True): then the estimator's sigma-hat of each noisy image is used, and
    recorded per image as ``sigma_used`` (0-255 scale).
    """
    blind = bool(getattr(model, "blind", False))
    estimate = (blind and estimator is not None) if force_estimate is None else force_estimate
    if estimate and estimator is None:
        raise ValueError("estimating sigma needs an estimator")
    base = label(spec)
    name = f"{base} (sigma: {label(estimator_name)})" if estimate else base
    if force_estimate is False and blind and estimator is not None:
        name = f"{base} (true sigma)"
    name = unique(name, taken)

    def fn(y: Tensor, sigma255: float, index: int) -> tuple[Tensor, dict]:
        if estimate:
            s = estimator(y).reshape(-1).to(torch.float32)
            return model(y, s), {"sigma_used": float(s[0]) * 255.0}
        return model(y, sigma_tensor(sigma255 / 255.0, y)), {"sigma_used": float(sigma255)}

    def warm(y: Tensor) -> None:
        if estimate:
            estimator(y)
        model(y, sigma_tensor(25 / 255, y))

    info = {
        "blind": blind,
        "sigma_input": f"estimated by {estimator_name}" if estimate else "true sigma",
        "model_kind": getattr(model, "kind", None),
        "config": getattr(model, "config", None),
    }
    if estimate:
        info["estimator_params"] = count_params(estimator)
    return Method(name, fn, "model", count_params(model), str(getattr(model, "source", spec)), info, warm)


def baseline_method(name: str) -> Method | None:
    """``'bayes'`` / ``'visu'`` (wavelet thresholding, CDF 9/7, at the true sigma) or ``'bm3d'``
    (the optional ``bm3d`` package; None when it is not installed)."""
    if name in ("bayes", "visu"):
        from innverse.wavelets import denoise

        def fn(y: Tensor, sigma255: float, index: int) -> tuple[Tensor, dict]:
            return cast(Tensor, denoise(y, sigma=sigma255, method=name)), {}

        info: dict[str, Any] = {"method": name, "wavelet": "cdf97", "sigma_input": "true sigma"}
        return Method(BASELINE_NAMES[name], fn, "baseline", None, "innverse.wavelets.denoise", info)
    if name == "bm3d":
        try:
            import bm3d
        except ImportError:
            return None

        def fn_bm3d(y: Tensor, sigma255: float, index: int) -> tuple[Tensor, dict]:
            a = y[0, 0].detach().cpu().numpy().astype(np.float64)
            out = bm3d.bm3d(a, sigma_psd=sigma255 / 255.0)
            return torch.from_numpy(np.asarray(out, dtype=np.float32))[None, None].to(y.device), {}

        info = {"sigma_input": "true sigma", "version": getattr(bm3d, "__version__", None)}
        return Method("BM3D", fn_bm3d, "baseline", None, "bm3d package", info)
    raise UserError(f"unknown baseline {name!r} (choose from {', '.join(BASELINES)})")


def identity_method(name: str) -> Method:
    """The degraded input as a row (``kind='reference'``: scored, not timed)."""
    return Method(name, lambda y, c, i: (y, {}), "reference", None, None, {}, lambda y: None)


# ------------------------------------------------------------------------------------------ loading
def load_denoisers(specs: Sequence[str], device: torch.device | str = "cpu") -> list[tuple[str, Any]]:
    """``[(spec, model)]`` for pretrained names, checkpoint folders or released ``.pth`` files;
    :class:`UserError` for an unknown name or a noise-estimator checkpoint."""
    from innverse.solvers.denoise import get_denoiser

    dev = torch.device(device)
    return [(s, get_denoiser(s, None, dev)) for s in specs]


def load_estimator(spec: str | None, device: torch.device | str = "cpu") -> Any:
    """The noise estimator ``spec`` (default the pretrained NENet); :class:`UserError` when the
    checkpoint is a denoiser."""
    from innverse.solvers.denoise import get_estimator

    return get_estimator(spec, torch.device(device))


def shipped_denoisers() -> list[str]:
    """Every shipped pretrained model that is not a noise estimator, in registry order."""
    import json

    from innverse.models import registry

    names = []
    for name in registry.list_pretrained():
        try:
            kind = json.loads((registry.weights_dir() / f"{name}.json").read_text()).get("kind")
        except (OSError, ValueError):
            kind = None
        known = registry.model_kinds().get(kind) if isinstance(kind, str) else None
        if kind != "nenet" and (known is None or known.role == "denoiser"):
            names.append(name)
    return names
