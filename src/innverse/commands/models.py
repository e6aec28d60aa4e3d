"""``innverse models``: the pretrained models shipped with the package.

Three parts: one line per model (name, kind, parameter count, the noise level it was trained for);
every score its model card records (PSNR/SSIM of the denoisers, the estimator's mean absolute error,
and the released weights' scores on the same noise where measured); and which model
``innverse denoise --sigma S`` uses for each S.  ``--json`` prints the rows as a JSON list (with the
full card and config).
"""

from __future__ import annotations

import argparse
import json
import re
import textwrap
from typing import Any

__all__ = ["add_parser", "run", "model_rows", "sigma_choices", "SUMMARY"]

SUMMARY = "list the shipped pretrained models, their scores, and which --sigma uses which"

#: step (0-255 scale) at which the --sigma -> model rule is evaluated for the table
SIGMA_STEP = 0.5


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``innverse models``."""
    p = subparsers.add_parser(
        "models",
        help=SUMMARY,
        description="List the pretrained models shipped with innverse (names usable as --model), every "
        "score their model cards record, and which model 'innverse denoise --sigma S' uses for each S.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list instead of tables")
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


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _scores(card: dict) -> list[dict[str, Any]]:
    """One dict per (set, sigma) the card measured: set, sigma, psnr, ssim, mae and the released
    weights' ``official_*`` values (None where not measured).

    From the card's ``measured.results`` list when it has one, else from its summary entries
    (``psnr.Set12.25`` and the like, shown as stored).
    """
    keys = ("psnr", "ssim", "mae", "official_psnr", "official_ssim", "official_mae")
    measured = card.get("measured")
    results = measured.get("results") if isinstance(measured, dict) else None
    rows: list[dict[str, Any]] = []
    if isinstance(results, list):
        for r in results:
            if isinstance(r, dict) and any(_num(r.get(k)) is not None for k in keys):
                row = {"set": str(r.get("set", "?")), "sigma": _num(r.get("sigma")), "exact": True}
                row.update({k: _num(r.get(k)) for k in keys})
                rows.append(row)
        if rows:
            return rows
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for path, v in _measured(card).items():
        parts = path.split(".")
        if len(parts) == 3 and parts[0].lower() in ("psnr", "ssim", "mae"):
            metric, name, sig = parts
            row = table.setdefault((name, sig), {"set": name, "sigma": _num_text(sig), "exact": False})
            row[metric.lower()] = v
    for row in table.values():
        for k in keys:
            row.setdefault(k, None)
    return list(table.values())


def _num_text(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _noise(name: str, kind: str | None, config: dict, card: dict) -> tuple[float | None, list | None, str]:
    """(sigma, sigma_range, text) of a model, from its card (or training recipe), config and name."""
    r = card.get("recipe")
    recipe = r if isinstance(r, dict) else {}
    sigma = card.get("sigma", recipe.get("sigma"))
    rng = card.get("sigma_range", recipe.get("sigma_range"))
    if kind == "nenet":
        return (
            None,
            rng,
            "noise estimator" + (f", trained on sigma in [{rng[0]:g}, {rng[1]:g}]" if rng else ""),
        )
    if isinstance(card.get("trained_for"), str):  # models that are not denoisers say what they do
        return None, None, card["trained_for"]
    if config.get("blind"):
        return None, rng, f"blind, sigma in [{rng[0]:g}, {rng[1]:g}]" if rng else "blind"
    if sigma is None:
        m = re.search(r"-s(\d+(?:\.\d+)?)$", name)
        sigma = float(m.group(1)) if m else None
    return sigma, None, f"sigma = {sigma:g}" if sigma is not None else "non-blind"


def sigma_choices(step: float = SIGMA_STEP) -> list[tuple[float, bool, float, bool, str]]:
    """``(low, low_included, high, high_included, name)``: the model ``innverse denoise --sigma S``
    uses for gray images, by ranges of S covering 0..255.

    The rule (:func:`innverse.api.denoiser_name` for gray images) is evaluated every ``step`` and
    each change of model is located by bisection to 1e-4.
    """
    from innverse.api import denoiser_name
    from innverse.models import registry

    cards = registry.list_pretrained()
    real = registry.list_pretrained
    registry.list_pretrained = lambda: cards  # read the cards once
    try:
        n = int(round(255 / step))
        grid = [i * step for i in range(n + 1)]
        names = [denoiser_name(s) for s in grid]
        cuts = []  # (boundary, name of the boundary value itself)
        for i in range(n):
            if names[i] != names[i + 1]:
                a, b = grid[i], grid[i + 1]  # names[a] = left, names[b] = right
                while b - a > 1e-5:
                    m = (a + b) / 2
                    if denoiser_name(m) == names[i]:
                        a = m
                    else:
                        b = m
                edge = round(b, 4)
                cuts.append((edge, denoiser_name(edge) == names[i + 1]))
    finally:
        registry.list_pretrained = real
    out = []
    lo, lo_in = 0.0, True
    run = [names[0]] + [names[i + 1] for i in range(n) if names[i] != names[i + 1]]
    for k, name in enumerate(run):
        if k < len(cuts):
            edge, right_has_it = cuts[k]
            out.append((lo, lo_in, edge, not right_has_it, name))
            lo, lo_in = edge, right_has_it
        else:
            out.append((lo, lo_in, 255.0, True, name))
    return out


def model_rows() -> list[dict]:
    """One dict per shipped model: name, kind, params, noise level(s), scores, card."""
    from innverse.models import build_model, registry
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
                "scores": _scores(card),
                "config": config,
                "card": card,
            }
        )
    return rows


def _fmt(v: float | None, exact: bool, digits: int) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if exact else f"{v:g}"


def _say(text: str) -> None:
    print(textwrap.fill(text, width=100))


def _row(cells: tuple[str, ...], widths: list[int], align: str) -> str:
    return ("  " + "  ".join(f"{c:{a}{w}}" for c, w, a in zip(cells, widths, align, strict=True))).rstrip()


def _score_lines(rows: list[dict]) -> list[str]:
    table = []
    for r in rows:
        for s in r["scores"]:
            ex = s["exact"]
            sig = "-" if s["sigma"] is None else f"{s['sigma']:g}"
            if s["mae"] is not None and s["psnr"] is None:
                score = f"error {_fmt(s['mae'], ex, 3)}"
                released = _fmt(s["official_mae"], ex, 3)
            else:
                score = f"{_fmt(s['psnr'], ex, 3)} / {_fmt(s['ssim'], ex, 4)}"
                released = (
                    f"{_fmt(s['official_psnr'], ex, 3)} / {_fmt(s['official_ssim'], ex, 4)}"
                    if s["official_psnr"] is not None
                    else "-"
                )
            table.append((r["name"], s["set"], sig, score, released))
    if not table:
        return []
    head = ("model", "set", "sigma", "PSNR dB / SSIM", "released weights")
    widths = [max(len(t[i]) for t in [head, *table]) for i in range(5)]
    return [_row(t, widths, "<<>>>") for t in [head, *table]]


def run(args: argparse.Namespace) -> int:
    """Run ``innverse models``."""
    rows = model_rows()
    if args.json:
        choices = sigma_choices() if rows else []
        for r in rows:
            r["selected_for_sigma"] = [
                {"low": lo, "low_included": li, "high": hi, "high_included": hi_in}
                for lo, li, hi, hi_in, n in choices
                if n == r["name"]
            ]
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no pretrained models shipped in this installation")
        return 0
    _say("Shipped models (use a name with --model; 'innverse models --json' prints the full cards):")
    print()
    head = ("name", "kind", "parameters", "trained for")
    cells = [
        (r["name"], str(r["kind"]), f"{r['params']:,}" if r["params"] is not None else "?", r["noise"])
        for r in rows
    ]
    w = [max(len(c[i]) for c in [head, *cells]) for i in range(4)]
    for c in [head, *cells]:
        print(_row(c, w, "<<><"))
    scores = _score_lines(rows)
    if scores:
        print()
        _say(
            "Measured on seeded Gaussian noise (sigma on the 0-255 scale; for the noise estimator the "
            "error is the mean |estimated - true sigma|; released weights: the paper's checkpoints on "
            "the same noise):"
        )
        print()
        print("\n".join(scores))
    choices = sigma_choices()
    print()
    _say(
        "Model used by 'innverse denoise --sigma S' (and innverse.denoise(image, sigma=S)) for gray "
        "images; colour images with --color opponent or ycbcr, and runs without --sigma, use the blind "
        "model; --model overrides:"
    )
    print()
    spans = [
        (f"S = {lo:g}" if lo == hi else f"{lo:g} {'<=' if li else '<'} S {'<=' if hi_in else '<'} {hi:g}", n)
        for lo, li, hi, hi_in, n in choices
    ]
    ranges = {r["name"]: r["sigma_range"] for r in rows}
    width = max(len(t) for t, _ in spans)
    for (text, name), (_, _, hi, _, _) in zip(spans, choices, strict=True):
        rng = ranges.get(name)
        note = f"  (trained on sigma {rng[0]:g}-{rng[1]:g})" if rng and hi > rng[1] else ""
        print(f"  {text:<{width}}  {name}{note}")
    return 0
