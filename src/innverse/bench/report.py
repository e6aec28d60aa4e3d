"""Benchmark reports: the record of a run, its Markdown tables and its JSON file.

A :class:`Report` holds everything a task measured (``data``, JSON-able: the protocol, the
environment, the methods and one record per method, set and condition) and the crops of its
comparison figures.  :func:`write_report` writes ``<task>.md``, ``<task>.json`` and, with
matplotlib, the figures of :mod:`innverse.bench.plots`; every file is written atomically.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from innverse.bench.environment import environment
from innverse.bench.evaluate import CropPanel
from innverse.bench.protocol import METRICS, NOISE_CONVENTION, TestSet
from innverse.errors import UserError

__all__ = [
    "Report",
    "report_header",
    "markdown_table",
    "render_table",
    "render_markdown",
    "json_text",
    "write_text",
    "output_folder",
    "write_report",
    "machine_line",
    "log_stderr",
]

_TITLES = {
    "denoise": "Gaussian denoising",
    "blind": "Blind Gaussian denoising (sigma estimated per image)",
    "deblur": "Non-blind deblurring",
}


@dataclass
class Report:
    """A finished benchmark: ``data`` (everything, JSON-able) and the crop figures to draw."""

    task: str
    data: dict
    crops: list[CropPanel] = field(default_factory=list)


def report_header(task: str, sets: Sequence[TestSet], device: torch.device | str) -> dict:
    """The fields every report starts with: task, time, protocol, environment and the data used."""
    return {
        "benchmark": task,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "noise_convention": NOISE_CONVENTION,
        "metrics": METRICS,
        "environment": environment(device),
        "datasets": [
            {
                "name": ts.name,
                "source": ts.source,
                "images": [f for f, _ in ts.images],
                "sizes": [list(x.shape[-2:]) for _, x in ts.images],
            }
            for ts in sets
        ],
    }


# ---------------------------------------------------------------------------------------- markdown
def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], pad: bool = True) -> str:
    """A Markdown table; ``pad`` aligns the columns with spaces (for reading as plain text)."""
    header = [str(h) for h in header]
    rows = [[str(v) for v in r] for r in rows]
    if not pad:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def line(r: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def _fmt_params(p: int | None) -> str:
    return f"{p:,}" if p else "-"


def render_table(report: Report) -> str:
    """The main Markdown table: rows = methods, columns = dataset x condition (PSNR / SSIM)."""
    d = report.data
    recs = d["results"]
    cols: list[tuple[str, str]] = []
    for r in recs:
        key = (r["dataset"], r["condition"])
        if key not in cols:
            cols.append(key)
    deblur = report.task == "deblur"
    header = ["method", *(f"{ds} {c}" for ds, c in cols)]
    header += (["mean"] if deblur else []) + ["s/img", "params"] + (["iters"] if deblur else [])
    rows = []
    for m in d["methods"]:
        mine = {(r["dataset"], r["condition"]): r for r in recs if r["method"] == m["name"]}
        row = [m["name"]]
        for key in cols:
            r = mine.get(key)
            row.append(f"{r['psnr']:.2f} / {r['ssim']:.4f}" if r else "-")
        if deblur:
            row.append(
                f"{np.mean([r['psnr'] for r in mine.values()]):.2f} / "
                f"{np.mean([r['ssim'] for r in mine.values()]):.4f}"
            )
        secs = [p["seconds"] for r in mine.values() for p in r["per_image"]]
        row.append(f"{np.mean(secs):.3g}" if m["kind"] != "reference" else "-")
        row.append(_fmt_params(m.get("params")))
        if deblur:
            its = [p["iterations"] for r in mine.values() for p in r["per_image"] if "iterations" in p]
            row.append(f"{np.mean(its):.1f}" if its else "-")
        rows.append(row)
    return markdown_table(header, rows)


def _environment_line(env: dict, created: str) -> str:
    git = env.get("git")
    code = f", code {git['commit'][:12]}{' (modified)' if git['dirty'] else ''}" if git else ""
    return (
        f"- Measured with torch {env['torch']}, {env['threads']} thread(s), device {env['device']}, "
        f"{env['cpu']} ({env['cpu_count']} cores), {env['platform']}{code}, {created}."
    )


def machine_line(env: dict, created: str, device: bool = True) -> str:
    """``Machine: CPU, torch X, N thread(s), device D; created T.``: the last line of a report that
    ``environment`` (:func:`~innverse.bench.environment.environment`) was measured on."""
    where = f", device {env.get('device', '?')}" if device else ""
    return (
        f"Machine: {env.get('cpu', '?')}, torch {env.get('torch', '?')}, {env.get('threads', '?')} "
        f"thread(s){where}; created {created}."
    )


def log_stderr(msg: str) -> None:
    """The default ``log`` of a benchmark run from the command line: one line on stderr."""
    print(msg, file=sys.stderr, flush=True)


def render_markdown(report: Report) -> str:
    """The whole Markdown report: title, main table, secondary tables and the protocol notes."""
    d = report.data
    parts = [
        f"# {_TITLES.get(report.task, report.task)}",
        "",
        "PSNR (dB) / SSIM, averaged over the images of each set.",
        "",
        render_table(report),
    ]
    if report.task == "blind":
        err = d["estimator_error"]
        header = ["", *(f"{e['dataset']} sigma={e['sigma']:g}" for e in err)]
        rows = [
            [f"{d['estimator']['name']} MAE (0-255)", *(f"{e['mae']:.3f}" for e in err)],
            [f"{d['estimator']['name']} mean estimate", *(f"{e['mean_estimate']:.2f}" for e in err)],
        ]
        parts += ["", "Noise-level estimation error:", "", markdown_table(header, rows)]
    if report.task == "deblur":
        pnp = next(m["name"] for m in d["methods"] if m["kind"] == "model")
        its = [r for r in d["results"] if r["method"] == pnp]
        header = ["", *(f"{r['dataset']} {r['condition']}" for r in its)]
        rows = [
            [
                f"{pnp}: mean iterations",
                *(f"{np.mean([p['iterations'] for p in r['per_image']]):.1f}" for r in its),
            ]
        ]
        parts += ["", "Plug-and-play iterations used:", "", markdown_table(header, rows)]
    notes = [f"- Noise: {d['noise_convention']}.", f"- Metrics: {d['metrics']}."]
    if report.task == "deblur":
        notes.append(f"- Degradation: {d['degradation']}; noise sigma = {d['noise_sigma']:g} (0-255 scale).")
        notes.append(f"- Border: {d['border_note']}.")
        wn = next(m for m in d["methods"] if m["name"] == "Wiener")
        notes.append(f"- Wiener filter: nsr = {wn['nsr']}.")
    for m in d["methods"]:
        if m["kind"] == "model":
            notes.append(f"- {m['name']}: {m.get('sigma_input', '')}; weights {m['source']}.")
        elif m["kind"] == "baseline" and "sigma_input" in m:
            notes.append(f"- {m['name']}: {m['sigma_input']} ({m['source']}).")
    for s in d.get("skipped", []):
        notes.append(f"- {s['name']}: {s['reason']}.")
    sets = ", ".join(f"{s['name']} ({len(s['images'])} images, {s['source']})" for s in d["datasets"])
    notes.append(f"- Data: {sets}.")
    notes.append(_environment_line(d["environment"], d["created"]))
    parts += ["", "Notes:", "", *notes, ""]
    return "\n".join(parts)


# -------------------------------------------------------------------------------------------- files
def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


def json_text(data: Any, indent: int = 1) -> str:
    """``data`` as JSON text (non-finite floats written as ``null``), with a final newline."""
    return json.dumps(_finite(data), indent=indent, allow_nan=False) + "\n"


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, replacing an existing file; the folder is created."""
    from innverse.data.io import atomic_write_bytes

    data = text.encode("utf-8")
    return atomic_write_bytes(path, lambda f: f.write(data), force=True)


def output_folder(out: str | Path) -> Path:
    """``out`` as a folder for results (created); :class:`UserError` when it is a file."""
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise UserError(f"{d}: exists and is not a folder")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{d}: cannot create the results folder ({e.strerror or e})") from None
    return d


def write_report(report: Report, out: str | Path, log: Callable[[str], Any] | None = None) -> list[Path]:
    """Write ``<task>.md``, ``<task>.json`` and, when matplotlib is installed, the PNG figures into
    ``out`` (created; existing files of the same names are replaced).  Returns the files written."""
    d = output_folder(out)
    written = [
        write_text(d / f"{report.task}.md", render_markdown(report)),
        write_text(d / f"{report.task}.json", json_text(report.data)),
    ]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if log:
            log("matplotlib not installed (pip install innverse[plot]); no plots written")
        return written
    from innverse.bench.plots import draw_report

    return written + draw_report(report, d)
