"""``innverse models``: list the pretrained models shipped with the package.

One line per model: name, kind, parameter count, the noise level it was trained for (a fixed sigma,
a blind range, or "noise estimator"), and the measured quality from its model card when the card
records one.  ``--json`` prints the same as a JSON list (with the full card and config).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

__all__ = ["add_parser", "run", "model_rows"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``innverse models``."""
    p = subparsers.add_parser(
        "models",
        help="list the shipped pretrained models",
        description="List the pretrained models shipped with innverse (names usable as --model).",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    return p


def _measured(card: dict, prefix: str = "") -> dict[str, float]:
    """Numeric card entries whose key path mentions psnr, ssim or mae (e.g. ``psnr.Set12.25``)."""
    out: dict[str, float] = {}
    for k, v in card.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_measured(v, path))
        elif (
            isinstance(v, int | float)
            and not isinstance(v, bool)
            and re.search(r"psnr|ssim|mae", path, flags=re.IGNORECASE)
        ):
            out[path] = float(v)
    return out


def _noise(name: str, kind: str | None, config: dict, card: dict) -> tuple[float | None, list | None, str]:
    """(sigma, sigma_range, text) of a model, from its card (or training recipe), config and name."""
    recipe = card.get("recipe") if isinstance(card.get("recipe"), dict) else {}
    sigma = card.get("sigma", recipe.get("sigma"))
    rng = card.get("sigma_range", recipe.get("sigma_range"))
    if kind == "nenet":
        return (
            None,
            rng,
            "noise estimator" + (f", trained on sigma in [{rng[0]:g}, {rng[1]:g}]" if rng else ""),
        )
    if config.get("blind"):
        return None, rng, f"blind, sigma in [{rng[0]:g}, {rng[1]:g}]" if rng else "blind"
    if sigma is None:
        m = re.search(r"-s(\d+(?:\.\d+)?)$", name)
        sigma = float(m.group(1)) if m else None
    return sigma, None, f"sigma = {sigma:g}" if sigma is not None else "non-blind"


def model_rows() -> list[dict]:
    """One dict per shipped model: name, kind, params, noise level(s), measured scores, card."""
    from innverse.models import registry
    from innverse.models.io import build_model
    from innverse.models.winnet import count_parameters

    rows = []
    for name, card in registry.list_pretrained().items():
        try:
            cfg = json.loads((registry.weights_dir() / f"{name}.json").read_text())
            kind, config = cfg.get("kind"), dict(cfg.get("config") or {})
        except (OSError, ValueError, AttributeError):
            kind, config = None, {}
        try:
            params = count_parameters(build_model(kind, config)) if kind else None
        except (ValueError, TypeError):  # UserError is a ValueError
            params = None
        card = card if isinstance(card, dict) else {}
        sigma, rng, text = _noise(name, kind, config, card)
        rows.append(
            {
                "name": name,
                "kind": kind,
                "params": params,
                "blind": bool(config.get("blind")) if kind == "winnet" else None,
                "sigma": sigma,
                "sigma_range": rng,
                "noise": text,
                "measured": _measured(card),
                "config": config,
                "card": card,
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    """Run ``innverse models``."""
    rows = model_rows()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no pretrained models shipped in this installation")
        return 0
    wn = max(len(r["name"]) for r in rows)
    wk = max(len(str(r["kind"])) for r in rows)
    wt = max(len(r["noise"]) for r in rows)
    for r in rows:
        params = f"{r['params']:,} params" if r["params"] is not None else "? params"
        meas = ", ".join(f"{k} {v:g}" for k, v in list(r["measured"].items())[:4])  # as the card stores it
        line = f"{r['name']:<{wn}}  {str(r['kind']):<{wk}}  {params:>15}  {r['noise']:<{wt}}"
        print((line + ("  measured: " + meas if meas else "")).rstrip())
    return 0
