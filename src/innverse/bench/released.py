"""WINNet and NENet with the checkpoints released with the paper: faithfulness, exactness, speed.

The README's "released checkpoints" tables (``python benchmarks/winnet_official.py``):

* quality: PSNR/SSIM on a test set at sigma = 15, 25, 50 of the released K = 1 and K = 2
  non-blind models and of the blind [0, 55] model given the true sigma (optionally also of the
  released computation, :mod:`innverse.bench.released_code`);
* NENet: mean estimate and mean absolute error (0-255 scale) at sigma = 5, 15, 25, 50;
* exactness: ``synthesis(analysis(x))`` of the K = 2 model, worst float32 PSNR over the set and
  the float64 error on the first image;
* speed: one thread, innverse's WINNet K = 1 against DnCNN (KAIR weights) and, optionally, the
  released computation, timed one after another on every image (best of ``repeats``).

The released files are read from ``weights/winnet-official/`` and ``weights/dncnn-kair/`` under the
data root (never downloaded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from innverse.bench.protocol import add_seeded_noise, load_images, score_denoiser, sigma_estimates
from innverse.bench.report import markdown_table
from innverse.errors import UserError
from innverse.metrics import psnr

__all__ = [
    "OFFICIAL",
    "QUALITY_SIGMAS",
    "NENET_SIGMAS",
    "PARTS",
    "official_path",
    "quality",
    "nenet_rows",
    "exactness",
    "speed",
    "run_released",
    "render_released",
]

#: folder of the released checkpoints under the data root
OFFICIAL = ("weights", "winnet-official")
QUALITY_SIGMAS = (15, 25, 50)
NENET_SIGMAS = (5, 15, 25, 50)
PARTS = ("quality", "nenet", "exact", "speed")

Log = Callable[[str], Any] | None


def official_path(*parts: str) -> Path:
    """A file of the released checkpoints (``weights/winnet-official/...`` under the data root)."""
    from innverse.paths import data_path

    p = data_path(*OFFICIAL, *parts)
    if p is None:
        raise UserError(f"missing {'/'.join(OFFICIAL + parts)} under the data root (set INNVERSE_DATA)")
    return p


def _winnet(folder: str) -> Any:
    from innverse.models import load_model

    return load_model(official_path(folder, "net_WINNet.pth"))


def _say(log: Log, msg: str) -> None:
    if log:
        log(msg)


def _at(
    model: Callable[[Tensor, float], Tensor], sigma255: int, scale: float = 255.0
) -> Callable[[Tensor], Tensor]:
    """``model`` as a one-argument denoiser at ``sigma255 / scale``."""
    return lambda y: model(y, sigma255 / scale)


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(v, 3) for v in values]


def quality(
    images: Sequence[tuple[str, Tensor]],
    released_quality: bool = False,
    log: Log = None,
    sigmas: Sequence[int] = QUALITY_SIGMAS,
) -> list[dict]:
    """PSNR/SSIM rows of the released WINNet models at each of ``sigmas`` (see the module docstring)."""
    from innverse.bench.methods import count_params
    from innverse.bench.released_code import ReleasedWINNet

    unknown = [s for s in sigmas if s not in QUALITY_SIGMAS]
    if unknown:
        raise UserError(f"no released model for sigma {unknown[0]} (choose from 15, 25, 50)")
    rows = []

    def row(name: str, sig: int, restore: Callable[[Tensor], Tensor], **extra: Any) -> dict:
        r = score_denoiser(restore, images, sig)
        rows.append({"model": name, "sigma": sig, **extra, "psnr": r["psnr"], "ssim": r["ssim"],
                     "per_image": _rounded(r["per_image_psnr"])})  # fmt: skip
        return r

    for sig in sigmas:
        for lvl in (1, 2):
            folder = f"WINNet_lvl_{lvl}_nlvl_{sig}"
            m = _winnet(folder)
            r = row(f"official K={lvl} s{sig}", sig, _at(m, sig), params=count_params(m))
            _say(log, f"  K={lvl} sigma={sig}: {r['psnr']:.3f} dB  SSIM {r['ssim']:.4f}")
            if released_quality and lvl == 1:
                rel = ReleasedWINNet(official_path(folder, "net_WINNet.pth"))
                r = row(f"released code path K=1 s{sig}", sig, _at(rel, sig, 1.0))
                _say(log, f"  released path sigma={sig}: {r['psnr']:.3f} dB")
        r = row("official blind [0,55] (true sigma)", sig, _at(_winnet("WINNet_lvl_1_nlvl_0_55"), sig))
        _say(log, f"  blind sigma={sig}: {r['psnr']:.3f} dB")
    return rows


def nenet_rows(images: Sequence[tuple[str, Tensor]], log: Log = None) -> list[dict]:
    """The released NENet's mean estimate and mean absolute error (0-255 scale) per sigma."""
    from innverse.models import load_model

    n = load_model(official_path("NENet", "net_NENet.pth"))
    rows = []
    for sig in NENET_SIGMAS:
        est = np.array(sigma_estimates(n, images, sig))
        mae = float(np.mean(np.abs(est - sig)))
        rows.append({"sigma": sig, "mae_255": mae, "mean_estimate": float(np.mean(est))})
        _say(log, f"  NENet sigma={sig}: mean estimate {np.mean(est):.2f}, MAE {mae:.3f} (0-255)")
    return rows


