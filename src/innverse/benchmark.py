"""Reproducible benchmarks: Gaussian denoising, blind denoising with NENet, plug-and-play deblurring.

Used by ``innverse benchmark denoise|blind|deblur``; the functions here return a :class:`Report`
(a JSON-able record plus the image crops of the comparison figures) and :func:`write_report`
writes ``<task>.md``, ``<task>.json`` and the PNG figures.

Protocol (also written into every report, see :data:`NOISE_CONVENTION` and :data:`METRICS`):

* test images are read as gray (colour files via ITU-R 601 luma) in [0, 1], sorted by file name,
  and ``--limit`` keeps the first N;
* image ``i`` (0-based, in that order) gets the noise ``sigma/255 * randn`` drawn from
  ``torch.Generator().manual_seed(i)`` in float32, added without clipping
  (:func:`innverse.data.testsets.add_seeded_noise`), so every method sees the same noisy image
  and every noise level the same noise pattern;
* outputs are clipped to [0, 1]; PSNR (peak 1) and SSIM (Gaussian 11x11 window, sigma 1.5,
  Wang et al. 2004; :mod:`innverse.metrics`) are computed per image and averaged;
* seconds per image are the wall time of the method on one image (after one untimed warm-up call
  per method), including the noise estimation for methods that estimate sigma.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from innverse.data.testsets import add_seeded_noise, load_set
from innverse.errors import UserError
from innverse.metrics import psnr, ssim

__all__ = [
    "NOISE_CONVENTION",
    "METRICS",
    "BLIND_SIGMAS",
    "DENOISE_SIGMAS",
    "BASELINES",
    "CROP_SIZE",
    "DEFAULT_BORDER",
    "WIENER_NSR_SCALE",
    "wiener_nsr",
    "TestSet",
    "Condition",
    "Method",
    "Report",
    "parse_sigmas",
    "parse_kernels",
    "parse_names",
    "load_testsets",
    "environment",
    "model_method",
    "baseline_method",
    "evaluate",
    "benchmark_denoise",
    "benchmark_blind",
    "benchmark_deblur",
    "render_markdown",
    "write_report",
]

NOISE_CONVENTION = (
    "image i (0-based, file names sorted, after --limit) of each test set, gray in [0, 1], gets "
    "y = x + sigma/255 * randn(x.shape, generator=torch.Generator().manual_seed(i)) in float32, "
    "no clipping (innverse.data.testsets.add_seeded_noise); the same image index gets the same noise "
    "pattern at every noise level and for every method"
)
METRICS = (
    "outputs clipped to [0, 1]; PSNR in dB with peak 1 per image; SSIM with an 11x11 Gaussian window "
    "(sigma 1.5), population statistics, valid region (innverse.metrics); both averaged over images; "
    "s/img is the wall time per image after one untimed warm-up call per method (noise estimation "
    "included where sigma is estimated)"
)
#: noise levels of ``innverse benchmark denoise`` (0-255 scale)
DENOISE_SIGMAS = (15.0, 25.0, 50.0)
#: noise levels of the paper's blind table (0-255 scale)
BLIND_SIGMAS = (5.0, 15.0, 25.0, 35.0, 45.0, 55.0, 65.0, 75.0, 95.0, 125.0, 145.0)
#: classical baselines known to ``benchmark denoise``
BASELINES = ("bayes", "visu", "bm3d")
#: side of the comparison crops
CROP_SIZE = 96
#: border (pixels) left out of the deblurring PSNR/SSIM
DEFAULT_BORDER = 12
#: factor on the textbook ``sigma^2 / var`` of the constant-NSR Wiener filter.  The textbook value
#: under-regularises the high frequencies, where natural images have far less power than their
#: variance suggests.  5 was chosen on Set12 with sigma 2.55 and kernels *other* than the benchmark's
#: Levin kernels (Gaussian 15x15 std 1.6, 1x9 box, two random 17x17 motion paths): mean PSNR
#: (border 12) 25.15 dB at factor 1, 26.90 at 3, 27.27 at 5, 26.82 at 10.
WIENER_NSR_SCALE = 5.0
BM3D_MISSING = "bm3d not installed (pip install innverse[bm3d]); skipped"
_BASELINE_NAMES = {"bayes": "BayesShrink (cdf97)", "visu": "VisuShrink (cdf97)", "bm3d": "BM3D"}


# ------------------------------------------------------------------------------------------ parsing
def parse_sigmas(text: str | Sequence[float], option: str = "--sigma") -> list[float]:
    """``'15,25,50'`` -> ``[15.0, 25.0, 50.0]`` (0-255 scale, each in [0, 255], no duplicates)."""
    if isinstance(text, str):
        items = [t.strip() for t in text.split(",")]
        if not text.strip() or any(not t for t in items):
            raise UserError(
                f"{option}: expected a comma-separated list of numbers like 15,25,50, got {text!r}"
            )
    else:
        items = list(text)
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


def parse_kernels(text: str) -> list[str]:
    """Kernel specifications: comma-separated; ``levin:1-8`` / ``kernels12:3-5`` expand to ranges.

    Other items (``levin:3``, a ``.npy`` or image file) are kept as they are; they are read later by
    :func:`innverse.data.kernels.load_kernel`.
    """
    out: list[str] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            raise UserError(f"--kernels: empty item in {text!r} (expected e.g. levin:1-8)")
        m = re.fullmatch(r"(levin|kernels12):(\d+)-(\d+)", item, flags=re.IGNORECASE)
        if m:
            a, b = int(m.group(2)), int(m.group(3))
            if a > b:
                raise UserError(f"--kernels: range {item!r} runs backwards")
            out.extend(f"{m.group(1).lower()}:{i}" for i in range(a, b + 1))
        else:
            out.append(item)
    if len(set(out)) != len(out):
        raise UserError(f"--kernels: a kernel is listed twice in {text!r}")
    return out


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


# --------------------------------------------------------------------------------------------- data
@dataclass
class TestSet:
    """A loaded test set: its label, where it came from, and ``[(file name, (1,1,H,W) image)]``."""

    name: str
    source: str
    images: list[tuple[str, Tensor]]

    __test__ = False  # not a pytest class


def load_testsets(specs: Sequence[str], limit: int | None = None) -> list[TestSet]:
    """Load each folder or set name (``'Set12'``, ``'BSD68'`` under the data root) as gray images."""
    from innverse.paths import data_path

    if limit is not None and limit < 1:
        raise UserError(f"--limit must be >= 1, got {limit}")
    sets: list[TestSet] = []
    for spec in specs:
        images = load_set(spec, gray=True, limit=limit)  # UserError for a missing set
        p = Path(spec)
        root = (p if p.is_dir() else data_path(str(spec)) or p).resolve()
        label, k = root.name, 2
        while any(s.name == label for s in sets):
            label, k = f"{root.name}#{k}", k + 1
        sets.append(TestSet(label, str(root), images))
    return sets


@dataclass
class Condition:
    """One column group of a table: a noise level (``value`` = sigma, 0-255) or a blur kernel."""

    label: str
    value: Any
    record: Any


# ------------------------------------------------------------------------------------------ methods
@dataclass
class Method:
    """One row of a table.

    ``fn(y, condition_value, index) -> (output, extras)`` restores the degraded image ``y``
    (1,1,H,W); ``extras`` (JSON-able) is stored with the image's scores.
    """

    name: str
    fn: Callable[[Tensor, Any, int], tuple[Tensor, dict]]
    kind: str = "model"  # 'model' | 'baseline' | 'reference'
    params: int | None = None
    source: str | None = None
    info: dict = field(default_factory=dict)
    warmup: Callable[[Tensor], Any] | None = None

    def describe(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "params": self.params,
            "source": self.source,
            **self.info,
        }


def _count(model: Any) -> int | None:
    from innverse.models.winnet import count_parameters

    return count_parameters(model) if isinstance(model, nn.Module) else None


def _label(spec: str, taken: Sequence[str]) -> str:
    p = Path(spec)
    if p.exists():
        base = p.parent.name if p.is_dir() and p.name == "model" else (p.name if p.is_dir() else p.stem)
        if p.suffix == ".pth" and p.stem in ("net_WINNet", "net_NENet"):  # released: name by folder
            base = f"released {p.parent.name}"
    else:
        base = spec
    label, k = base, 2
    while label in taken:
        label, k = f"{base}#{k}", k + 1
    return label


def _sigma_tensor(s: float, ref: Tensor) -> Tensor:
    return torch.full((ref.shape[0],), float(s), dtype=torch.float32, device=ref.device)


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
    ``force_estimate`` is True): then the estimator's sigma-hat of each noisy image is used.
    """
    blind = bool(getattr(model, "blind", False))
    estimate = (blind and estimator is not None) if force_estimate is None else force_estimate
    if estimate and estimator is None:
        raise ValueError("estimating sigma needs an estimator")
    base = _label(spec, ())
    name = f"{base} (sigma: {_label(estimator_name, ())})" if estimate else base
    if force_estimate is False and blind and estimator is not None:
        name = f"{base} (true sigma)"
    label, k = name, 2
    while label in taken:
        label, k = f"{name}#{k}", k + 1

    def fn(y: Tensor, sigma255: float, index: int) -> tuple[Tensor, dict]:
        if estimate:
            s = estimator(y).reshape(-1).to(torch.float32)
            out = model(y, s)
            return out, {"sigma_used": float(s[0]) * 255.0}
        return model(y, _sigma_tensor(sigma255 / 255.0, y)), {"sigma_used": float(sigma255)}

    def warm(y: Tensor) -> None:
        if estimate:
            estimator(y)
        model(y, _sigma_tensor(25 / 255, y))

    info = {
        "blind": blind,
        "sigma_input": f"estimated by {estimator_name}" if estimate else "true sigma",
        "model_kind": getattr(model, "kind", None),
        "config": getattr(model, "config", None),
    }
    if estimate:
        info["estimator_params"] = _count(estimator)
    return Method(label, fn, "model", _count(model), str(getattr(model, "source", spec)), info, warm)


