"""Glow on Fashion-MNIST: test bits/dim, the paper's ablation, normflows side by side, memory, samples.

``innverse benchmark glow`` measures, on the Fashion-MNIST test split (``--test-images``, default all
of the shared copy's 5,000), with the Glow paper's bits/dim (seeded uniform dequantisation,
:meth:`innverse.models.glow.Glow.bits_per_dim`):

* **models** -- test bits/dim of ``--model`` (default ``glow-fmnist``) and an independent-pixel
  histogram model (256-bin histogram per pixel from the 55,000 training images, add-one smoothing;
  a discrete model, so its bits/dim need no dequantisation);
* **samples** -- grids at temperatures 0.5, 0.7, 0.8, 1.0, with the count of non-finite values
  before the [0, 1] clip;
* **ablation** (``--ablation-steps N``) -- the Glow paper's Fig. 3 comparison at equal steps:
  additive vs affine coupling x reverse / shuffle / 1x1 convolution, each trained from the same seed
  on the same batches for N steps (:class:`~innverse.train.tasks.glow.GlowTask`), test bits/dim;
* **normflows** (``--normflows-seconds S``) -- normflows 1.7's Glow (``GlowBlock`` = ActNorm, LU
  1x1 conv, affine coupling with the same 3x3-1x1-3x3 ReLU network, zero-initialised; ``Squeeze``,
  ``Merge``, ``GlowBase``; ``MultiscaleFlow``) with the same levels, steps and width, and ours,
  trained from the same seed on the same dequantised batches, one step of each in turn, each until
  its own training time reaches S seconds; test bits/dim and seconds per step.  What differs is
  listed in the report (normflows' coupling scale is ``sigmoid(raw + 2)``, ours ``exp(2 tanh(raw /
  2))``; normflows' factored-out latents have a learned per-channel Gaussian, ours a Gaussian
  conditioned on the kept half);
* **memory** -- activation memory of one training step with and without
  :class:`~innverse.nn.InvertibleCheckpoint`: bytes of the tensors saved for backward (exact, by
  autograd's saved-tensor hooks) and the peak resident memory of a fresh process doing one step.

Preprocessing: every model this benchmark trains or builds (ablation, both sides of the normflows
comparison, memory test) uses one preprocessing of the dequantised ``x`` in [0, 1], ``--preprocess
center|logit`` and ``--alpha A``, by default those of the ``--model`` configs (models that disagree
need the options; the models table lists each model's own).  ``center`` is Glow's ``x - 1/2``
(log-det 0; for normflows applied before its flow); ``logit`` is RealNVP's
``y = logit(alpha + (1 - 2 alpha) x)`` with its exact log-det inside the bijection -- ours
:class:`~innverse.models.glow.Glow`'s ``preprocess="logit"``, normflows' its own
``normflows.transforms.Logit(alpha)`` as ``MultiscaleFlow``'s ``transform`` (the same formula and
log-det).  Either way both report bits/dim of the same ``x`` by the same formula.

Writes ``glow.md``, ``glow.json`` and ``glow_samples_T*.png`` into ``--out``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from innverse.bench.options import add_runtime_arguments, apply_runtime
from innverse.errors import UserError
from innverse.models.glow import DEFAULT_ALPHA, check_preprocess

__all__ = [
    "histogram_bpd",
    "resolve_preprocess",
    "dataset_bpd",
    "normflows_glow",
    "normflows_bits_per_dim",
    "train_steps",
    "side_by_side",
    "ablation",
    "saved_activation_bytes",
    "peak_memory",
    "benchmark_glow",
    "render_glow",
    "add_glow_arguments",
    "run_glow",
]

Log = Callable[[str], Any] | None
LN2 = math.log(2.0)


def histogram_bpd(train: np.ndarray, test: np.ndarray, alpha: float = 1.0) -> float:
    """Bits/dim of an independent-pixel model: per pixel a 256-bin histogram of ``train`` (uint8
    ``(N, H, W)``) with ``alpha`` added to every bin, evaluated on ``test``."""
    n, h, w = train.shape
    flat = train.reshape(n, -1).astype(np.int64)
    counts = np.zeros((h * w, 256), dtype=np.float64)
    for j in range(h * w):
        counts[j] = np.bincount(flat[:, j], minlength=256)
    prob = (counts + alpha) / (n + 256 * alpha)
    t = test.reshape(len(test), -1).astype(np.int64)
    logp = np.log2(prob[np.arange(h * w)[None, :], t])
    return float(-logp.mean())


def dataset_bpd(model: Any, images: Tensor, seed: int = 0, batch: int = 250) -> float:
    """Mean bits/dim of ``model`` (anything with Glow's ``bits_per_dim(images, seed)``) on uint8
    ``images`` (N, 1, H, W); batch ``k`` is dequantised with seed ``seed + k`` (the same noise for every
    model)."""
    total = 0.0
    for k, s in enumerate(range(0, len(images), batch)):
        total += float(model.bits_per_dim(images[s : s + batch], seed=seed + k).sum())
    return total / len(images)


# ------------------------------------------------------------------------------ normflows' Glow
def normflows_glow(
    levels: int,
    steps: int,
    width: int,
    size: tuple[int, int] = (28, 28),
    channels: int = 1,
    preprocess: str = "center",
    alpha: float = 0.05,
) -> nn.Module:
    """normflows 1.7's multi-scale Glow (its documented recipe) with ``levels``, ``steps`` blocks per
    level and ``width`` hidden channels.

    ``preprocess="center"``: no ``transform``; its ``log_prob`` takes images centred on 0 (``x - 1/2``,
    log-det 0; :func:`normflows_bits_per_dim` centres).  ``preprocess="logit"``: ``transform`` is
    normflows' ``transforms.Logit(alpha)``, whose inverse (data -> latent) is RealNVP's
    ``logit(alpha + (1 - 2 alpha) x)`` with log-det ``sum log((1 - 2 alpha) / (p (1 - p)))``, so
    ``log_prob`` takes ``x`` in [0, 1] itself.
    """
    check_preprocess(preprocess, alpha)
    try:
        import normflows as nf  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - depends on the environment
        raise UserError(
            "the normflows peer needs normflows 1.7 (pip install normflows; benchmark-only)"
        ) from None
    h, w = size
    flows, merges, q0 = [], [], []
    for i in range(levels):
        level = [
            nf.flows.GlowBlock(channels * 2 ** (levels + 1 - i), width, split_mode="channel", scale=True)
            for _ in range(steps)
        ]
        level.append(nf.flows.Squeeze())
        flows.append(level)
        if i > 0:
            merges.append(nf.flows.Merge())
            shape = (channels * 2 ** (levels - i), h // 2 ** (levels - i), w // 2 ** (levels - i))
        else:
            shape = (channels * 2 ** (levels + 1), h // 2**levels, w // 2**levels)
        q0.append(nf.distributions.GlowBase(shape))
    transform = nf.transforms.Logit(alpha=alpha) if preprocess == "logit" else None
    return nf.MultiscaleFlow(q0, flows, merges, transform=transform, class_cond=False)


def normflows_bits_per_dim(model: Any, x: Tensor) -> Tensor:
    """Bits/dim of dequantised ``x`` in [0, 1] under a :func:`normflows_glow` flow (the same formula as
    ours): ``x`` is centred when the flow has no ``transform``, else its transform maps ``x``."""
    d = x[0].numel()
    z = x - 0.5 if getattr(model, "transform", None) is None else x
    return (-model.log_prob(z, None) + d * math.log(256.0)) / (d * LN2)


def resolve_preprocess(
    configs: Sequence[dict[str, Any]], preprocess: str | None = None, alpha: float | None = None
) -> tuple[str, float]:
    """The preprocessing ``(preprocess, alpha)`` of the models this benchmark trains: the given
    values, else those of the Glow ``configs`` (configs without the keys are ``center``, alpha 0.05);
    configs that disagree on a value not given are an error."""
    found = sorted(
        {(str(c.get("preprocess", "center")), float(c.get("alpha", DEFAULT_ALPHA))) for c in configs}
    )
    if preprocess is None:
        kinds = sorted({p for p, _ in found})
        if len(kinds) > 1:
            raise UserError(
                f"the models use different preprocessings ({', '.join(kinds)}); pass --preprocess "
                "(and --alpha) for the ablation, normflows and memory parts"
            )
        preprocess = kinds[0] if kinds else "center"
    if alpha is None and preprocess == "center":
        alpha = DEFAULT_ALPHA  # unused by center; kept for the record
    if alpha is None:
        alphas = sorted({a for p, a in found if p == preprocess}) or [DEFAULT_ALPHA]
        if len(alphas) > 1:
            raise UserError(
                f"the {preprocess} models use different alphas ({', '.join(f'{a:g}' for a in alphas)}); "
                "pass --alpha"
            )
        alpha = alphas[0]
    check_preprocess(preprocess, alpha)
    return preprocess, float(alpha)


class _NormflowsBPD:
    """``bits_per_dim(images, seed)`` for a normflows model, dequantised exactly like ours
    (:meth:`innverse.models.glow.Glow.bits_per_dim`: float64 ``(x + u) / 256``, ``u`` from
    ``torch.Generator().manual_seed(seed)``, cast to float32)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def bits_per_dim(self, images: Tensor, seed: int = 0) -> Tensor:
        g = torch.Generator().manual_seed(int(seed))
        u = torch.rand(images.shape, generator=g, dtype=torch.float64)
        x = ((images.double() + u) / 256.0).float()
        with torch.no_grad():
            return normflows_bits_per_dim(self.model, x).double()


# ------------------------------------------------------------------------------ training helpers
def _task(data: str | None, levels: int, steps: int, width: int, seed: int, **kw: Any):
    from innverse.train.tasks.glow import GlowTask, GlowTrainConfig

    cfg = GlowTrainConfig(
        data=data or "fashion-mnist", levels=levels, steps_per_level=steps, width=width, val_images=0, **kw
    )
    task = GlowTask(cfg, seed=seed)
    task.check()
    task.prepare(0, 1)
    return task


def _lr(step: int, lr: float, warmup: int = 200) -> float:
    return lr * min(1.0, (step + 1) / warmup)


def train_steps(
    task: Any,
    model: nn.Module,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    clip: float = 50.0,
    log: Log = None,
    name: str = "",
) -> dict[str, Any]:
    """``steps`` Adam steps of ``model`` on ``task``'s batches (warm-up 200 steps, then constant)."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr(step, lr)
        loss, _ = task.loss(model, task.batch(step, batch_size, (0, 1)), step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()), clip)
        opt.step()
        if log and (step + 1) % 100 == 0:
            log(f"  {name} step {step + 1}/{steps}: {float(loss):.4f} bits/dim")
    return {"seconds": time.perf_counter() - t0, "steps": steps, "final_train_bpd": float(loss)}


def side_by_side(
    task: Any,
    seconds: float,
    levels: int,
    steps: int,
    width: int,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 1e-3,
    clip: float = 50.0,
    log: Log = None,
    preprocess: str = "center",
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Our Glow and normflows' Glow of the same size and preprocessing, trained in turn on the same
    batches until each has used ``seconds`` of its own step time (same seed, optimiser, schedule and
    clipping)."""
    from innverse.models.glow import Glow

    size = list(task.train_images.shape[1:])
    torch.manual_seed(seed)
    ours = Glow(1, levels, steps, width, image_size=size, preprocess=preprocess, alpha=alpha).train()
    torch.manual_seed(seed)
    peer = normflows_glow(levels, steps, width, (size[0], size[1]), preprocess=preprocess, alpha=alpha)
    peer.train()
    models = {"innverse": ours, "normflows": peer}
    opts = {k: torch.optim.Adam(m.parameters(), lr=lr) for k, m in models.items()}
    used = {k: 0.0 for k in models}
    done = {k: 0 for k in models}
    last = {k: float("nan") for k in models}
    step = 0
    while any(used[k] < seconds for k in models):
        b = task.batch(step, batch_size, (0, 1))
        for k, m in models.items():
            if used[k] >= seconds:
                continue
            for g in opts[k].param_groups:
                g["lr"] = _lr(step, lr)
            t0 = time.perf_counter()
            if k == "innverse":
                loss, _ = task.loss(m, b, step)
            else:
                loss = normflows_bits_per_dim(m, b["x"]).mean()
            opts[k].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(m.parameters()), clip)
            opts[k].step()
            used[k] += time.perf_counter() - t0
            done[k] += 1
            last[k] = float(loss.detach())
            del loss
        step += 1
        if log and step % 100 == 0:
            log(
                f"  side by side step {step}: "
                + ", ".join(f"{k} {last[k]:.3f} bpd ({used[k]:.0f} s)" for k in models)
            )
    return {
        "models": models,
        "seconds": used,
        "steps": done,
        "seconds_per_step": {k: used[k] / max(done[k], 1) for k in models},
        "final_train_bpd": last,
        "params": {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()},
    }