@torch.no_grad()
def exactness(images: Sequence[tuple[str, Tensor]], log: Log = None) -> dict:
    """Round trip of the released K = 2 model's transform (float32 over the set, float64 on image 0)."""
    m = _winnet("WINNet_lvl_2_nlvl_25")
    worst32 = min(float(psnr(m.synthesis(m.analysis(x, 25 / 255), 25 / 255), x)[0]) for _, x in images)
    md = m.double()
    x = images[0][1].double()
    err64 = float((md.synthesis(md.analysis(x, 25 / 255), 25 / 255) - x).abs().max())
    _say(log, f"  round trip K=2: worst float32 PSNR {worst32:.1f} dB, float64 max error {err64:.2e}")
    return {"float32_worst_psnr": worst32, "float64_max_abs_error": err64}


@torch.no_grad()
def speed(
    images: Sequence[tuple[str, Tensor]], released: bool = False, repeats: int = 1, log: Log = None
) -> dict:
    """Seconds per image on one thread: innverse's WINNet K = 1, DnCNN and (``released``) the
    released computation, timed one after another on each image; ratios to innverse's."""
    from innverse.bench.released_code import ReleasedWINNet
    from innverse.models.dncnn import DnCNN
    from innverse.paths import data_path

    torch.set_num_threads(1)
    m = _winnet("WINNet_lvl_1_nlvl_25")
    kair = data_path("weights", "dncnn-kair", "dncnn_25.pth")
    if kair is None:
        raise UserError("missing weights/dncnn-kair/dncnn_25.pth under the data root (set INNVERSE_DATA)")
    d = DnCNN.from_kair(kair)
    methods: dict[str, Callable[[Tensor], Tensor]] = {
        "innverse WINNet K=1": lambda y: m(y, 25 / 255),
        "DnCNN (KAIR, 17 layers)": lambda y: d(y),
    }
    if released:
        rel = ReleasedWINNet(official_path("WINNet_lvl_1_nlvl_25", "net_WINNet.pth"))
        methods["released WINNet code path"] = lambda y: rel(y, 25.0)
    times: dict[str, list[float]] = {k: [] for k in methods}
    for i, (name, x) in enumerate(images):
        y = add_seeded_noise(x, 25, i)
        for k, f in methods.items():
            f(y[..., :32, :32])  # warm-up (allocator, kernels)
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                f(y)
                best = min(best, time.perf_counter() - t)
            times[k].append(best)
        shown = ", ".join(f"{k.split(' ')[0]} {v[-1]:.2f}s" for k, v in times.items())
        _say(log, f"  {name} {tuple(x.shape[-2:])}: {shown}")
    out: dict[str, dict[str, Any]] = {
        k: {"mean_s": float(np.mean(v)), "per_image_s": _rounded(v)} for k, v in times.items()
    }
    base = out["innverse WINNet K=1"]["mean_s"]
    for k in out:
        out[k]["ratio_to_innverse"] = out[k]["mean_s"] / base
    return out


def run_released(
    testset: str = "Set12",
    parts: Sequence[str] = PARTS,
    released: bool = False,
    released_quality: bool = False,
    threads: int = 1,
    repeats: int = 1,
    log: Log = None,
    sigmas: Sequence[int] = QUALITY_SIGMAS,
) -> dict:
    """Every requested part (:data:`PARTS`) on ``testset``; quality (at ``sigmas``) with ``threads``
    threads, speed with one.  Returns the JSON-able record (with
    :func:`innverse.bench.environment.environment`)."""
    from innverse.bench.environment import environment

    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise UserError(f"unknown part {unknown[0]!r} (choose from {', '.join(PARTS)})")
    torch.set_num_threads(threads)
    images = load_images(testset)
    res: dict = {
        "set": testset,
        "environment": environment(),
        "threads_quality": threads,
        "threads_speed": 1,
    }
    if "quality" in parts:
        _say(log, "quality:")
        res["quality"] = quality(images, released_quality, log, sigmas)
    if "nenet" in parts:
        _say(log, "NENet:")
        res["nenet"] = nenet_rows(images, log)
    if "exact" in parts:
        _say(log, "exactness:")
        res["exactness"] = exactness(images, log)
    if "speed" in parts:
        _say(log, "speed (1 thread):")
        res["speed"] = speed(images, released, repeats, log)
    return res


def render_released(res: dict) -> str:
    """The Markdown tables of a :func:`run_released` record."""
    md = [f"# WINNet with the released checkpoints on {res['set']}", ""]
    if "quality" in res:
        rows = [[r["model"], r["sigma"], f"{r['psnr']:.2f}", f"{r['ssim']:.4f}"] for r in res["quality"]]
        md += [markdown_table(["model", "sigma", "PSNR (dB)", "SSIM"], rows, pad=False), ""]
    if "nenet" in res:
        rows = [[r["sigma"], f"{r['mean_estimate']:.2f}", f"{r['mae_255']:.3f}"] for r in res["nenet"]]
        md += [markdown_table(["sigma", "NENet mean estimate", "MAE (0-255)"], rows, pad=False), ""]
    if "exactness" in res:
        e = res["exactness"]
        md += [
            f"Round trip (K=2): worst float32 PSNR {e['float32_worst_psnr']:.1f} dB; "
            f"float64 max error {e['float64_max_abs_error']:.1e}.",
            "",
        ]
    if "speed" in res:
        rows = [[k, f"{v['mean_s']:.2f}", f"{v['ratio_to_innverse']:.2f}"] for k, v in res["speed"].items()]
        md.append(markdown_table(["method (1 thread)", "mean s/image", "x innverse"], rows, pad=False))
    return "\n".join(md) + "\n"
