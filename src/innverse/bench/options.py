"""The options a benchmark is given: noise levels and names (``15,25,50``, ``bayes,visu``), and the
``--threads`` / ``--device`` pair every ``innverse benchmark NAME`` takes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from innverse.errors import UserError

__all__ = [
    "list_items",
    "parse_sigmas",
    "parse_sigma",
    "parse_names",
    "add_runtime_arguments",
    "apply_runtime",
]


def list_items(text: str | Sequence[Any], option: str, what: str) -> list[Any]:
    """The items of a comma-separated option value, stripped (a sequence is taken as it is); an empty
    value or an empty item is a one-line error: ``OPTION: expected a comma-separated list of WHAT``."""
    if not isinstance(text, str):
        return list(text)
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise UserError(f"{option}: expected a comma-separated list of {what}, got {text!r}")
    return items


def parse_sigmas(text: str | Sequence[float], option: str = "--sigma") -> list[float]:
    """``'15,25,50'`` -> ``[15.0, 25.0, 50.0]`` (0-255 scale, each in [0, 255], no duplicates)."""
    items = list_items(text, option, "numbers like 15,25,50")
    out: list[float] = []
    for t in items:
        try:
            v = float(t)
        except (TypeError, ValueError):
            raise UserError(f"{option}: {t!r} is not a number (expected e.g. 15,25,50)") from None
        if not math.isfinite(v) or not 0.0 <= v <= 255.0:
            raise UserError(f"{option}: {t} is outside [0, 255] (noise levels are on the 0-255 scale)")
        if v in out:
            raise UserError(f"{option}: {t} is listed twice")
        out.append(v)
    if not out:
        raise UserError(f"{option}: no noise level given")
    return out


def parse_sigma(text: str | float, option: str = "--sigma") -> float:
    """One noise level (0-255 scale, in [0, 255])."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise UserError(f"{option}: expected one number on the 0-255 scale, got {text!r}") from None
    if not math.isfinite(v) or not 0.0 <= v <= 255.0:
        raise UserError(f"{option}: {text} is outside [0, 255] (noise levels are on the 0-255 scale)")
    return v


def parse_names(text: str | None, known: Sequence[str], option: str) -> list[str]:
    """Comma-separated names, each one of ``known`` (``'none'`` or empty: no names)."""
    if text is None or text.strip().lower() in ("", "none"):
        return []
    out = []
    for t in (s.strip().lower() for s in text.split(",")):
        if t not in known:
            raise UserError(f"{option}: unknown name {t!r} (choose from {', '.join(known)})")
        if t not in out:
            out.append(t)
    return out


def add_runtime_arguments(p: Any, device: bool = True) -> None:
    """``--threads N`` (default 1, so that timings are comparable) and, with ``device``, ``--device``
    (default cpu), for an argparse parser."""
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads (default 1)")
    if device:
        p.add_argument("--device", default="cpu", metavar="DEV", help="cpu or cuda (default cpu)")


def apply_runtime(args: Any, device: bool = True) -> Any:
    """Check and apply :func:`add_runtime_arguments`' options: ``torch.set_num_threads(--threads)``;
    returns the resolved ``--device`` (a ``torch.device``), or None without ``device``."""
    import torch

    from innverse.devices import resolve_device

    if args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(int(args.threads))
    return resolve_device(args.device, option="--device") if device else None
