"""``innverse benchmark superres``: 4x super-resolution of Fashion-MNIST with INDigo and its baselines.

Protocol (everything seeded, every method on the same images, observations, prior, steps and seeds):

* **Images**: ``images`` Fashion-MNIST *test* images (default 500), padded to 32x32 on the black
  background, chosen by ``torch.randperm(5000, generator=manual_seed(seed))``; image ``k`` of that
  list has index ``k`` below.
* **Observations**: ``y_k = A(x_k) + sigma_y z`` with ``z`` from ``torch.Generator().manual_seed(k)``
  (float32, not clipped), for each ``sigma_y`` (default 0, 0.05, 0.1 on the [0, 1] scale): the same
  noise pattern at every level.  ``A``: 4x4 block averaging; the non-linear table uses block averaging
  followed by JPEG-like quantisation (quality 75).
* **Sampling**: the diffusion methods run ``steps`` steps (one network evaluation each; DPS and
  INDigo add one backward pass per step) from the noise of ``mix_seeds(seed, 0, k)`` for image ``k``.
* **Scores** per image, averaged: PSNR (dB, peak 1) and SSIM (:mod:`innverse.metrics`) of the result
  clipped to [0, 1]; the consistency ``‖A(x̂) − y‖`` as an RMS over the low-resolution pixels (the
  ground truth scores ``sigma_y`` on average); seconds per image (wall time of the batch / its size,
  methods alternating batch by batch in one process); FID (local features) between the results and
  the ground truths on the penultimate features of the project's Fashion-MNIST classifier
  (:mod:`innverse.bench.frechet`; left out, and said so, when the classifier is not available).
  Standard LPIPS, FID and NIQE are not available offline (they need ImageNet networks, and NIQE's
  96x96 patches do not fit 32x32 images): those columns read "n/a".
* **Step sizes** (INDigo's and DPS's ``zeta``): :data:`innverse.apps.superres.GUIDANCE`, or chosen by
  ``tune > 0``: a grid search on ``tune`` held-out Fashion-MNIST *training* images (never the test
  images) maximising the mean PSNR at each ``sigma_y`` (:func:`tune_guidance`).

``--prior gaussian`` replaces the trained prior by the exact ε-model of a Gaussian fitted to the
training images (:mod:`innverse.sampling.gaussian`): a training-free stand-in to exercise the
benchmark, not a result to quote as the diffusion prior's.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from innverse.bench.options import add_runtime_arguments, apply_runtime
from innverse.errors import UserError

__all__ = [
    "SIGMAS",
    "NONLINEAR_METHODS",
    "add_superres_arguments",
    "run_superres_from_args",
    "run_superres_benchmark",
    "tune_guidance",
    "load_feature_net",
    "load_fmnist",
    "observe",
    "render_superres_markdown",
    "merge_superres",
    "ZETA_GRID",
]

#: the noise levels of the benchmark (std on the [0, 1] scale)
SIGMAS = (0.0, 0.05, 0.1)
#: the methods of the non-linear table (DDRM and ILVR are listed with their refusal)
NONLINEAR_METHODS = ("indigo", "dps", "ddrm", "ilvr", "bicubic", "inn")
#: the grids :func:`tune_guidance` searches: method -> [(zeta, schedule), ...]
ZETA_GRID: dict[str, list[tuple[float, str]]] = {
    # the "constant" schedule is left out: it returned NaN for zeta 0.02 with the trained prior
    # 2.8 and 4 serve few-step DDIM, whose steps must each pull harder
    "indigo": [(z, "normalized") for z in (0.125, 0.25, 0.35, 0.5, 0.7, 1.0, 2.0, 2.8, 4.0)],
    # DPS(8 zeta) is INDigo(zeta) with the Haar INN on 4x averaging: the same grid, scaled by 8
    "dps": [(8 * z, "normalized") for z in (0.125, 0.25, 0.35, 0.5, 0.7, 1.0, 2.0, 2.8, 4.0)],
}
#: the protocol, as the report states it
PROTOCOL = (
    "Fashion-MNIST test images padded to 32x32, chosen by torch.randperm(5000, manual_seed(seed)); "
    "y_k = A(x_k) + sigma_y z_k with z_k from torch.Generator().manual_seed(k) (float32, not clipped); "
    "diffusion methods: the same prior, steps and per-image sampling seeds mix_seeds(seed, 0, k); "
    "results clipped to [0, 1]; PSNR (peak 1) and SSIM (11x11 Gaussian window) per image, averaged; "
    "‖A(x̂) − y‖ is the RMS over the low-resolution pixels against the noisy y (the ground truth "
    "scores about sigma_y); s/img = batch wall time / batch size, methods alternating batch by batch"
)
_NA = "n/a"
_NOT_OFFLINE = (
    "Standard LPIPS, FID and NIQE are not available offline (LPIPS and FID need ImageNet networks, NIQE's "
    "pristine model and 96x96 patches do not fit 32x32 images); 'FID (local)' uses this project's "
    "Fashion-MNIST classifier instead and is comparable only within this table."
)


# ------------------------------------------------------------------------------------------ data
def load_fmnist(
    split: str, n: int, seed: int, root: str | None = None, offset: int = 0
) -> tuple[Tensor, list[int]]:
    """``n`` seeded Fashion-MNIST images of ``split`` padded to 32x32, ``(n, 1, 32, 32)`` on [0, 1], and
    their indices in the split.  ``offset``: draw from the images from there on (the training images
    used for tuning are the last 5,000)."""
    from innverse.data.fashion_mnist import load_fashion_mnist, pad_images

    imgs, _ = load_fashion_mnist(split, root)
    pool = imgs.shape[0] - offset
    if not 1 <= n <= pool:
        raise UserError(f"--images must be in 1..{pool} for the {split} split, got {n}")
    order = torch.randperm(pool, generator=torch.Generator().manual_seed(seed))[:n] + offset
    idx = [int(i) for i in order]
    x = pad_images(imgs[idx], 32).astype(np.float32) / np.float32(255.0)
    return torch.from_numpy(x)[:, None], idx


def observe(operator: Any, x: Tensor, sigma: float) -> Tensor:
    """``A(x_k) + sigma z_k`` with ``z_k`` from ``torch.Generator().manual_seed(k)`` (protocol)."""
    y = operator.A(x)
    if sigma == 0:
        return y
    z = torch.stack(
        [torch.randn(tuple(y.shape[1:]), generator=torch.Generator().manual_seed(k)) for k in range(len(y))]
    )
    return y + sigma * z.to(y)


def _gaussian_prior(root: str | None, device: torch.device) -> Any:
    from innverse.data.fashion_mnist import load_fashion_mnist, pad_images
    from innverse.sampling.gaussian import fit_gaussian, gaussian_prior

    imgs, _ = load_fashion_mnist("train", root)
    x = torch.from_numpy(pad_images(imgs[:-5000], 32).astype(np.float32) / np.float32(255.0))[:, None]
    mu, cov = fit_gaussian(2 * x - 1)
    prior = gaussian_prior(mu, cov, (1, 32, 32), clip_sample=1.0)
    prior.card["summary"] = "analytic Gaussian fitted to Fashion-MNIST training images [0:55000]"
    return prior.to(device)


def load_prior_spec(spec: str, root: str | None, device: torch.device) -> Any:
    """``"gaussian"`` (module docstring) or anything :func:`innverse.diffusion.prior.load_prior` takes."""
    if spec == "gaussian":
        return _gaussian_prior(root, device)
    from innverse.diffusion.prior import load_prior

    return load_prior(spec, device)


def load_feature_net(spec: str | None, device: torch.device | str = "cpu") -> tuple[Any, str]:
    """``(net, note)``: the classifier whose features FID (local) uses, or ``(None, why not)``.

    ``spec``: a shipped name (default ``fmnist-classifier``), a training folder (its ``model/``), or a
    checkpoint; ``None`` or ``"none"`` turns FID off."""
    if spec is None or str(spec).lower() == "none":
        return None, "FID (local) not computed (no classifier asked for)"
    from innverse.models.io import load_state_checked, mark_source, read_checkpoint
    from innverse.models.registry import weights_dir

    p = Path(str(spec)).expanduser()
    if not p.exists():
        p = weights_dir() / f"{spec}.safetensors"
        if not p.is_file():
            return None, f"FID (local) not computed: the classifier {spec!r} is not available"
    if (
        p.is_dir()
        and not (p / "model.safetensors").is_file()
        and (p / "model" / "model.safetensors").is_file()
    ):
        p = p / "model"
    try:
        ck = read_checkpoint(p)
        from innverse.models import classifier as clf

        kinds = {"classifier-resnet": clf.ResNetClassifier, "classifier-convnet": clf.ConvNetClassifier}
        if ck.kind not in kinds:
            return None, f"FID (local) not computed: {spec} is a {ck.kind} checkpoint, not a classifier"
        net = kinds[ck.kind](**ck.config)
        load_state_checked(net, ck.state, ck.weights, ck.kind)
        mark_source(net, spec)
    except UserError as e:
        return None, f"FID (local) not computed: {e}"
    return net.to(device).eval(), f"FID (local) on the penultimate features of {spec}"


# ------------------------------------------------------------------------------------------ running
def _resolver(
    method: str,
    degradation: str,
    prior: Any,
    inn: Any,
    steps: int,
    sigma: float,
    sampler: str,
    eta: float | None,
    zeta: dict,
    device: torch.device,
) -> Any:
    from innverse.apps.superres import SuperResolver

    z = zeta.get((method, sigma))
    if method == "ddrm":  # the benchmark's eta is DDIM's; DDRM keeps the protocol's eta = 0.85
        eta = None
    return SuperResolver(
        method,
        4,
        degradation,
        prior,
        inn,
        steps,
        sigma,
        sampler,
        eta,
        None if z is None else z[0],
        None if z is None else z[1],
        device,
    )


def _run_method(sr: Any, y: Tensor, keys: Sequence[int], seed: int) -> tuple[Tensor, float]:
    from innverse.sampling import mix_seeds

    gens = [torch.Generator().manual_seed(mix_seeds(seed, 0, k)) for k in keys]
    t0 = time.perf_counter()
    out = sr.single(y, gens if sr.guided is not None else None)
    return out.detach().cpu().clamp(0, 1), time.perf_counter() - t0


def _scores(out: Tensor, x: Tensor, y: Tensor, operator: Any) -> dict[str, list[float]]:
    from innverse.metrics import psnr, ssim

    cons = (operator.A(out) - y).flatten(1).square().mean(1).sqrt()
    return {
        "psnr": psnr(out, x).tolist(),
        "ssim": ssim(out, x).tolist(),
        "consistency": cons.double().tolist(),
    }


def _evaluate(
    methods: Sequence[str],
    degradation: str,
    x: Tensor,
    sigmas: Sequence[float],
    prior: Any,
    inn: Any,
    steps: int,
    sampler: str,
    eta: float | None,
    zeta: dict,
    seed: int,
    batch: int,
    device: torch.device,
    log: Callable[[str], Any],
    keep: int = 0,
) -> tuple[list[dict], dict]:
    """Scores of every method at every sigma; and the first ``keep`` outputs for the figure."""
    from innverse.apps.superres import make_operator

    records: list[dict] = []
    shown: dict = {}
    for sigma in sigmas:
        op = make_operator(degradation, 4, sigma)
        y = observe(op, x, sigma)
        solvers: dict[str, Any] = {}
        for m in methods:
            try:
                solvers[m] = _resolver(m, degradation, prior, inn, steps, sigma, sampler, eta, zeta, device)
            except UserError as e:
                records.append({"method": m, "sigma": sigma, "degradation": degradation, "refused": str(e)})
                log(f"superres: {degradation} sigma {sigma:g}: {m} refuses: {e}")
        per: dict[str, dict[str, list]] = {
            m: {"psnr": [], "ssim": [], "consistency": [], "seconds": []} for m in solvers
        }
        outs: dict[str, list[Tensor]] = {m: [] for m in solvers}
        n = x.shape[0]
        for b0 in range(0, n, batch):
            keys = list(range(b0, min(n, b0 + batch)))
            xb, yb = x[keys], y[keys]
            for m, sr in solvers.items():  # alternating: each batch runs every method in turn
                out, secs = _run_method(sr, yb.to(device), keys, seed)
                s = _scores(out, xb, yb, op)
                for k in ("psnr", "ssim", "consistency"):
                    per[m][k] += s[k]
                per[m]["seconds"] += [secs / len(keys)] * len(keys)
                outs[m].append(out)
            log(f"superres: {degradation} sigma {sigma:g}: {keys[-1] + 1}/{n} images")
        for m, sr in solvers.items():
            rec = {
                "method": m,
                "sigma": sigma,
                "degradation": degradation,
                "psnr": float(np.mean(per[m]["psnr"])),
                "ssim": float(np.mean(per[m]["ssim"])),
                "consistency": float(np.mean(per[m]["consistency"])),
                "seconds": float(np.mean(per[m]["seconds"])),
                "settings": sr.describe(),
                "network_evaluations": sr.steps,
                "per_image": {k: [round(v, 6) for v in vals] for k, vals in per[m].items()},
            }
            rec["_outputs"] = torch.cat(outs[m])
            records.append(rec)
        truth_cons = (op.A(x) - y).flatten(1).square().mean(1).sqrt()
        records.append(
            {
                "method": "ground truth",
                "sigma": sigma,
                "degradation": degradation,
                "consistency": float(truth_cons.mean()),
                "reference": True,
            }
        )
        if keep:
            shown[sigma] = {"y": y[:keep], "outputs": {m: torch.cat(outs[m])[:keep] for m in solvers}}
    return records, shown


def _fid(records: list[dict], x: Tensor, net: Any) -> None:
    from innverse.bench.frechet import fid_local

    for r in records:
        out = r.pop("_outputs", None)
        if out is not None and net is not None:
            r["fid_local"] = fid_local(out, x, net)


def tune_guidance(
    prior: Any,
    inn: Any,
    images: Tensor,
    sigmas: Sequence[float] = SIGMAS,
    methods: Sequence[str] = ("indigo", "dps"),
    degradation: str = "average",
    steps: int = 100,
    sampler: str = "ddpm",
    eta: float | None = None,
    seed: int = 0,
    batch: int = 64,
    device: torch.device | str = "cpu",
    grid: dict[str, list[tuple[float, str]]] | None = None,
    log: Callable[[str], Any] = lambda s: None,
) -> tuple[dict, list[dict]]:
    """Grid search of ``(zeta, schedule)`` per method and ``sigma_y`` on ``images`` (training images):
    ``({(method, sigma): (zeta, schedule)}, records)``, the best by mean PSNR."""
    grid = grid or ZETA_GRID
    dev = torch.device(device)
    best: dict = {}
    rows: list[dict] = []
    for m in methods:
        for sigma in sigmas:
            scores = []
            for z, sched in grid[m]:
                recs, _ = _evaluate(
                    [m],
                    degradation,
                    images,
                    [sigma],
                    prior,
                    inn,
                    steps,
                    sampler,
                    eta,
                    {(m, sigma): (z, sched)},
                    seed,
                    batch,
                    dev,
                    lambda s: None,
                )
                r = next(r for r in recs if r["method"] == m)
                p = r["psnr"] if math.isfinite(r["psnr"]) else -math.inf
                scores.append((p, z, sched))
                rows.append(
                    {
                        "method": m,
                        "sigma": sigma,
                        "zeta": z,
                        "schedule": sched,
                        "psnr": r["psnr"],
                        "ssim": r["ssim"],
                        "consistency": r["consistency"],
                    }
                )
                log(f"superres tune: {m} sigma {sigma:g} zeta {z:g} ({sched}): {r['psnr']:.2f} dB")
            p, z, sched = max(scores, key=lambda s: s[0])
            best[(m, sigma)] = (z, sched)
            if len(scores) > 2 and (z, sched) in (
                (scores[0][1], scores[0][2]),
                (scores[-1][1], scores[-1][2]),
            ):
                log(f"superres tune: warning: {m} sigma {sigma:g}: best zeta {z:g} at the edge of the grid")
    return best, rows


# ------------------------------------------------------------------------------------------ report
def _fmt(v: Any, f: str) -> str:
    return _NA if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, f)


def _table(records: list[dict], sigma: float, degradation: str, fid_on: bool) -> str:
    from innverse.bench.report import markdown_table

    header = ["method", "PSNR ↑", "SSIM ↑", "FID (local) ↓", "LPIPS ↓", "‖A(x̂) − y‖ (RMS)", "s/img", "NFE"]
    rows = []
    for r in records:
        if r["sigma"] != sigma or r["degradation"] != degradation:
            continue
        if "refused" in r:
            rows.append([r["method"], f"refused: {r['refused']}", "", "", "", "", "", ""])
        elif r.get("reference"):
            rows.append([r["method"], "", "", "", "", _fmt(r["consistency"], ".4f"), "", ""])
        else:
            fid = _fmt(r.get("fid_local"), ".2f") if fid_on else _NA
            nfe = str(r["network_evaluations"]) if r["network_evaluations"] else "-"
            if r["settings"].get("backward_passes"):
                nfe += " (+ backward)"
            rows.append(
                [
                    r["method"],
                    _fmt(r["psnr"], ".2f"),
                    _fmt(r["ssim"], ".4f"),
                    fid,
                    _NA,
                    _fmt(r["consistency"], ".4f"),
                    _fmt(r["seconds"], ".3g"),
                    nfe,
                ]
            )
    return markdown_table(header, rows)


def render_superres_markdown(data: dict) -> str:
    """The Markdown report of :func:`run_superres_benchmark`'s ``data``."""
    from innverse.bench.report import markdown_table

    recs = data["results"]
    fid_on = data["fid"]["available"]
    parts = ["# 4x super-resolution (Fashion-MNIST 32x32)", ""]
    parts += [
        f"Prior: {data['prior']['source']} ({data['prior']['summary']}); {data['steps']} {data['sampler']} "
        f"steps; {data['images']} test images (seed {data['seed']}).",
        "",
    ]
    for deg in data["degradations"]:
        title = {
            "average": "4x4 block averaging",
            "nonlinear": "non-linear: 4x4 averaging + JPEG-like quantisation (quality 75)",
        }.get(deg, deg)
        parts += [f"## {title}", ""]
        summary_rows = []
        methods = [
            m
            for m in dict.fromkeys(r["method"] for r in recs if r["degradation"] == deg)
            if m != "ground truth"
        ]
        sigmas = [s for s in data["sigmas"] if any(r["sigma"] == s and r["degradation"] == deg for r in recs)]
        for m in methods:
            row = [m]
            for s in sigmas:
                r = next(
                    (r for r in recs if r["method"] == m and r["sigma"] == s and r["degradation"] == deg),
                    None,
                )
                if r is None:  # a merged report: this cell was measured in none of the runs
                    row.append("not measured")
                else:
                    cell = (
                        f"{_fmt(r['psnr'], '.2f')} / {_fmt(r['ssim'], '.4f')}" if "refused" not in r else ""
                    )
                    row.append(cell or "refused")
            summary_rows.append(row)
        parts += [
            "PSNR (dB) / SSIM:",
            "",
            markdown_table(["method", *(f"sigma_y = {s:g}" for s in sigmas)], summary_rows),
            "",
        ]
        for s in sigmas:
            parts += [f"### sigma_y = {s:g}", "", _table(recs, s, deg, fid_on), ""]
    if data.get("tuning"):
        parts += [
            "## Step sizes chosen on training images",
            "",
            markdown_table(
                ["degradation", "method", "sigma_y", "zeta", "schedule"],
                [
                    [t["degradation"], t["method"], f"{t['sigma']:g}", f"{t['zeta']:g}", t["schedule"]]
                    for t in data["tuning"]["chosen"]
                ],
            ),
            "",
        ]
    notes = [
        f"- {data['protocol']}",
        f"- {data['fid']['note']}.",
        f"- {_NOT_OFFLINE}",
        f"- Step sizes: {data['zeta_source']}.",
    ]
    for m, d in data["settings"].items():
        notes.append(f"- {m}: " + ", ".join(f"{k} {v}" for k, v in d.items() if k != "method"))
    if data.get("merged_from"):
        notes.append(
            f"- Merged from {len(data['merged_from'])} runs ("
            + "; ".join(
                f"sigma_y {', '.join(f'{s:g}' for s in m['sigmas'])}: {m['created']}"
                for m in data["merged_from"]
            )
            + "); seconds per image compare methods within one sigma_y only."
        )
    for r in data.get("superseded", []):
        notes.append(f"- Rerun: {r} replaces the earlier measurement.")
    env = data["environment"]
    notes.append(
        f"- Measured with torch {env['torch']}, {env['threads']} thread(s), device {env['device']}, "
        f"{env['cpu']}, {data['created']}."
    )
    parts += ["Notes:", "", *notes, ""]
    return "\n".join(parts)