def ablation(
    task: Any,
    steps: int,
    levels: int,
    k: int,
    width: int,
    test: Tensor,
    seed: int = 0,
    log: Log = None,
    preprocess: str = "center",
    alpha: float = 0.05,
) -> list[dict[str, Any]]:
    """The Glow paper's ablation at equal steps: {additive, affine} x {reverse, shuffle, 1x1}, all with
    the preprocessing ``preprocess`` / ``alpha``."""
    from innverse.models.glow import Glow

    rows = []
    for coupling in ("additive", "affine"):
        for perm in ("reverse", "shuffle", "1x1"):
            torch.manual_seed(seed)
            m = Glow(
                1,
                levels,
                k,
                width,
                coupling=coupling,
                permutation=perm,
                image_size=list(task.train_images.shape[1:]),
                seed=seed,
                preprocess=preprocess,
                alpha=alpha,
            )
            info = train_steps(task, m, steps, log=log, name=f"{coupling}/{perm}")
            m.eval()
            rows.append(
                {
                    "coupling": coupling,
                    "permutation": perm,
                    "test_bpd": dataset_bpd(m, test, seed=seed),
                    **info,
                }
            )
            if log:
                log(f"ablation {coupling}/{perm}: {rows[-1]['test_bpd']:.4f} bits/dim after {steps} steps")
    return rows


