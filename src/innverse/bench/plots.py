"""Figures of a benchmark report (needs matplotlib: ``pip install innverse[plot]``).

* denoising: PSNR against the noise level, one line per method (and set);
* blind denoising: the same, beside the noise estimator's mean absolute error;
* deblurring: PSNR per kernel;
* optional crops of the first image: clean, degraded and every method's output.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the report module draws through this one
    from innverse.bench.report import Report

__all__ = ["draw_report", "save_figure"]


def save_figure(fig: Any, path: Path, dpi: int = 120) -> Path:
    """Render a matplotlib ``Figure`` to PNG and write it to ``path`` atomically."""
    from innverse.data.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = buf.getvalue()
    return atomic_write_bytes(path, lambda f: f.write(data), force=True)


def _lines(ax: Any, recs: list[dict], methods: list[str], sets: list[str], x_key: str) -> None:
    styles = ["-", "--", ":", "-."]
    for m in methods:
        for k, ds in enumerate(sets):
            rs = [r for r in recs if r["method"] == m and r["dataset"] == ds]
            name = m if len(sets) == 1 else f"{m} - {ds}"
            ax.plot([r[x_key] for r in rs], [r["psnr"] for r in rs], styles[k % 4], marker="o", label=name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def draw_report(report: Report, out: Path) -> list[Path]:
    """Draw the figures of ``report`` into the folder ``out``; returns the files written."""
    from matplotlib.figure import Figure

    d = report.data
    recs = d["results"]
    methods = [m["name"] for m in d["methods"]]
    sets = [s["name"] for s in d["datasets"]]
    if report.task in ("denoise", "blind"):
        ncols = 2 if report.task == "blind" else 1
        fig = Figure(figsize=(6.5 * ncols, 4.5), layout="constrained")
        ax = fig.add_subplot(1, ncols, 1)
        _lines(ax, recs, methods, sets, "value")
        ax.set_xlabel("noise sigma (0-255 scale)")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title("PSNR vs noise level")
        if report.task == "blind":
            ax2 = fig.add_subplot(1, 2, 2)
            for ds in sets:
                es = [e for e in d["estimator_error"] if e["dataset"] == ds]
                ax2.plot([e["sigma"] for e in es], [e["mae"] for e in es], marker="o", label=ds)
            ax2.set_xlabel("noise sigma (0-255 scale)")
            ax2.set_ylabel("mean absolute error (0-255 scale)")
            ax2.set_title(f"{d['estimator']['name']} noise-level error")
            ax2.grid(alpha=0.3)
            ax2.legend(fontsize=7)
        name = "psnr_vs_sigma.png" if report.task == "denoise" else "blind.png"
    else:
        fig = Figure(figsize=(max(6.5, 0.8 * len(d["kernels"]) + 3), 4.5), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        _lines(ax, recs, methods, sets, "condition")
        ax.set_xlabel("blur kernel")
        ax.set_ylabel(f"PSNR (dB, border {d['border']} px)")
        ax.set_title(f"Deblurring, noise sigma {d['noise_sigma']:g}")
        name = "deblur.png"
    written = [save_figure(fig, out / name)]
    for c in report.crops:
        n = len(c.panels)
        fig = Figure(figsize=(2.2 * n, 2.9), layout="constrained")
        for j, (title, img) in enumerate(c.panels):
            ax = fig.add_subplot(1, n, j + 1)
            ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
        fig.suptitle(c.title, fontsize=9)
        written.append(save_figure(fig, out / c.file))
    return written