def _grid_figure(shown: dict, x: Tensor, records: list[dict], path: Path, title: str) -> Path | None:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    from innverse.bench.plots import save_figure
    from innverse.metrics import psnr

    methods = list(shown["outputs"])
    k = shown["y"].shape[0]
    cols = 2 + len(methods)
    fig = Figure(figsize=(1.35 * cols, 1.45 * k + 0.4))
    axes = fig.subplots(k, cols, squeeze=False)
    for i in range(k):
        panels: list[tuple[str, Tensor, float | None]] = [
            ("y (nearest)", shown["y"][i].repeat_interleave(4, -1).repeat_interleave(4, -2), None)
        ]
        panels += [(m, shown["outputs"][m][i], float(psnr(shown["outputs"][m][i], x[i]))) for m in methods]
        panels.append(("truth", x[i], None))
        for j, (name, img, p) in enumerate(panels):
            ax = axes[i][j]
            ax.imshow(img[0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
            if p is not None:
                ax.set_xlabel(f"{p:.2f} dB", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def run_superres_benchmark(
    prior: Any,
    prior_name: str,
    inn: Any,
    out: str | Path,
    methods: Sequence[str] = ("indigo", "dps", "ddrm", "ilvr", "bicubic", "inn"),
    sigmas: Sequence[float] = SIGMAS,
    images: int = 500,
    seed: int = 0,
    steps: int = 100,
    sampler: str = "ddpm",
    eta: float | None = None,
    batch: int = 50,
    device: torch.device | str = "cpu",
    feature_net: Any = None,
    feature_note: str = "",
    nonlinear_inn: Any = None,
    nonlinear_note: str = "",
    tune: int = 0,
    zeta: dict | None = None,
    figure_images: int = 6,
    data_root: str | None = None,
    log: Callable[[str], Any] = lambda s: None,
    skip_average: bool = False,
) -> dict:
    """Run the benchmark (module docstring) and write ``superres.md``, ``superres.json`` and the
    figure grids ``superres_<degradation>_s<sigma>.png`` into ``out``; returns the JSON data.

    ``inn``: the INDigo INN of averaging (``"haar"`` is exact); ``nonlinear_inn``: that of the
    non-linear degradation (``None``: no non-linear table, ``nonlinear_note`` says why);
    ``zeta``: ``{(method, sigma): (zeta, schedule)}`` overrides; ``tune``: number of training
    images for :func:`tune_guidance` (0: the defaults); ``skip_average``: only the non-linear table
    (which then needs ``nonlinear_inn``).
    """
    if skip_average and nonlinear_inn is None:
        raise UserError("--degradations nonlinear needs a non-linear INN (--nonlinear-inn)")
    from innverse.bench.environment import environment
    from innverse.bench.report import json_text, output_folder, write_text

    dev = torch.device(device)
    folder = output_folder(out)
    x, idx = load_fmnist("test", images, seed, data_root)
    zeta = dict(zeta or {})
    tuning = None
    zeta_source = "innverse.apps.superres.GUIDANCE (defaults)"
    if tune:
        xt, tidx = load_fmnist("train", tune, seed, data_root, offset=55000)
        tuned_methods = [m for m in ("indigo", "dps") if m in methods]
        best: dict = {}
        rows: list[dict] = []
        for deg, dinn in (("average", inn), ("nonlinear", nonlinear_inn)):
            if (deg == "nonlinear" and dinn is None) or (deg == "average" and skip_average):
                continue
            b, r = tune_guidance(
                prior, dinn, xt, sigmas, tuned_methods, deg, steps, sampler, eta, seed, batch, dev, log=log
            )
            for key, v in b.items():
                best[(deg,) + tuple(key)] = v
            rows += [dict(rr, degradation=deg) for rr in r]
        tuning = {
            "images": tidx,
            "grid": rows,
            "chosen": [
                {"degradation": k[0], "method": k[1], "sigma": k[2], "zeta": v[0], "schedule": v[1]}
                for k, v in best.items()
            ],
        }
        zeta_source = (
            f"chosen per method and sigma_y by mean PSNR on {tune} Fashion-MNIST training images "
            f"(seeded from the last 5,000), grid {ZETA_GRID}"
        )
    else:
        best = {}

    def zeta_for(deg: str) -> dict:
        z = {(m, s): v for (d, m, s), v in best.items() if d == deg}
        z.update(zeta)
        return z

    keep = min(figure_images, images)
    runs = [] if skip_average else [("average", methods, inn, "4x averaging")]
    if nonlinear_inn is not None:
        nl_methods = [m for m in NONLINEAR_METHODS if m in methods]
        runs.append(("nonlinear", nl_methods, nonlinear_inn, "4x averaging + quantisation"))
    records: list[dict] = []
    degradations: list[str] = []
    figures: list[Path] = []
    for deg, deg_methods, deg_inn, what in runs:
        recs, shown = _evaluate(
            deg_methods,
            deg,
            x,
            sigmas,
            prior,
            deg_inn,
            steps,
            sampler,
            eta,
            zeta_for(deg),
            seed,
            batch,
            dev,
            log,
            keep,
        )
        records += recs
        degradations.append(deg)
        for s, sh in shown.items():
            f = _grid_figure(
                sh,
                x[:keep],
                recs,
                folder / f"superres_{deg}_s{s:g}.png",
                f"{what}, sigma_y = {s:g}: y | methods | truth",
            )
            figures += [f] if f else []
    _fid(records, x, feature_net)
    settings: dict[str, dict] = {}
    for rec in records:
        if "settings" in rec and rec["method"] not in settings:
            settings[rec["method"]] = {
                k: v for k, v in rec["settings"].items() if k not in ("noise", "degradation")
            }
    data = {
        "benchmark": "superres",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "protocol": PROTOCOL,
        "prior": {"source": prior_name, "summary": str(getattr(prior, "card", {}).get("summary", ""))},
        "inn": str(getattr(inn, "source", "given")),
        "nonlinear_inn": None if nonlinear_inn is None else str(getattr(nonlinear_inn, "source", "given")),
        "nonlinear_note": nonlinear_note,
        "images": images,
        "test_indices": idx,
        "seed": seed,
        "steps": steps,
        "sampler": sampler,
        "sigmas": list(sigmas),
        "degradations": degradations,
        "fid": {"available": feature_net is not None, "note": feature_note},
        "not_available": _NOT_OFFLINE,
        "zeta_source": zeta_source,
        "tuning": tuning,
        "settings": settings,
        "environment": environment(dev),
        "results": records,
        "figures": [str(f) for f in figures],
    }
    text = render_superres_markdown(data)
    if nonlinear_inn is None and nonlinear_note:
        text = text.replace("Notes:\n", f"Notes:\n\n- Non-linear table left out: {nonlinear_note}.\n", 1)
    write_text(folder / "superres.md", text + "".join(f"\n![{f.name}]({f.name})\n" for f in figures))
    write_text(folder / "superres.json", json_text(data))
    log("wrote " + ", ".join(str(p) for p in [folder / "superres.md", folder / "superres.json", *figures]))
    return data


#: what runs merged by :func:`merge_superres` must share
_MERGE_KEYS = ("protocol", "prior", "inn", "images", "test_indices", "seed", "steps", "sampler")


def merge_superres(parts: Sequence[dict], supersede: bool = False) -> dict:
    """One report from several :func:`run_superres_benchmark` results of the same protocol, prior, INN,
    images, seed and steps (e.g. one run per ``sigma_y``, run one after another or side by side).

    A (degradation, sigma_y, method) measured in two files is an error, unless ``supersede``: then the
    later file's row replaces the earlier one (a method rerun after a fix; the report lists which).
    Seconds per image stay comparable within each run only (the report says so)."""
    if len(parts) < 2:
        raise UserError("--merge needs at least two superres.json files")
    first = parts[0]
    for i, d in enumerate(parts[1:], start=2):
        if d.get("benchmark") != "superres":
            raise UserError(f"--merge: file {i} is not a superres benchmark result")
        for k in _MERGE_KEYS:
            if d.get(k) != first.get(k):
                raise UserError(f"--merge: file {i} differs from file 1 in {k!r}; only like runs merge")
    kept: dict[tuple, dict] = {}
    replaced: list[str] = []
    for i, d in enumerate(parts, start=1):
        for r in d["results"]:
            key = (r["degradation"], r["sigma"], r["method"])
            if key in kept and not r.get("reference"):
                cell = f"{r['method']} at sigma_y {r['sigma']:g} ({r['degradation']})"
                if not supersede:
                    raise UserError(
                        f"--merge: {cell} is measured in two of the files (--supersede keeps the later one)"
                    )
                replaced.append(f"{cell} from file {i}")
            if key not in kept or not r.get("reference"):
                kept[key] = r
    out = {k: first[k] for k in first if k not in ("results", "sigmas", "degradations", "tuning", "figures")}
    out["sigmas"] = sorted({s for d in parts for s in d["sigmas"]})
    out["degradations"] = list(dict.fromkeys(g for d in parts for g in d["degradations"]))
    res = list(kept.values())
    order = {m: i for i, m in enumerate(dict.fromkeys(r["method"] for d in parts for r in d["results"]))}
    out["results"] = sorted(res, key=lambda r: (r["degradation"], r["sigma"], order[r["method"]]))
    tunings = [d["tuning"] for d in parts if d.get("tuning")]
    out["tuning"] = (
        {
            "images": tunings[0]["images"],
            "grid": [g for t in tunings for g in t["grid"]],
            "chosen": [c for t in tunings for c in t["chosen"]],
        }
        if tunings
        else None
    )
    out["figures"] = [f for d in parts for f in d.get("figures", [])]
    with_nl = next((d for d in parts if d.get("nonlinear_inn")), None)
    if with_nl is not None:
        out["nonlinear_inn"] = with_nl["nonlinear_inn"]
        out["nonlinear_note"] = with_nl["nonlinear_note"]
    out["fid"] = dict(first["fid"])
    out["fid"]["available"] = all(d["fid"]["available"] for d in parts)
    out["merged_from"] = [
        {"created": d["created"], "sigmas": d["sigmas"], "degradations": d["degradations"]} for d in parts
    ]
    out["created"] = max(d["created"] for d in parts)
    if replaced:
        out["superseded"] = replaced
    return out


# ------------------------------------------------------------------------------------------ command line
def _floats(text: str, option: str) -> list[float]:
    from innverse.apps.superres import check_noise

    try:
        vals = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{option}: expected comma-separated numbers, got {text!r}") from None
    if not vals:
        raise UserError(f"{option}: give at least one value")
    return [check_noise(v, option) for v in vals]


def _zetas(text: str | None) -> dict:
    """``indigo=1.0:normalized,dps=2`` -> ``{(method, sigma): (zeta, schedule)}`` for every sigma."""
    out: dict = {}
    if not text:
        return out
    for part in text.split(","):
        name, _, val = part.partition("=")
        z, _, sched = val.partition(":")
        name = name.strip()
        if name not in ("indigo", "dps") or not z:
            raise UserError(
                f"--zeta: expected METHOD=ZETA[:SCHEDULE] with METHOD indigo or dps, got {part!r}"
            )
        try:
            zf = float(z)
        except ValueError:
            raise UserError(f"--zeta: {z!r} is not a number") from None
        out[name] = (zf, sched or "normalized")
    return out


def add_superres_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``innverse benchmark superres`` (:func:`run_superres_from_args` runs them)."""
    from innverse.apps.superres import DEFAULT_PRIOR, DEFAULT_SAMPLER, DEFAULT_STEPS, METHODS, SHIPPED_INNS

    p.add_argument("--out", required=True, metavar="DIR", help="folder for superres.md/.json and the figures")
    p.add_argument(
        "--prior",
        default=DEFAULT_PRIOR,
        metavar="NAME_OR_FOLDER",
        help=f"diffusion prior (default {DEFAULT_PRIOR}; 'gaussian': the exact eps-model of a Gaussian "
        "fitted to the training images, a training-free stand-in)",
    )
    p.add_argument(
        "--inn",
        default=SHIPPED_INNS["average"],
        metavar="NAME_OR_FOLDER",
        help=f"INDigo INN for 4x averaging (default {SHIPPED_INNS['average']}; haar: the untrained INN, "
        "exact for averaging)",
    )
    p.add_argument(
        "--nonlinear-inn",
        default="indigo-sr4nl-fmnist",
        metavar="NAME_OR_FOLDER",
        help="INDigo INN for the non-linear degradation; 'none': no non-linear table "
        "(default indigo-sr4nl-fmnist)",
    )
    p.add_argument("--methods", default=",".join(METHODS), metavar="LIST", help="methods (default: all)")
    p.add_argument(
        "--noise",
        default=",".join(f"{s:g}" for s in SIGMAS),
        metavar="LIST",
        help="noise levels sigma_y on the [0, 1] scale (default 0,0.05,0.1)",
    )
    p.add_argument("--images", type=int, default=500, metavar="N", help="test images (default 500)")
    p.add_argument(
        "--seed", type=int, default=0, metavar="K", help="image choice and sampling seed (default 0)"
    )
    p.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"sampling steps = network evaluations (default {DEFAULT_STEPS})",
    )
    p.add_argument(
        "--sampler",
        choices=("ddpm", "ddim"),
        default=DEFAULT_SAMPLER,
        help=f"steps the guided methods follow (default {DEFAULT_SAMPLER})",
    )
    p.add_argument(
        "--eta",
        type=float,
        metavar="E",
        help="DDIM eta of the guided methods and ILVR (with --sampler ddim); DDRM keeps its eta 0.85",
    )
    p.add_argument(
        "--zeta", metavar="LIST", help="step sizes, e.g. indigo=1:normalized,dps=2 (default: tuned)"
    )
    p.add_argument(
        "--tune",
        type=int,
        default=0,
        metavar="N",
        help="choose zeta per method and sigma_y on N training images first (default 0: the defaults)",
    )
    p.add_argument(
        "--classifier",
        default="fmnist-classifier",
        metavar="NAME_OR_FOLDER",
        help="feature network of FID (local); 'none' to skip (default fmnist-classifier)",
    )
    p.add_argument("--batch-size", type=int, default=50, metavar="N", help="images per batch (default 50)")
    p.add_argument(
        "--figure-images", type=int, default=6, metavar="N", help="rows of the figure grids (default 6)"
    )
    p.add_argument("--data", metavar="DIR", help="Fashion-MNIST folder (default: <data root>/fashion-mnist)")
    p.add_argument(
        "--degradations",
        type=lambda t: [v.strip() for v in t.split(",") if v.strip()],
        default=["average", "nonlinear"],
        metavar="LIST",
        help="tables to measure: average, nonlinear or both (default average,nonlinear)",
    )
    p.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="measure nothing: merge these superres.json files of like runs (e.g. one per sigma_y) into "
        "one report in --out",
    )
    p.add_argument(
        "--supersede",
        action="store_true",
        help="with --merge: a method measured in two files keeps the later file's row",
    )
    add_runtime_arguments(p)
    return p


def _merge_files(files: Sequence[str], out: str, supersede: bool = False) -> int:
    import json
    import shutil

    from innverse.bench.report import json_text, output_folder, write_text

    parts = []
    for f in files:
        try:
            parts.append(json.loads(Path(f).read_text()))
        except OSError as e:
            raise UserError(f"--merge: cannot read {f} ({e.strerror or e})") from None
        except ValueError:
            raise UserError(f"--merge: {f} is not JSON") from None
        if not isinstance(parts[-1], dict) or parts[-1].get("benchmark") != "superres":
            raise UserError(f"--merge: {f} is not a superres benchmark result")
    data = merge_superres(parts, supersede=supersede)
    folder = output_folder(out)
    text = render_superres_markdown(data)
    figures: list[Path] = []
    sources: set[Path] = set()
    for f in data["figures"]:  # copied beside the merged report, when the files are there
        src = Path(f)
        if src.is_file() and src.resolve() not in sources:
            sources.add(src.resolve())
            dest = folder / src.name
            if dest in figures:  # two runs drew the same table (other methods): keep both, by run folder
                dest = folder / f"{src.parent.name}-{src.name}"
            if src.resolve() != dest.resolve():
                shutil.copyfile(src, dest)
            figures.append(dest)
    data["figures"] = [str(f) for f in figures]
    write_text(folder / "superres.md", text + "".join(f"\n![{f.name}]({f.name})\n" for f in figures))
    write_text(folder / "superres.json", json_text(data))
    print(text.split("\nNotes:")[0])
    return 0


def run_superres_from_args(args: argparse.Namespace, log: Callable[[str], Any] | None = None) -> int:
    """Run ``innverse benchmark superres`` from parsed :func:`add_superres_arguments` options."""
    from innverse.apps.superres import METHODS, load_inn
    from innverse.bench.options import parse_names
    from innverse.bench.report import log_stderr

    log = log or log_stderr
    if args.merge:
        return _merge_files(args.merge, args.out, args.supersede)
    methods = parse_names(args.methods, METHODS, "--methods")
    if not args.degradations or set(args.degradations) - {"average", "nonlinear"}:
        raise UserError(f"--degradations: expected average, nonlinear or both, got {args.degradations}")
    if "nonlinear" not in args.degradations:
        args.nonlinear_inn = "none"
    sigmas = _floats(args.noise, "--noise")
    for opt, v, lo in (
        ("--images", args.images, 1),
        ("--steps", args.steps, 1),
        ("--batch-size", args.batch_size, 1),
        ("--tune", args.tune, 0),
        ("--seed", args.seed, 0),
        ("--figure-images", args.figure_images, 0),
    ):
        if v < lo:
            raise UserError(f"{opt} must be >= {lo}, got {v}")
    dev = apply_runtime(args)
    zeta_by_method = _zetas(args.zeta)
    zeta = {(m, s): v for m, v in zeta_by_method.items() for s in sigmas}
    prior = load_prior_spec(args.prior, args.data, dev)
    inn = load_inn(args.inn, 4, dev)
    nl_inn, nl_note = None, ""
    if str(args.nonlinear_inn).lower() != "none":
        try:
            nl_inn = load_inn(args.nonlinear_inn, 4, dev)
        except UserError as e:
            nl_note = str(e)
            log(f"superres: no non-linear table: {e}")
    else:
        nl_note = "--nonlinear-inn none"
    net, note = load_feature_net(args.classifier, dev)
    if net is None:
        log(f"superres: {note}")
    data = run_superres_benchmark(
        prior,
        args.prior,
        inn,
        args.out,
        methods,
        sigmas,
        args.images,
        args.seed,
        args.steps,
        args.sampler,
        args.eta,
        args.batch_size,
        dev,
        net,
        note,
        nl_inn,
        nl_note,
        args.tune,
        zeta,
        args.figure_images,
        args.data,
        log,
        skip_average=args.degradations == ["nonlinear"],
    )
    print(Path(args.out, "superres.md").read_text().split("\nNotes:")[0])
    return 0 if data else 1