# ------------------------------------------------------------------------------ memory
def saved_activation_bytes(model: Any, x: Tensor) -> int:
    """Bytes of the distinct tensors autograd saves for backward in ``-log_prob(x).mean()`` (with
    InvertibleCheckpoint only the levels' outputs are saved; the recomputation happens in backward)."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t: Tensor) -> Tensor:
        try:
            key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
            seen[key] = t.untyped_storage().nbytes()
        except RuntimeError:  # pragma: no cover - tensors without storage
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = -model.log_prob(x).mean()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    total = sum(v for (ptr, _), v in seen.items() if ptr not in params)
    loss.backward()
    return int(total)


_PEAK_SCRIPT = """
import json, resource, sys, torch
torch.set_num_threads(1)
from innverse.models.glow import Glow


def high_water_kb():
    # VmHWM belongs to this process's address space; ru_maxrss would carry over the parent's peak
    # through fork + exec on Linux
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


levels, steps, width, batch, ckpt = map(int, sys.argv[1:6])
preprocess, alpha = sys.argv[6], float(sys.argv[7])
torch.manual_seed(0)
m = Glow(1, levels, steps, width, checkpoint=bool(ckpt), preprocess=preprocess, alpha=alpha).train()
x = torch.rand(batch, 1, 28, 28)
with torch.no_grad():
    m.log_prob(x[:2])  # ActNorm initialisation outside the measured step
