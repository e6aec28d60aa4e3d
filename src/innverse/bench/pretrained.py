"""innverse's shipped weights against the released WINNet/NENet weights, and the model cards.

The README's "innverse's own weights" table (``python benchmarks/pretrained_eval.py``): each
shipped model is scored on each set with the true sigma given, at its own sigma (non-blind
models) or at 15, 25 and 50 (blind models and NENet), beside the released weights of the same
role; NENet by its mean ``|sigma_hat - sigma|`` on the 0-255 scale.  The released weights' scores
are deterministic, so earlier runs can supply them (:func:`read_official`).  :func:`update_cards`
writes the measurement into ``src/innverse/weights/<name>.card.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from innverse.bench.protocol import load_images, resolve_set, score_denoiser, sigma_estimates
from innverse.bench.report import markdown_table, write_text
from innverse.errors import UserError

__all__ = [
    "OFFICIAL_ROLES",
    "SIGMAS",
    "read_official",
    "official_model",
    "scored_sigmas",
    "run_pretrained",
    "render_pretrained",
    "update_cards",
]

#: the released checkpoint folder of the same role as each shipped WINNet
OFFICIAL_ROLES = {
    "winnet-s15": "WINNet_lvl_1_nlvl_15",
    "winnet-s25": "WINNet_lvl_1_nlvl_25",
    "winnet-s50": "WINNet_lvl_1_nlvl_50",
    "winnet-blind": "WINNet_lvl_1_nlvl_0_55",
}
SIGMAS = (15, 25, 50)


def read_official(files: Sequence[str | Path]) -> dict:
    """``(name, set, sigma) -> {official_psnr, official_ssim | official_mae, official_from}`` from
    earlier ``pretrained*.json`` outputs."""
    out = {}
    for f in files:
        try:
            rows = json.loads(Path(f).read_text())["rows"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"--official-from {f}: {e}") from None
        for row in rows:
            for r in row["results"]:
                keys = ("official_psnr", "official_ssim", "official_mae")
                keep = {k: r[k] for k in keys if r.get(k) is not None}
                if keep:
                    out[(row["name"], r["set"], r["sigma"])] = dict(keep, official_from=str(f))
    return out


def official_model(name: str) -> Any:
    """The released model of the same role as the shipped ``name`` (None when not under the data root)."""
    from innverse.models import load_model
    from innverse.paths import data_path

    folder = "NENet" if name == "nenet" else OFFICIAL_ROLES.get(name)
    if folder is None:
        return None
    f = "net_NENet.pth" if name == "nenet" else "net_WINNet.pth"
    p = data_path("weights", "winnet-official", folder, f)
    return load_model(p) if p is not None else None


def scored_sigmas(name: str, model: Any) -> tuple[int, ...]:
    """Every sigma of :data:`SIGMAS` for NENet and blind models; a non-blind model's own sigma."""
    if name == "nenet" or getattr(model, "blind", False):
        return SIGMAS
    try:
        return (int(name.split("-s")[1]),)
    except (IndexError, ValueError):
        raise UserError(f"{name}: a non-blind model named without its sigma (winnet-sNN)") from None


def _psnr_ssim(model: Any, images: Sequence, sigma: int) -> tuple[float, float]:
    r = score_denoiser(lambda y: model(y, sigma / 255), images, sigma)
    return r["psnr"], r["ssim"]


def _mae(model: Any, images: Sequence, sigma: int) -> float:
    return float(np.mean(np.abs(np.array(sigma_estimates(model, images, sigma)) - sigma)))


def run_pretrained(
    names: Sequence[str],
    sets: Sequence[str],
    cached: dict | None = None,
    log: Callable[[str], Any] | None = None,
) -> list[dict]:
    """``[{name, results: [{set, sigma, psnr, ssim | mae, official_*, delta_db, seconds}]}]``; a set
    is named by its folder (``Set12``).

    The released weights are loaded only when a needed score of theirs is not in ``cached``.
    """
    from innverse.models import pretrained

    cached = cached or {}
    data = {resolve_set(s).name: load_images(s) for s in sets}
    rows = []
    for name in names:
        ours = pretrained(name)
        sigmas = scored_sigmas(name, ours)
        need_ref = not all((name, sn, s) in cached for sn in data for s in sigmas)
        ref = official_model(name) if need_ref else None
        results = []
        for sname, images in data.items():
            for s in sigmas:
                t = time.perf_counter()
                off = cached.get((name, sname, s))
                if name == "nenet":
                    r: dict = {"set": sname, "sigma": s, "mae": _mae(ours, images, s)}
                    if off is not None:
                        r.update(off)
                    else:
                        r["official_mae"] = _mae(ref, images, s) if ref is not None else None
                else:
                    p, q = _psnr_ssim(ours, images, s)
                    r = {"set": sname, "sigma": s, "psnr": p, "ssim": q}
                    if off is not None:
                        r.update(off, delta_db=p - off["official_psnr"])
                    elif ref is not None:
                        rp, rq = _psnr_ssim(ref, images, s)
                        r.update(official_psnr=rp, official_ssim=rq, delta_db=p - rp)
                r["seconds"] = time.perf_counter() - t
                results.append(r)
                if log:
                    shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                    log(f"{name} {json.dumps(shown)}")
        rows.append({"name": name, "results": results})
    return rows


def render_pretrained(rows: Sequence[dict]) -> str:
    """The Markdown table: ours, the released weights, and the difference."""
    table = []
    for row in rows:
        for r in row["results"]:
            if "psnr" in r:
                off = r.get("official_psnr")
                table.append(
                    [row["name"], r["set"], r["sigma"], f"{r['psnr']:.2f} dB"]
                    + ([f"{off:.2f} dB", f"{r['delta_db']:+.2f} dB"] if off is not None else ["-", "-"])
                )
            else:
                off = r.get("official_mae")
                table.append(
                    [row["name"], r["set"], r["sigma"], f"MAE {r['mae']:.2f}"]
                    + ([f"MAE {off:.2f}", f"{r['mae'] - off:+.2f}"] if off is not None else ["-", "-"])
                )
    header = ["model", "set", "sigma", "ours", "official", "ours - official"]
    return markdown_table(header, table, pad=False) + "\n"


def update_cards(rows: Sequence[dict], meta: dict, weights_dir: Path | None = None) -> list[Path]:
    """Store each model's measurement in its card (``measured``, and the flat ``psnr`` / ``mae``
    summary that ``innverse models`` shows); returns the cards written."""
    from innverse.models.registry import weights_dir as shipped

    folder = weights_dir if weights_dir is not None else shipped()
    written = []
    for row in rows:
        name, results = row["name"], row["results"]
        f = folder / f"{name}.card.json"
        card = json.loads(f.read_text()) if f.is_file() else {}
        card["measured"] = {"results": results, **meta}
        key = "mae" if name == "nenet" else "psnr"
        card[key] = {}
        for r in results:
            card[key].setdefault(r["set"], {})[str(r["sigma"])] = round(r[key], 3)
        written.append(write_text(f, json.dumps(card, indent=2) + "\n"))
    return written