def baseline_method(name: str) -> Method | None:
    """``'bayes'`` / ``'visu'`` (wavelet thresholding at the true sigma) or ``'bm3d'``; None when
    the optional ``bm3d`` package is not installed."""
    if name in ("bayes", "visu"):
        from innverse.wavelets import denoise

        def fn(y: Tensor, sigma255: float, index: int) -> tuple[Tensor, dict]:
            return denoise(y, sigma=sigma255 / 255.0, method=name), {}

        info = {"method": name, "wavelet": "cdf97", "sigma_input": "true sigma"}
        return Method(_BASELINE_NAMES[name], fn, "baseline", None, "innverse.wavelets.denoise", info)
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


def _identity_method(name: str) -> Method:
    return Method(name, lambda y, c, i: (y, {}), "reference", None, None, {}, lambda y: None)


# -------------------------------------------------------------------------------------- environment
def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device | str = "cpu") -> dict:
    """Versions, threads and the machine the numbers were measured on."""
    from innverse import __version__

    dev = torch.device(device)
    env = {
        "innverse": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": str(dev),
    }
    if hasattr(os, "getloadavg"):
        env["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
    if dev.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(dev)
        env["cuda"] = torch.version.cuda
    return env


# -------------------------------------------------------------------------------------- evaluation
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _crop_window(x: Tensor, size: int = CROP_SIZE, stride: int = 16) -> tuple[int, int, int]:
    """(top, left, side) of the most textured ``size`` x ``size`` window (largest std, on a grid)."""
    h, w = x.shape[-2:]
    side = min(size, h, w)
    img = x[0, 0].detach().cpu().to(torch.float64)
    best, pos = -1.0, (0, 0)
    for t in sorted(set(list(range(0, h - side + 1, stride)) + [h - side])):
        for left in sorted(set(list(range(0, w - side + 1, stride)) + [w - side])):
            s = float(img[t : t + side, left : left + side].std())
            if s > best:
                best, pos = s, (t, left)
    return pos[0], pos[1], side


def _cut(x: Tensor, win: tuple[int, int, int]) -> np.ndarray:
    t, left, s = win
    return x[0, 0, t : t + s, left : left + s].detach().cpu().numpy().astype(np.float32)


def _border(x: Tensor, b: int) -> Tensor:
    return x[..., b:-b, b:-b] if b else x


@dataclass
class CropPanel:
    """Crops of one test image for one condition: clean, degraded, and each method's output."""

    file: str
    title: str
    panels: list[tuple[str, np.ndarray]]


@torch.no_grad()
def evaluate(
    sets: Sequence[TestSet],
    conditions: Sequence[Condition],
    methods: Sequence[Method],
    degrade: Callable[[Tensor, Any, int], Tensor],
    device: torch.device | str = "cpu",
    border: int = 0,
    crop_figure: str | None = None,
    degraded_name: str = "noisy",
    log: Callable[[str], Any] | None = None,
) -> tuple[list[dict], list[CropPanel]]:
    """Score every method on every image of every set under every condition.

    Returns one record per (method, set, condition) with the mean PSNR/SSIM/seconds and the
    per-image values, and, when ``crop_figure`` (a file-name prefix) is given, the crops of the
    first image of the first set for each condition.
    """
    dev = torch.device(device)
    records: list[dict] = []
    crops: list[CropPanel] = []
    warmed: set[str] = set()
    for si, ts in enumerate(sets):
        for cond in conditions:
            per: dict[str, list[dict]] = {m.name: [] for m in methods}
            panels: list[tuple[str, np.ndarray]] = []
            for i, (fname, x0) in enumerate(ts.images):
                x = x0.to(dev)
                y = degrade(x, cond.value, i)
                keep = crop_figure is not None and si == 0 and i == 0
                if keep:
                    win = _crop_window(x)
                    p_deg = float(psnr(y.clamp(0, 1), x, crop=border)[0])
                    panels = [
                        ("clean", _cut(x, win)),
                        (f"{degraded_name}\n{p_deg:.2f} dB", _cut(y.clamp(0, 1), win)),
                    ]
                for m in methods:
                    if m.name not in warmed:
                        if m.warmup is not None:
                            m.warmup(y[..., :64, :64])
                        else:
                            m.fn(y[..., :64, :64], cond.value, i)
                        _sync(dev)
                        warmed.add(m.name)
                    _sync(dev)
                    t0 = time.perf_counter()
                    out, extras = m.fn(y, cond.value, i)
                    _sync(dev)
                    dt = time.perf_counter() - t0 if m.kind != "reference" else 0.0
                    out = out.to(dev, torch.float32).clamp(0.0, 1.0)
                    p = float(psnr(out, x, crop=border)[0])
                    s = float(ssim(_border(out, border), _border(x, border))[0])
                    per[m.name].append({"image": fname, "psnr": p, "ssim": s, "seconds": dt, **extras})
                    if keep and m.kind != "reference":
                        panels.append((f"{m.name}\n{p:.2f} dB", _cut(out, win)))
            for m in methods:
                rows = per[m.name]
                rec = {
                    "method": m.name,
                    "dataset": ts.name,
                    "condition": cond.label,
                    "value": cond.record,
                    "images": len(rows),
                    "psnr": float(np.mean([r["psnr"] for r in rows])),
                    "ssim": float(np.mean([r["ssim"] for r in rows])),
                    "seconds_per_image": float(np.mean([r["seconds"] for r in rows])),
                    "per_image": rows,
                }
                records.append(rec)
                if log:
                    log(
                        f"{ts.name} {cond.label} {m.name}: {rec['psnr']:.2f} dB, SSIM {rec['ssim']:.4f}, "
                        f"{rec['seconds_per_image']:.3f} s/img"
                    )
            if crop_figure is not None and si == 0 and panels:
                safe = re.sub(r"[^A-Za-z0-9._-]+", "", cond.label.replace("sigma=", "sigma"))
                title = f"{ts.name} / {ts.images[0][0]}, {cond.label} (PSNR of the whole image)"
                crops.append(CropPanel(f"{crop_figure}{safe}.png", title, panels))
    return records, crops


# ---------------------------------------------------------------------------------------- reports
@dataclass
class Report:
    """A finished benchmark: ``data`` (everything, JSON-able) and the crop figures to draw."""

    task: str
    data: dict
    crops: list[CropPanel] = field(default_factory=list)


def _sigma_label(s: float) -> str:
    return f"sigma={s:g}"


def _check_sizes(sets: Sequence[TestSet], need: int, what: str) -> None:
    for ts in sets:
        for fname, x in ts.images:
            if min(x.shape[-2:]) < need:
                h, w = x.shape[-2:]
                raise UserError(f"{ts.name}/{fname}: image {w}x{h} is smaller than {need}x{need} ({what})")


def _min_size(*models: Any) -> int:
    return max([int(getattr(m, "min_size", 1) or 1) for m in models if m is not None] + [11])


def _noise(x: Tensor, sigma255: float, index: int) -> Tensor:
    return add_seeded_noise(x, sigma255, index)


def _header(task: str, sets: Sequence[TestSet], device: torch.device | str) -> dict:
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


def benchmark_denoise(
    sets: Sequence[TestSet],
    sigmas: Sequence[float],
    models: Sequence[tuple[str, Any]],
    baselines: Sequence[str] = ("bayes", "visu"),
    estimator: Any = None,
    estimator_name: str = "nenet",
    device: torch.device | str = "cpu",
    crop_figure: bool = False,
    log: Callable[[str], Any] | None = None,
) -> Report:
    """Gaussian denoising: every (name, model) at the true sigma (blind models get the estimator's
    sigma-hat instead when ``estimator`` is given), plus classical baselines and the noisy input."""
    methods: list[Method] = [_identity_method("noisy input")]
    skipped = []
    for b in baselines:
        m = baseline_method(b)
        if m is None:
            skipped.append(b)
            if log:
                log(BM3D_MISSING)
            continue
        methods.append(m)
    for spec, model in models:
        methods.append(model_method(spec, model, [m.name for m in methods], estimator, estimator_name))
    _check_sizes(sets, _min_size(*(m for _, m in models), estimator), "models and SSIM window")
    conds = [Condition(_sigma_label(s), float(s), float(s)) for s in sigmas]
    records, crops = evaluate(
        sets, conds, methods, _noise, device, 0, "crops_" if crop_figure else None, "noisy", log
    )
    data = _header("denoise", sets, device)
    data.update(
        sigmas=[float(s) for s in sigmas],
        condition="sigma (0-255 scale)",
        methods=[m.describe() for m in methods],
        skipped=[{"name": b, "reason": BM3D_MISSING} for b in skipped],
        results=records,
    )
    return Report("denoise", data, crops)


def benchmark_blind(
    sets: Sequence[TestSet],
    sigmas: Sequence[float],
    models: Sequence[tuple[str, Any]],
    estimator: Any,
    estimator_name: str = "nenet",
    device: torch.device | str = "cpu",
    crop_figure: bool = False,
    log: Callable[[str], Any] | None = None,
) -> Report:
    """The paper's blind table: each model with sigma estimated per image by ``estimator`` and, as a
    reference, with the true sigma; plus the estimator's mean absolute error (0-255 scale)."""
    methods: list[Method] = [_identity_method("noisy input")]
    for spec, model in models:
        methods.append(
            model_method(
                spec, model, [m.name for m in methods], estimator, estimator_name, force_estimate=True
            )
        )
        methods.append(
            model_method(
                spec, model, [m.name for m in methods], estimator, estimator_name, force_estimate=False
            )
        )
    _check_sizes(sets, _min_size(*(m for _, m in models), estimator), "models and SSIM window")
    conds = [Condition(_sigma_label(s), float(s), float(s)) for s in sigmas]
    records, crops = evaluate(
        sets, conds, methods, _noise, device, 0, "blind_crops_" if crop_figure else None, "noisy", log
    )
    # the estimator's error, from the sigma-hat of the first estimated row (every such row sees the
    # same noisy images, so the estimates are the same)
    est_row = methods[1].name
    errors = []
    for r in records:
        if r["method"] != est_row:
            continue
        est = np.array([p["sigma_used"] for p in r["per_image"]])
        errors.append(
            {
                "dataset": r["dataset"],
                "sigma": r["value"],
                "mae": float(np.mean(np.abs(est - r["value"]))),
                "bias": float(np.mean(est - r["value"])),
                "mean_estimate": float(np.mean(est)),
                "per_image": [{"image": p["image"], "estimate": p["sigma_used"]} for p in r["per_image"]],
            }
        )
        if log:
            log(f"{r['dataset']} {r['condition']} {estimator_name}: MAE {errors[-1]['mae']:.3f} (0-255)")
    data = _header("blind", sets, device)
    data.update(
        sigmas=[float(s) for s in sigmas],
        condition="sigma (0-255 scale)",
        estimator={
            "name": _label(estimator_name, ()),
            "spec": estimator_name,
            "params": _count(estimator),
            "source": getattr(estimator, "source", None),
        },
        methods=[m.describe() for m in methods],
        results=records,
        estimator_error=errors,
    )
    return Report("blind", data, crops)


def _kernel_label(spec: str) -> str:
    """``levin:3`` as is; a kernel file by its stem."""
    p = Path(spec)
    return p.stem if ":" not in spec and p.suffix else spec


def wiener_nsr(y: Tensor, sigma: float, scale: float = WIENER_NSR_SCALE) -> float:
    """Noise-to-signal ratio of the Wiener baseline: ``scale * sigma^2 / max(var(y) - sigma^2, 1e-6)``,
    at least 1e-6 (``sigma`` on the data scale; ``var(y) - sigma^2`` estimates the variance of the
    blurred clean image).  See :data:`WIENER_NSR_SCALE` for the factor."""
    v = float(y.to(torch.float64).var(unbiased=False))
    return max(scale * sigma**2 / max(v - sigma**2, 1e-6), 1e-6)


def benchmark_deblur(
    sets: Sequence[TestSet],
    kernels: Sequence[tuple[str, np.ndarray]],
    noise255: float,
    denoiser: Any,
    estimator: Any,
    denoiser_name: str = "winnet-blind",
    estimator_name: str = "nenet",
    max_iter: int | None = None,
    lam: float | None = None,
    border: int = DEFAULT_BORDER,
    device: torch.device | str = "cpu",
    crop_figure: bool = False,
    log: Callable[[str], Any] | None = None,
) -> Report:
    """Non-blind deblurring: each image blurred by each kernel (circular convolution) plus seeded
    noise; the blurred input, a Wiener filter, and plug-and-play WINNet driven by NENet
    (:func:`innverse.solvers.pnp.pnp_deblur`, sigma estimated from the blurred image)."""
    from innverse.data.degrade import blur
    from innverse.solvers.pnp import DEFAULT_LAMBDA, DEFAULT_MAX_ITER, pnp_deblur, wiener_deconv

    max_iter = DEFAULT_MAX_ITER if max_iter is None else max_iter
    lam = DEFAULT_LAMBDA if lam is None else lam
    if border < 0:
        raise UserError(f"--border must be >= 0, got {border}")
    kmax = max(max(k.shape) for _, k in kernels)
    _check_sizes(sets, max(_min_size(denoiser, estimator), kmax, 2 * border + 11), "kernel, border and SSIM")
    sigma = noise255 / 255.0

    def degrade(x: Tensor, k: np.ndarray, i: int) -> Tensor:
        return add_seeded_noise(blur(x, k), noise255, i)

    def wiener(y: Tensor, k: np.ndarray, i: int) -> tuple[Tensor, dict]:
        nsr = wiener_nsr(y, sigma)
        return wiener_deconv(y, k, nsr), {"nsr": nsr}

    def pnp(y: Tensor, k: np.ndarray, i: int) -> tuple[Tensor, dict]:
        z, info = pnp_deblur(y, k, denoiser, estimator, lam=lam, max_iter=max_iter)
        return z, {"iterations": info["iterations"][0], "sigma_estimate": info["betas"][0][0] * 255.0}

    def warm(y: Tensor) -> None:
        estimator(y)
        denoiser(y, _sigma_tensor(sigma, y))

    pnp_name = f"PnP {_label(denoiser_name, ())} + {_label(estimator_name, ())}"
    methods = [
        _identity_method("blurred input"),
        Method(
            "Wiener",
            wiener,
            "baseline",
            None,
            "innverse.solvers.pnp.wiener_deconv",
            {
                "nsr": f"{WIENER_NSR_SCALE:g} * sigma^2 / max(var(y) - sigma^2, 1e-6) per image, sigma = the "
                "true noise std (data scale); the factor was tuned on Set12 with non-Levin kernels "
                "(innverse.benchmark.WIENER_NSR_SCALE)"
            },
            lambda y: None,
        ),
        Method(
            pnp_name,
            pnp,
            "model",
            _count(denoiser),
            str(getattr(denoiser, "source", denoiser_name)),
            {
                "solver": "innverse.solvers.pnp.pnp_deblur",
                "lam": lam,
                "max_iter": max_iter,
                "sigma_input": f"estimated by {estimator_name} from the blurred image",
                "estimator_params": _count(estimator),
            },
            warm,
        ),
    ]
    conds = [Condition(_kernel_label(spec), k, spec) for spec, k in kernels]
    records, crops = evaluate(
        sets,
        conds,
        methods,
        degrade,
        device,
        border,
        "deblur_crops_" if crop_figure else None,
        "blurred",
        log,
    )
    data = _header("deblur", sets, device)
    data.update(
        kernels=[{"spec": spec, "shape": list(k.shape)} for spec, k in kernels],
        noise_sigma=float(noise255),
        degradation=(
            "y = circular convolution of x with the kernel (centre at size//2, innverse.data.degrade.blur) "
            "+ the seeded noise of the convention at sigma = noise"
        ),
        border=border,
        border_note=f"PSNR and SSIM leave out {border} px at every border",
        condition="kernel",
        methods=[m.describe() for m in methods],
        results=records,
    )
    its = [p["iterations"] for r in records if r["method"] == pnp_name for p in r["per_image"]]
    data["pnp_mean_iterations"] = float(np.mean(its)) if its else None
    return Report("deblur", data, crops)


# -------------------------------------------------------------------------------------- rendering
def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def line(r: list[str]) -> str:
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
    header = ["method", *(f"{ds} {c}" for ds, c in cols)]
    if report.task == "deblur":
        header.append("mean")
    header += ["s/img", "params"]
    if report.task == "deblur":
        header.append("iters")
    rows = []
    for m in d["methods"]:
        mine = {(r["dataset"], r["condition"]): r for r in recs if r["method"] == m["name"]}
        row = [m["name"]]
        for key in cols:
            r = mine.get(key)
            row.append(f"{r['psnr']:.2f} / {r['ssim']:.4f}" if r else "-")
        if report.task == "deblur":
            row.append(
                f"{np.mean([r['psnr'] for r in mine.values()]):.2f} / "
                f"{np.mean([r['ssim'] for r in mine.values()]):.4f}"
            )
        secs = [p["seconds"] for r in mine.values() for p in r["per_image"]]
        row.append(f"{np.mean(secs):.3g}" if m["kind"] != "reference" else "-")
        row.append(_fmt_params(m.get("params")))
        if report.task == "deblur":
            its = [p["iterations"] for r in mine.values() for p in r["per_image"] if "iterations" in p]
            row.append(f"{np.mean(its):.1f}" if its else "-")
        rows.append(row)
    return _table(header, rows)


def render_markdown(report: Report) -> str:
    """The whole Markdown report: title, main table, secondary tables and the protocol notes."""
    d = report.data
    env = d["environment"]
    title = {
        "denoise": "Gaussian denoising",
        "blind": "Blind Gaussian denoising (sigma estimated per image)",
        "deblur": "Non-blind deblurring",
    }[report.task]
    parts = [
        f"# {title}",
        "",
        "PSNR (dB) / SSIM, averaged over the images of each set.",
        "",
        render_table(report),
    ]
    if report.task == "blind":
        err = d["estimator_error"]
        cols = [(e["dataset"], e["sigma"]) for e in err]
        header = ["", *(f"{ds} sigma={s:g}" for ds, s in cols)]
        rows = [
            [f"{d['estimator']['name']} MAE (0-255)", *(f"{e['mae']:.3f}" for e in err)],
            [f"{d['estimator']['name']} mean estimate", *(f"{e['mean_estimate']:.2f}" for e in err)],
        ]
        parts += ["", "Noise-level estimation error:", "", _table(header, rows)]
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
        parts += ["", "Plug-and-play iterations used:", "", _table(header, rows)]
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
    notes.append(
        f"- Measured with torch {env['torch']}, {env['threads']} thread(s), device {env['device']}, "
        f"{env['cpu']} ({env['cpu_count']} cores), {env['platform']}, {d['created']}."
    )
    parts += ["", "Notes:", "", *notes, ""]
    return "\n".join(parts)


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


def _plots(report: Report, out: Path) -> list[Path]:
    from matplotlib.figure import Figure

    d = report.data
    written = []
    recs = d["results"]
    methods = [m["name"] for m in d["methods"]]
    sets = [s["name"] for s in d["datasets"]]
    if report.task in ("denoise", "blind"):
        ncols = 2 if report.task == "blind" else 1
        fig = Figure(figsize=(6.5 * ncols, 4.5), layout="constrained")
        ax = fig.add_subplot(1, ncols, 1)
        styles = ["-", "--", ":", "-."]
        for m in methods:
            for k, ds in enumerate(sets):
                rs = [r for r in recs if r["method"] == m and r["dataset"] == ds]
                label = m if len(sets) == 1 else f"{m} - {ds}"
                ax.plot(
                    [r["value"] for r in rs], [r["psnr"] for r in rs], styles[k % 4], marker="o", label=label
                )
        ax.set_xlabel("noise sigma (0-255 scale)")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title("PSNR vs noise level")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
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
        f = out / ("psnr_vs_sigma.png" if report.task == "denoise" else "blind.png")
    else:
        fig = Figure(figsize=(max(6.5, 0.8 * len(d["kernels"]) + 3), 4.5), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        for m in methods:
            for ds in sets:
                rs = [r for r in recs if r["method"] == m and r["dataset"] == ds]
                label = m if len(sets) == 1 else f"{m} - {ds}"
                ax.plot([r["condition"] for r in rs], [r["psnr"] for r in rs], marker="o", label=label)
        ax.set_xlabel("blur kernel")
        ax.set_ylabel(f"PSNR (dB, border {d['border']} px)")
        ax.set_title(f"Deblurring, noise sigma {d['noise_sigma']:g}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        f = out / "deblur.png"
    fig.savefig(f, dpi=120)
    written.append(f)
    for c in report.crops:
        n = len(c.panels)
        fig = Figure(figsize=(2.2 * n, 2.9), layout="constrained")
        for j, (t, img) in enumerate(c.panels):
            ax = fig.add_subplot(1, n, j + 1)
            ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(t, fontsize=8)
            ax.set_axis_off()
        fig.suptitle(c.title, fontsize=9)
        fig.savefig(out / c.file, dpi=120)
        written.append(out / c.file)
    return written


def write_report(report: Report, out: str | Path, log: Callable[[str], Any] | None = None) -> list[Path]:
    """Write ``<task>.md``, ``<task>.json`` and, when matplotlib is installed, the PNG figures into
    ``out`` (created; existing files of the same names are replaced).  Returns the files written."""
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise UserError(f"{d}: exists and is not a folder")
    d.mkdir(parents=True, exist_ok=True)
    md = d / f"{report.task}.md"
    md.write_text(render_markdown(report), encoding="utf-8")
    js = d / f"{report.task}.json"
    js.write_text(json.dumps(_finite(report.data), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    written = [md, js]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if log:
            log("matplotlib not installed (pip install innverse[plot]); no plots written")
        return written
    return written + _plots(report, d)