m.zero_grad()
before = high_water_kb()
loss = -m.log_prob(x).mean()
loss.backward()
after = high_water_kb()
print(json.dumps({"rss_before_kb": before, "rss_peak_kb": after}))
"""


def peak_memory(
    levels: int,
    steps: int,
    width: int,
    batch: int,
    checkpoint: bool,
    preprocess: str = "center",
    alpha: float = 0.05,
) -> dict[str, int]:
    """Peak resident memory (kB) of a fresh process doing one training step (``VmHWM``)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _PEAK_SCRIPT,
            str(levels),
            str(steps),
            str(width),
            str(batch),
            str(int(checkpoint)),
            preprocess,
            repr(float(alpha)),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ the benchmark
def benchmark_glow(
    out: str | Path,
    models: Sequence[str] = ("glow-fmnist",),
    data: str | None = None,
    test_images: int | None = None,
    temperatures: Sequence[float] = (0.5, 0.7, 0.8, 1.0),
    ablation_steps: int = 0,
    ablation_size: tuple[int, int, int] = (2, 4, 64),
    normflows_seconds: float = 0.0,
    normflows_size: tuple[int, int, int] = (2, 8, 128),
    memory_batch: int = 64,
    seed: int = 0,
    log: Log = print,
    preprocess: str | None = None,
    alpha: float | None = None,
) -> dict[str, Any]:
    """Run the Glow measurements (see the module docstring); returns and writes the results.

    ``preprocess`` / ``alpha`` (of the ablation, normflows and memory parts) default to the models'
    (:func:`resolve_preprocess`)."""
    from innverse.bench.environment import environment
    from innverse.bench.report import json_text, output_folder, write_text
    from innverse.data.fashion_mnist import load_fashion_mnist
    from innverse.data.io import write_image
    from innverse.models import load_model
    from innverse.models.glow import Glow

    if preprocess is not None or alpha is not None:
        check_preprocess(preprocess or "center", DEFAULT_ALPHA if alpha is None else alpha)
    loaded = []
    for name in models:
        m = load_model(name)
        if not isinstance(m, Glow):
            raise UserError(f"{name}: not a Glow model")
        loaded.append((name, m))
    trains = bool(ablation_steps or normflows_seconds or memory_batch)
    pre, alp = resolve_preprocess([m.config for _, m in loaded], preprocess, alpha) if trains else ("", 0.0)
    d = output_folder(out)
    root = None if data in (None, "fashion-mnist") else data
    train_all = np.asarray(load_fashion_mnist("train", root=root)[0])
    test_np = np.asarray(load_fashion_mnist("test", root=root)[0])
    if test_images:
        test_np = test_np[:test_images]
    test = torch.from_numpy(test_np.copy())[:, None]
    res: dict[str, Any] = {
        "test_images": len(test),
        "environment": environment("cpu"),
        "models": [],
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seed": seed,
    }
    if trains:
        res["preprocess"] = {"preprocess": pre, "alpha": alp}
    res["histogram_bpd"] = histogram_bpd(train_all[:-5000], test_np)
    if log:
        log(f"independent-pixel histogram: {res['histogram_bpd']:.4f} bits/dim")
    for name, m in loaded:
        t0 = time.perf_counter()
        bpd = dataset_bpd(m, test, seed=seed)
        row: dict[str, Any] = {
            "model": name,
            "config": m.config,
            "params": m.num_parameters(),
            "test_bpd": bpd,
            "eval_seconds": time.perf_counter() - t0,
            "samples": [],
        }
        for temp in temperatures:
            raw = m.raw_sample(256, temp, generator=torch.Generator().manual_seed(seed))
            grid = m.sample_grid(64, temp, seed=seed, nrow=8)
            f = write_image(d / f"glow_samples_{Path(str(name)).name}_T{temp:g}.png", grid, force=True)
            row["samples"].append(
                {
                    "temperature": temp,
                    "non_finite": int((~torch.isfinite(raw)).sum()),
                    "mean": float(raw.clamp(0, 1).mean()),
                    "file": str(f),
                }
            )
        res["models"].append(row)
        if log:
            log(f"{name}: {bpd:.4f} bits/dim on {len(test)} test images")
    if ablation_steps:
        lv, k, w = ablation_size
        task = _task(data, lv, k, w, seed, preprocess=pre, alpha=alp)
        res["ablation"] = {
            "levels": lv,
            "steps_per_level": k,
            "width": w,
            "train_steps": ablation_steps,
            "rows": ablation(task, ablation_steps, lv, k, w, test, seed, log, pre, alp),
        }
    if normflows_seconds:
        lv, k, w = normflows_size
        task = _task(data, lv, k, w, seed, preprocess=pre, alpha=alp)
        sbs = side_by_side(task, normflows_seconds, lv, k, w, seed=seed, log=log, preprocess=pre, alpha=alp)
        rows = []
        for key, m in sbs["models"].items():
            m.eval()
            model = m if key == "innverse" else _NormflowsBPD(m)
            rows.append(
                {
                    "model": key,
                    "params": sbs["params"][key],
                    "steps": sbs["steps"][key],
                    "seconds": sbs["seconds"][key],
                    "seconds_per_step": sbs["seconds_per_step"][key],
                    "final_train_bpd": sbs["final_train_bpd"][key],
                    "test_bpd": dataset_bpd(model, test, seed=seed),
                }
            )
        res["normflows"] = {
            "levels": lv,
            "steps_per_level": k,
            "width": w,
            "budget_seconds": normflows_seconds,
            "rows": rows,
        }
    if memory_batch:
        lv, k, w = normflows_size
        x = torch.rand(memory_batch, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
        mem = {}
        for ck in (False, True):
            torch.manual_seed(seed)
            m = Glow(1, lv, k, w, checkpoint=ck, preprocess=pre, alpha=alp).train()
            with torch.no_grad():
                m.log_prob(x[:2])
            mem["checkpoint" if ck else "plain"] = {
                "saved_bytes": saved_activation_bytes(m, x),
                **peak_memory(lv, k, w, memory_batch, ck, pre, alp),
            }
        res["memory"] = {"levels": lv, "steps_per_level": k, "width": w, "batch": memory_batch, **mem}
    write_text(d / "glow.json", json_text(res))
    write_text(d / "glow.md", render_glow(res))
    return res


def render_glow(res: dict[str, Any]) -> str:
    """The Markdown report of :func:`benchmark_glow`."""
    from innverse.bench.report import machine_line, markdown_table

    n = res["test_images"]
    lines = [
        "# Glow on Fashion-MNIST",
        "",
        f"Test bits/dim on {n} test images (Glow paper's definition, seeded uniform dequantisation), "
        "of the dequantised image x in [0, 1] whatever the preprocessing (it is part of each bijection).",
        "",
    ]
    rows = [
        [r["model"], _preprocess_text(r["config"]), f"{r['params']:,}", f"{r['test_bpd']:.4f}"]
        for r in res["models"]
    ]
    rows.append(
        [
            "independent-pixel histogram (55,000 training images, add-one)",
            "- (discrete)",
            "-",
            f"{res['histogram_bpd']:.4f}",
        ]
    )
    lines += [markdown_table(["model", "preprocessing", "params", "test bits/dim"], rows), ""]
    if "preprocess" in res:
        pp = _preprocess_text(res["preprocess"])
        lines.append(
            f"Preprocessing of every model trained or built below (ablation, both sides of the normflows "
            f"comparison, memory test): {pp}."
        )
        other = [r["model"] for r in res["models"] if _preprocess_text(r["config"]) != pp]
        if other:
            lines.append(f"It is not that of {', '.join(other)}.")
        lines.append("")
    for r in res["models"]:
        s = ", ".join(f"T={x['temperature']:g}: {x['non_finite']} non-finite" for x in r["samples"])
        lines.append(f"Samples of {r['model']} (256 per temperature, before clipping): {s}.")
    if "ablation" in res:
        a = res["ablation"]
        lines += [
            "",
            f"## Ablation at equal steps ({a['train_steps']} steps, L={a['levels']}, "
            f"K={a['steps_per_level']}, "
            f"W={a['width']}, batch 64, same seed and batches)",
            "",
        ]
        lines.append(
            markdown_table(
                ["coupling", "permutation", "test bits/dim", "train s"],
                [
                    [r["coupling"], r["permutation"], f"{r['test_bpd']:.4f}", f"{r['seconds']:.0f}"]
                    for r in a["rows"]
                ],
            )
        )
    if "normflows" in res:
        nf = res["normflows"]
        lines += [
            "",
            f"## normflows 1.7 Glow, side by side (L={nf['levels']}, K={nf['steps_per_level']}, "
            f"W={nf['width']}, {nf['budget_seconds']:g} s of training each)",
            "",
        ]
        lines.append(
            markdown_table(
                ["model", "params", "steps", "s/step", "test bits/dim"],
                [
                    [
                        r["model"],
                        f"{r['params']:,}",
                        str(r["steps"]),
                        f"{r['seconds_per_step']:.3f}",
                        f"{r['test_bpd']:.4f}",
                    ]
                    for r in nf["rows"]
                ],
            )
        )
        pre = res.get("preprocess", {"preprocess": "center"})
        if pre["preprocess"] == "logit":
            how = (
                f"both map x in [0, 1] by logit(alpha + (1 - 2 alpha) x), alpha = {pre['alpha']:g}, with "
                "its exact log-det (ours inside the Glow bijection, normflows by its own "
                "transforms.Logit as MultiscaleFlow's transform)"
            )
        else:
            how = "both centre x in [0, 1] as x - 1/2 (log-det 0; for normflows before its flow)"
        lines += [
            "",
            f"Same: the preprocessing ({how}), the dequantised batches, seed, Adam, warm-up, gradient "
            "clipping, ActNorm (initialised on the first training batch), LU 1x1 convolution, the "
            "3x3-1x1-3x3 ReLU coupling network (last layer zero-initialised), squeeze, the per-channel "
            "top prior, and the bits/dim formula.",
            "",
            "What differs:",
            "",
            "* coupling scale: normflows sigmoid(raw + 2), ours exp(2 tanh(raw / 2));",
            "* factored-out latents: normflows a learned per-channel Gaussian, ours a Gaussian whose mean "
            "and log-scale are a zero-initialised 3x3 convolution of the kept half (hence the small "
            "difference in parameters);",
            "* prior parameters: normflows writes each per-channel mean and log-scale as a exp(3 b) (two "
            "zero-initialised parameters each, its logscale_factor 3), ours as one parameter.",
        ]
    if "memory" in res:
        m = res["memory"]
        mb = 1 / 2**20
        lines += [
            "",
            f"## Memory of one training step (L={m['levels']}, K={m['steps_per_level']}, W={m['width']}, "
            f"batch {m['batch']})",
            "",
        ]
        lines.append(
            markdown_table(
                ["backward", "saved for backward (MiB)", "peak RSS growth of the step (MiB)"],
                [
                    [
                        k,
                        f"{m[k]['saved_bytes'] * mb:.1f}",
                        f"{(m[k]['rss_peak_kb'] - m[k]['rss_before_kb']) / 1024:.1f}",
                    ]
                    for k in ("plain", "checkpoint")
                ],
            )
        )
    env = res["environment"]
    lines += ["", machine_line(env, res["created"], device=False), ""]
    return "\n".join(lines)


def _preprocess_text(cfg: dict[str, Any]) -> str:
    """``center`` or ``logit, alpha=A`` from a Glow config (or the result's ``preprocess`` entry)."""
    if cfg.get("preprocess", "center") == "logit":
        return f"logit, alpha={float(cfg.get('alpha', 0.05)):g}"
    return "center"


# --------------------------------------------------------------------------- command-line wiring
def add_glow_arguments(p: Any) -> None:
    """The options of ``innverse benchmark glow`` (for an argparse parser)."""
    p.add_argument("--out", required=True, metavar="DIR", help="folder for glow.md/.json/.png")
    p.add_argument(
        "--model", action="append", metavar="NAME_OR_PATH", help="Glow model (default glow-fmnist)"
    )
    p.add_argument(
        "--data", metavar="DIR", help="folder of the Fashion-MNIST IDX files (default: the data root's)"
    )
    p.add_argument("--test-images", type=int, metavar="N", help="use the first N test images (default all)")
    p.add_argument(
        "--ablation-steps",
        type=int,
        default=0,
        metavar="N",
        help="train the 6 ablation models N steps each (0: skip)",
    )
    p.add_argument(
        "--normflows-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="train ours and normflows' Glow S seconds each, side by side (0: skip)",
    )
    p.add_argument(
        "--size",
        type=int,
        nargs=3,
        default=(2, 8, 128),
        metavar=("L", "K", "W"),
        help="levels, steps per level, width of the normflows comparison and memory test",
    )
    p.add_argument(
        "--ablation-size",
        type=int,
        nargs=3,
        default=(2, 4, 64),
        metavar=("L", "K", "W"),
        help="levels, steps per level, width of the ablation models",
    )
    p.add_argument(
        "--memory-batch", type=int, default=64, metavar="B", help="batch of the memory test (0: skip)"
    )
    p.add_argument(
        "--preprocess",
        choices=("center", "logit"),
        help="preprocessing of the ablation, normflows and memory models: center (x - 1/2) or logit "
        "(logit(alpha + (1 - 2 alpha) x)); default: the --model's",
    )
    p.add_argument(
        "--alpha",
        type=float,
        metavar="A",
        help="alpha of --preprocess logit, in (0, 0.5); default: the --model's",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of training, dequantisation and samples")
    add_runtime_arguments(p, device=False)


def run_glow(args: Any) -> int:
    """Run ``innverse benchmark glow`` from parsed :func:`add_glow_arguments` options."""
    apply_runtime(args, device=False)
    if args.ablation_steps < 0 or args.normflows_seconds < 0 or args.memory_batch < 0:
        raise UserError("--ablation-steps, --normflows-seconds and --memory-batch must be >= 0")
    if args.alpha is not None and not (math.isfinite(args.alpha) and 0.0 < args.alpha < 0.5):
        raise UserError(f"--alpha {args.alpha}: must be in (0, 0.5)")
    res = benchmark_glow(
        args.out,
        models=args.model or ("glow-fmnist",),
        data=args.data,
        test_images=args.test_images,
        ablation_steps=args.ablation_steps,
        ablation_size=tuple(args.ablation_size),
        normflows_seconds=args.normflows_seconds,
        normflows_size=tuple(args.size),
        memory_batch=args.memory_batch,
        seed=args.seed,
        preprocess=args.preprocess,
        alpha=args.alpha,
    )
    print(render_glow(res))
    return 0
