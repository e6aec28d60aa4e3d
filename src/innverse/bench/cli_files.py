"""The command line as a user meets it: 8-bit noisy PNG files in, denoised PNG files out.

The README's "CLI on 8-bit files" table (``python benchmarks/cli_denoise.py``): for each sigma
(0-255 scale) the clean images, rounded to 8 bits, get the protocol's seeded noise, are rounded
and clipped to 8-bit PNGs, and go through ``innverse denoise DIR -o OUT --sigma S`` (non-blind)
and ``innverse denoise DIR -o OUT`` (blind: NENet estimates sigma per image), optionally also
``--sigma S --ensemble``.  PSNR is measured against the clean 8-bit images.

The command is passed in (``run_cli(argv) -> exit code``, e.g. :func:`innverse.cli.main`), so this
module does not depend on the CLI.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from innverse.bench.protocol import add_seeded_noise
from innverse.bench.report import markdown_table
from innverse.errors import UserError
from innverse.metrics import psnr

__all__ = ["write_noisy_8bit", "cli_on_8bit", "render_cli"]


def write_noisy_8bit(
    images: Sequence[tuple[str, Tensor]], sigma255: float, folder: Path
) -> dict[str, np.ndarray]:
    """Write image ``i`` of ``images`` with its seeded noise as an 8-bit PNG into ``folder``;
    returns the clean 8-bit images by file name."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    clean8 = {}
    for i, (name, x) in enumerate(images):
        c8 = np.round(x[0, 0].numpy() * 255).astype(np.uint8)
        y = add_seeded_noise(torch.from_numpy(c8 / 255.0).float()[None, None], sigma255, i)
        noisy8 = np.clip(np.round(y[0, 0].numpy() * 255), 0, 255).astype(np.uint8)
        Image.fromarray(noisy8).save(folder / name)
        clean8[name] = c8
    return clean8


def _psnr8(path: Path, clean8: np.ndarray) -> float:
    from PIL import Image

    with Image.open(path) as im:
        return float(psnr(np.asarray(im), clean8, data_range=255.0)[0])


def cli_on_8bit(
    images: Sequence[tuple[str, Tensor]],
    sigmas: Sequence[float],
    run_cli: Callable[[list[str]], int],
    ensemble: bool = False,
    log: Callable[[str], Any] | None = None,
) -> list[dict]:
    """One row per sigma: per-image and mean PSNR (dB, 8-bit) of the noisy files and of each run."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for s in sigmas:
            noisy = t / f"noisy{s:g}"
            clean8 = write_noisy_8bit(images, s, noisy)
            runs = {"nonblind": ["--sigma", f"{s:g}"], "blind": []}
            if ensemble:
                runs["ensemble"] = ["--sigma", f"{s:g}", "--ensemble"]
            dirs = {"noisy": noisy}
            for key, extra in runs.items():
                dirs[key] = t / f"{key}{s:g}"
                argv = ["denoise", str(noisy), "-o", str(dirs[key]), *extra]
                if run_cli(argv) != 0:
                    raise UserError(f"innverse {' '.join(argv)} failed")
            res: dict = {
                "sigma": s,
                **{k: [_psnr8(d / n, c8) for n, c8 in clean8.items()] for k, d in dirs.items()},
            }
            res["mean"] = {k: float(np.mean(res[k])) for k in dirs}
            rows.append(res)
            if log:
                m = res["mean"]
                log(
                    f"sigma {s:g}: noisy {m['noisy']:.2f} dB, --sigma {m['nonblind']:.2f} dB "
                    f"(+{m['nonblind'] - m['noisy']:.2f}), blind {m['blind']:.2f} dB "
                    f"({m['blind'] - m['nonblind']:+.2f} vs non-blind)"
                    + (f", --ensemble {m['ensemble']:.2f} dB" if "ensemble" in m else "")
                )
    return rows


def render_cli(rows: Sequence[dict]) -> str:
    """The Markdown table of :func:`cli_on_8bit` rows."""
    ens = any("ensemble" in r["mean"] for r in rows)
    header = ["sigma", "noisy 8-bit", "`--sigma`", "gain", "blind", "blind - non-blind"]
    header += ["`--sigma --ensemble`", "gain"] if ens else []
    table = []
    for r in rows:
        m = r["mean"]
        row = [
            f"{r['sigma']:g}",
            f"{m['noisy']:.2f}",
            f"{m['nonblind']:.2f}",
            f"+{m['nonblind'] - m['noisy']:.2f}",
            f"{m['blind']:.2f}",
            f"{m['blind'] - m['nonblind']:+.2f}",
        ]
        if ens:
            row += [f"{m['ensemble']:.2f}", f"+{m['ensemble'] - m['noisy']:.2f}"]
        table.append(row)
    return markdown_table(header, table, pad=False)
