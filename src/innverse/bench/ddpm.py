"""``innverse benchmark ddpm``: sample quality of a Fashion-MNIST diffusion prior, sampler by sampler.

Protocol (everything seeded; every sampler on the same prior, initial noise and reference images):

* **Samplers**: ``ddpm-K`` (ancestral DDPM on ``K`` respaced steps, ``K = T``: Ho et al.'s sampler)
  and ``ddim-K`` (deterministic DDIM, eta 0), "leading" spacing; ``K`` network evaluations per
  sample.  Default: DDPM-1000, DDIM-100, DDIM-50, DDIM-20.
* **Noise**: sample ``k`` has its own generator ``torch.Generator().manual_seed(mix_seeds(seed, k))``
  (:func:`innverse.sampling.mix_seeds`): its initial noise ``x_T`` is that generator's first draw,
  DDPM's step noise its next ones.  Every sampler therefore starts sample ``k`` from the same ``x_T``,
  and a sample does not depend on ``--batch`` nor on how many samples are drawn (the first ``n`` of
  a larger run are the ``n`` of a smaller one, up to floating-point differences of batched
  convolutions).
* **Samples** are 32x32 on [0, 1] (the prior's 28x28 Fashion-MNIST images padded by 2 pixels of
  background); they are quantised to 8 bits (as PNG files would hold them) and cropped back to the
  central 28x28 -- the classifier's input -- before scoring.
* **Reference images**: the first ``n`` images of the Fashion-MNIST test split (the shared copy holds
  5,000; the prior and the classifier train on none of them).  **Floor**: ``n`` training images
  chosen by ``torch.randperm(55000, generator=manual_seed(seed))`` from the first 55,000 (those the
  classifier trains on, and the prior too; the last 5,000 are the classifier's validation images).
  Their FID against the test images is what a perfect sampler would score with ``n`` samples.
* **Scores**: "FID (local features)" (:mod:`innverse.bench.frechet`): the Fréchet distance between
  Gaussians fitted to the classifier's penultimate features of the samples and of the test images --
  never comparable with published FIDs (those use an ImageNet Inception network); it depends on the
  sample count (biased upwards for fewer samples), so when samplers draw different counts every row
  is also scored on the first ``min`` samples against the first ``min`` test images.  The classifier
  also gives each sample its class probabilities: the mean top-class probability (the issue's
  criterion: >= 0.8), the class counts of the top classes and their entropy in bits (log2 10 = 3.32
  for a uniform spread; far less means mode collapse).  Seconds per sample: wall time of a batch
  (its sampling only) / its size, the samplers alternating batch by batch in one process.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from innverse.bench.options import add_runtime_arguments, apply_runtime
from innverse.errors import UserError

__all__ = [
    "DEFAULT_SAMPLERS",
    "DEFAULT_PRIOR",
    "DEFAULT_CLASSIFIER",
    "FID_LABEL",
    "CRITERION",
    "TRAIN_POOL",
    "SamplerSpec",
    "parse_samplers",
    "check_prior",
    "load_benchmark_prior",
    "load_benchmark_classifier",
    "fmnist_reference",
    "draw_samples",
    "score_images",
    "benchmark_ddpm",
    "render_ddpm_markdown",
    "render_ddpm_table",
    "add_ddpm_arguments",
    "run_ddpm_from_args",
]

#: the samplers of the issue's table
DEFAULT_SAMPLERS = ("ddpm-1000", "ddim-100", "ddim-50", "ddim-20")
DEFAULT_PRIOR = "ddpm-fmnist"
DEFAULT_CLASSIFIER = "fmnist-classifier"
#: the name the score goes by everywhere
FID_LABEL = "FID (local features)"
#: the issue's criterion on the mean top-class probability of the samples
CRITERION = 0.8
#: the training images the floor is drawn from (the first ones of the training file)
TRAIN_POOL = 55000
#: the image size of the protocol (Fashion-MNIST padded 28 -> 32) and the classifier's input
SIZE, CROP = 32, 28
#: namespace entries of the command line that are not options of the benchmark
_NOT_OPTIONS = ("command", "task")
_NOT_COMPARABLE = (
    f"{FID_LABEL} is the Fréchet distance on the penultimate features of this project's Fashion-MNIST "
    "classifier, not of the ImageNet Inception network of the standard FID: it is never comparable with "
    "published FIDs, only between rows measured here with the same classifier and sample count"
)


# ------------------------------------------------------------------------------------------ samplers
@dataclass(frozen=True)
class SamplerSpec:
    """One sampler of the table: ``kind`` ``"ddpm"`` or ``"ddim"`` (eta 0) on ``steps`` respaced steps."""

    kind: str
    steps: int

    @property
    def name(self) -> str:
        """``DDPM-1000``, ``DDIM-50``, ..."""
        return f"{self.kind.upper()}-{self.steps}"

    @property
    def key(self) -> str:
        """``ddpm-1000``, ``ddim-50``, ... (the option's spelling; file names)."""
        return f"{self.kind}-{self.steps}"


def parse_samplers(text: str | Sequence[str]) -> list[SamplerSpec]:
    """``"ddpm-1000,ddim-100"`` -> the samplers, in order; duplicates and unknown names refused."""
    items = [s.strip().lower() for s in (text.split(",") if isinstance(text, str) else text)]
    if not items or any(not s for s in items):
        raise UserError(f"--samplers: expected a comma-separated list like ddim-100,ddim-20, got {text!r}")
    out: list[SamplerSpec] = []
    for s in items:
        kind, _, steps = s.partition("-")
        if kind not in ("ddpm", "ddim") or not steps.isdigit() or int(steps) < 1:
            raise UserError(
                f"--samplers: unknown sampler {s!r} (expected ddpm-K or ddim-K with K >= 1 steps, "
                f"e.g. {','.join(DEFAULT_SAMPLERS)})"
            )
        spec = SamplerSpec(kind, int(steps))
        if spec in out:
            raise UserError(f"--samplers: {s} is listed twice")
        out.append(spec)
    return out


# ------------------------------------------------------------------------------------------ loading
def check_prior(prior: Any, samplers: Sequence[SamplerSpec], name: str = "the prior") -> None:
    """Refuse a prior this protocol cannot score: not 1-channel 32x32, or fewer steps than asked for."""
    c, s = int(getattr(prior, "channels", 0)), int(getattr(prior, "sample_size", 0))
    if (c, s) != (1, SIZE):
        raise UserError(
            f"{name}: makes {c}-channel {s}x{s} images; this benchmark needs a Fashion-MNIST prior of "
            f"1-channel {SIZE}x{SIZE} images"
        )
    T = int(prior.schedule.T)
    for spec in samplers:
        if spec.steps > T:
            raise UserError(f"--samplers {spec.key}: {name} has only {T} diffusion steps")


def load_benchmark_prior(spec: str, device: torch.device | str = "cpu") -> Any:
    """A prior by name or folder (:func:`innverse.diffusion.prior.load_prior`); a training run's folder
    stands for its exported ``model/``."""
    from innverse.diffusion.prior import load_prior

    s = str(spec).strip()
    if not s:
        raise UserError("--prior is empty (give a prior name or folder)")
    p = Path(s).expanduser()
    if p.is_dir() and not (p / "config.json").is_file() and (p / "model" / "config.json").is_file():
        s = str(p / "model")
    try:
        prior = load_prior(s, device)
    except UserError as e:
        raise UserError(f"--prior: {e}") from None
    prior.source = str(spec)
    return prior


def load_benchmark_classifier(spec: str, device: torch.device | str = "cpu") -> nn.Module:
    """The Fashion-MNIST classifier (shipped name, checkpoint folder, or a training run's folder), in
    eval mode; refuses a model that is not a classifier with penultimate ``features``."""
    from innverse.models import load_model
    from innverse.models.registry import kind_of

    s = str(spec).strip()
    if not s:
        raise UserError("--classifier is empty (give a classifier name or folder)")
    p = Path(s).expanduser()
    run_model = p / "model" / "model.safetensors"
    if p.is_dir() and not (p / "model.safetensors").is_file() and run_model.is_file():
        s = str(p / "model")
    try:
        net = load_model(s, device)
    except UserError as e:
        raise UserError(f"--classifier: {e}") from None
    kind = kind_of(net)
    if kind is None or kind.role != "classifier":
        what = f"a {kind.name} checkpoint ({kind.role})" if kind is not None else "not a known model kind"
        raise UserError(f"--classifier {spec}: is {what}, not a Fashion-MNIST classifier")
    if not (callable(getattr(net, "features", None)) and isinstance(getattr(net, "head", None), nn.Module)):
        raise UserError(f"--classifier {spec}: has no penultimate features to score with")
    return net.eval()


def fmnist_reference(
    n: int, n_floor: int, seed: int, root: str | Path | None = None
) -> tuple[Tensor, Tensor, Tensor, list[int]]:
    """``(test, test_labels, train, train_indices)``: the first ``n`` test images and ``n_floor`` seeded
    training images from the first :data:`TRAIN_POOL`, each ``(N, 1, 28, 28)`` float32 on [0, 1]."""
    from innverse.data.fashion_mnist import load_fashion_mnist

    te, te_labels = load_fashion_mnist("test", root)
    tr, _ = load_fashion_mnist("train", root)
    if n > te.shape[0]:
        raise UserError(f"-n {n}: the Fashion-MNIST test split holds only {te.shape[0]} images")
    pool = min(TRAIN_POOL, tr.shape[0])
    if n_floor > pool:
        raise UserError(f"-n {n_floor}: the training pool holds only {pool} images")
    idx = torch.randperm(pool, generator=torch.Generator().manual_seed(int(seed)))[:n_floor].tolist()

    def f(a: np.ndarray) -> Tensor:
        return torch.from_numpy(a.astype(np.float32) / np.float32(255.0))[:, None]

    return f(te[:n]), torch.from_numpy(te_labels[:n].astype(np.int64)), f(tr[idx]), [int(i) for i in idx]


# ------------------------------------------------------------------------------------------ sampling
def _generators(seed: int, first: int, count: int) -> list[torch.Generator]:
    from innverse.sampling import mix_seeds

    return [torch.Generator().manual_seed(mix_seeds(int(seed), k)) for k in range(first, first + count)]


@torch.no_grad()
def draw_samples(
    prior: Any, spec: SamplerSpec, first: int, count: int, seed: int, device: torch.device | str = "cpu"
) -> Tensor:
    """Samples ``first .. first + count - 1`` of ``spec`` (module docstring), ``(count, C, S, S)`` CPU
    float32 on [0, 1]: one batch, each sample with its own seeded generator."""
    dev = torch.device(device)
    gens = _generators(seed, first, count)
    shape = (prior.channels, prior.sample_size, prior.sample_size)
    x = torch.stack([torch.randn(shape, generator=g) for g in gens]).to(dev)
    smp = prior.sampler(spec.kind, spec.steps, eta=0.0)
    for t in smp.timesteps.tolist():
        out = prior(x, torch.full((count,), t, device=dev, dtype=torch.int64)).to(x.dtype)
        # the step is element-wise: row by row, each sample draws its noise from its own generator
        x = torch.cat([smp.step(out[k : k + 1], t, x[k : k + 1], gens[k])[0] for k in range(count)])
    return ((x.float().cpu() + 1) / 2).clamp(0, 1)


def _to_classifier_input(images: Tensor) -> Tensor:
    """32x32 samples -> 8-bit quantised, central 28x28 crop (real 28x28 images pass through)."""
    x = (images.float().clamp(0, 1) * 255).round() / 255
    if x.shape[-1] == SIZE:
        m = (SIZE - CROP) // 2
        x = x[..., m : m + CROP, m : m + CROP]
    return x


@torch.no_grad()
def score_images(
    net: nn.Module, images: Tensor, device: torch.device | str = "cpu", batch: int = 500
) -> dict:
    """Penultimate ``features`` ``(N, D)`` (float64, CPU) and class probabilities ``(N, 10)`` of
    ``images`` (32x32 samples or 28x28 images on [0, 1])."""
    dev = torch.device(device)
    m: Any = net  # a classifier of innverse.models.classifier: features(x), head(features)
    x = _to_classifier_input(images)
    feats, probs = [], []
    for i in range(0, x.shape[0], batch):
        f = m.features(x[i : i + batch].to(dev))
        probs.append(torch.softmax(m.head(f), dim=1).double().cpu())
        feats.append(f.double().cpu())
    return {"features": torch.cat(feats), "probs": torch.cat(probs)}


def _class_stats(probs: Tensor) -> dict:
    top_p, top_c = probs.max(dim=1)
    counts = torch.bincount(top_c, minlength=probs.shape[1])
    p = counts.double() / counts.sum()
    ent = float(-(p[p > 0] * p[p > 0].log2()).sum())
    return {
        "mean_top_class_probability": float(top_p.mean()),
        "class_counts": [int(c) for c in counts],
        "class_entropy_bits": ent,
        "per_sample": {
            "top_class": [int(c) for c in top_c],
            "top_probability": [round(float(v), 5) for v in top_p],
        },
    }


def _fid(a: Tensor, b: Tensor) -> float:
    from innverse.bench.frechet import frechet_distance, gaussian_stats

    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


# ------------------------------------------------------------------------------------------ benchmark
def benchmark_ddpm(
    prior: Any,
    classifier: nn.Module,
    out: str | Path,
    samplers: Sequence[SamplerSpec] = (),
    samples: int = 1000,
    samples_ddpm: int | None = None,
    seed: int = 0,
    batch: int = 100,
    device: torch.device | str = "cpu",
    data_root: str | Path | None = None,
    grid: int = 64,
    prior_name: str | None = None,
    classifier_name: str | None = None,
    options: dict | None = None,
    log: Callable[[str], Any] = lambda s: None,
) -> dict:
    """Run the benchmark (module docstring); write ``ddpm.md``, ``ddpm.json`` and one sample grid
    ``ddpm_<sampler>.png`` per sampler (plus ``ddpm_test-images.png``) into ``out``; return the data.

    ``samples_ddpm``: the sample count of the ``ddpm-*`` samplers (default ``samples``); ``grid``:
    samples per grid image (0: no grids).  Nothing is written before all sampling is done.
    """
    from innverse.bench.environment import environment
    from innverse.bench.report import json_text, output_folder, write_text
    from innverse.data.fashion_mnist import CLASSES
    from innverse.data.io import write_image
    from innverse.diffusion.images import image_grid

    specs = list(samplers) or parse_samplers(DEFAULT_SAMPLERS)
    n_ddpm = samples if samples_ddpm is None else samples_ddpm
    for opt, v in (("-n/--samples", samples), ("--samples-ddpm", n_ddpm)):
        if v < 2:
            raise UserError(f"{opt} must be >= 2 (a covariance needs two samples), got {v}")
    if n_ddpm > samples:
        raise UserError(f"--samples-ddpm ({n_ddpm}) must not exceed -n/--samples ({samples})")
    if batch < 1:
        raise UserError(f"--batch must be >= 1, got {batch}")
    if grid < 0:
        raise UserError(f"--grid must be >= 0, got {grid}")
    check_prior(prior, specs, prior_name or "the prior")
    if Path(out).exists() and not Path(out).is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    dev = torch.device(device)
    counts = {s: (n_ddpm if s.kind == "ddpm" else samples) for s in specs}
    test, test_labels, train, train_idx = fmnist_reference(samples, samples, seed, data_root)
    prior = prior.to(dev).eval()
    classifier = classifier.to(dev).eval()
    env = environment(dev)
    evals = sum(counts[s] * s.steps for s in specs)
    log(f"ddpm: {len(specs)} samplers, {evals:,} network evaluations in all, batch {batch}, {dev}")

    # sampling: the samplers alternate batch by batch (fair timings on a shared machine)
    outs: dict[SamplerSpec, list[Tensor]] = {s: [] for s in specs}
    secs: dict[SamplerSpec, list[float]] = {s: [] for s in specs}
    t_start = time.perf_counter()
    for b0 in range(0, samples, batch):
        for s in specs:
            if b0 >= counts[s]:
                continue
            b = min(batch, counts[s] - b0)
            t0 = time.perf_counter()
            outs[s].append(draw_samples(prior, s, b0, b, seed, dev))
            secs[s].append(time.perf_counter() - t0)
        done = min(samples, b0 + batch)
        left = sum(max(0, counts[s] - done) * s.steps for s in specs)
        spent = time.perf_counter() - t_start
        rate = spent / max(1, evals - left)
        log(f"ddpm: {done}/{samples} samples, {spent:.0f} s so far, about {left * rate:.0f} s left")

    # scores
    sc_test = score_images(classifier, test, dev)
    sc_train = score_images(classifier, train, dev)
    n_min = min(counts.values())
    unequal = len(set(counts.values())) > 1
    rows: list[dict] = []
    for s in specs:
        x = torch.cat(outs[s])
        sc = score_images(classifier, x, dev)
        n = counts[s]
        row = {
            "name": s.name,
            "kind": "sampler",
            "sampler": s.kind,
            "eta": 0.0 if s.kind == "ddim" else None,
            "steps": s.steps,
            "network_evaluations_per_sample": s.steps,
            "samples": n,
            "fid_local": _fid(sc["features"], sc_test["features"][:n]),
            "fid_local_at_min": (
                _fid(sc["features"][:n_min], sc_test["features"][:n_min]) if unequal else None
            ),
            **_class_stats(sc["probs"]),
            "seconds_per_sample": sum(secs[s]) / n,
            "seconds_total": sum(secs[s]),
            "batches": len(secs[s]),
        }
        row["meets_criterion"] = row["mean_top_class_probability"] >= CRITERION
        rows.append(row)
    rows.append(
        {
            "name": "training images",
            "kind": "floor",
            "samples": samples,
            "fid_local": _fid(sc_train["features"], sc_test["features"]),
            "fid_local_at_min": (
                _fid(sc_train["features"][:n_min], sc_test["features"][:n_min]) if unequal else None
            ),
            **_class_stats(sc_train["probs"]),
        }
    )
    rows.append(
        {
            "name": "test images",
            "kind": "reference",
            "samples": samples,
            "fid_local": None,
            "fid_local_at_min": None,
            **_class_stats(sc_test["probs"]),
        }
    )

    # files: grids, then the report
    folder = output_folder(out)
    figures: list[Path] = []
    if grid:
        nrow = max(1, math.ceil(math.sqrt(grid)))
        for s in specs:
            imgs = torch.cat(outs[s])[:grid]
            figures.append(write_image(folder / f"ddpm_{s.key}.png", image_grid(imgs, nrow), force=True))
        pad = (SIZE - CROP) // 2
        ref = torch.nn.functional.pad(test[:grid], (pad, pad, pad, pad))
        figures.append(write_image(folder / "ddpm_test-images.png", image_grid(ref, nrow), force=True))
    card = getattr(prior, "card", {}) or {}
    data = {
        "benchmark": "ddpm",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "fid_label": FID_LABEL,
        "fid_note": _NOT_COMPARABLE,
        "protocol": _protocol(samples, seed),
        "criterion": {
            "mean_top_class_probability_at_least": CRITERION,
            "met_by": [r["name"] for r in rows if r.get("meets_criterion")],
        },
        "prior": {
            "source": prior_name or str(getattr(prior, "source", "given")),
            "summary": str(card.get("summary", "")),
            "step": card.get("step"),
            "schedule": prior.scheduler_config if hasattr(prior, "scheduler_config") else None,
            "parameters": sum(p.numel() for p in prior.parameters()),
        },
        "classifier": {
            "source": classifier_name or str(getattr(classifier, "source", "given")),
            "kind": getattr(classifier, "kind", type(classifier).__name__),
            "feature_dim": int(sc_test["features"].shape[1]),
            "parameters": sum(p.numel() for p in classifier.parameters()),
            "test_accuracy": float((sc_test["probs"].argmax(1) == test_labels).double().mean()),
        },
        "classes": list(CLASSES),
        "samples": samples,
        "samples_ddpm": n_ddpm,
        "fid_min_samples": n_min if unequal else None,
        "seed": seed,
        "batch": batch,
        "test_images": f"Fashion-MNIST test split, images 0..{samples - 1}",
        "train_indices": train_idx,
        "environment": env,
        "wall_seconds": time.perf_counter() - t_start,
        "results": rows,
        "figures": [p.name for p in figures],
        "options": dict(options or {}),
    }
    md = folder / "ddpm.md"
    js = folder / "ddpm.json"
    write_text(md, render_ddpm_markdown(data))
    write_text(js, json_text(data))
    log("wrote " + ", ".join(str(p) for p in [md, js, *figures]))
    return data


def _protocol(samples: int, seed: int) -> str:
    return (
        "samples: sample k starts from the first draw of "
        f"torch.Generator().manual_seed(mix_seeds({seed}, k)) "
        "(the same x_T for every sampler; DDPM's step noise from the same generator); DDIM eta 0, "
        "'leading' timestep spacing; samples 32x32, quantised to 8 bits and cropped to the central 28x28; "
        f"reference: the first {samples} Fashion-MNIST test images; floor: {samples} training images "
        f"torch.randperm({TRAIN_POOL}, manual_seed({seed}))[:{samples}]; {FID_LABEL} of each row against "
        "the first as many test images; s/sample = wall time of the batches / samples, samplers alternating "
        "batch by batch"
    )


# ------------------------------------------------------------------------------------------ report
def _f(v: float | None, fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def render_ddpm_table(data: dict) -> str:
    """The main Markdown table of a :func:`benchmark_ddpm` result."""
    from innverse.bench.report import markdown_table

    env = data["environment"]
    at_min = data.get("fid_min_samples")
    header = ["sampler", "steps", "samples", FID_LABEL]
    header += [f"{FID_LABEL} @ {at_min}"] if at_min else []
    header += [
        "mean top-class prob.",
        f">= {CRITERION:g}",
        "class entropy (bits)",
        f"s/sample ({env['threads']} thr., {env['device']})",
    ]
    rows = []
    for r in data["results"]:
        row = [
            r["name"] + (" (floor)" if r["kind"] == "floor" else ""),
            str(r["steps"]) if "steps" in r else "-",
            str(r["samples"]),
            _f(r["fid_local"]) if r["kind"] != "reference" else "(reference)",
        ]
        if at_min:
            row.append(_f(r["fid_local_at_min"]) if r["kind"] != "reference" else "(reference)")
        row += [
            f"{r['mean_top_class_probability']:.3f}",
            ("yes" if r["meets_criterion"] else "no") if "meets_criterion" in r else "-",
            f"{r['class_entropy_bits']:.3f}",
            f"{r['seconds_per_sample']:.3g}" if "seconds_per_sample" in r else "-",
        ]
        rows.append(row)
    return markdown_table(header, rows)


def render_ddpm_markdown(data: dict) -> str:
    """The whole ``ddpm.md``: the table, the class counts, the notes and the sample grids."""
    from innverse.bench.report import markdown_table

    short = [c.split("/")[0] for c in data["classes"]]
    counts = markdown_table(
        ["", *short], [[r["name"], *(str(c) for c in r["class_counts"])] for r in data["results"]]
    )
    env = data["environment"]
    git = env.get("git")
    code = f", code {git['commit'][:12]}{' (modified)' if git['dirty'] else ''}" if git else ""
    pr, cl = data["prior"], data["classifier"]
    notes = [
        f"- {data['fid_note']}.",
        f"- The floor: {data['samples']} training images against the same test images -- what a sampler "
        "that reproduced the data distribution would score with this sample count.",
        f"- Criterion (the issue's): mean top-class probability >= {CRITERION:g} under the classifier; "
        "class entropy: of the classifier's top-class counts (log2 10 = 3.32 for an even spread).",
        f"- Protocol: {data['protocol']}.",
        f"- Prior: {pr['source']} ({pr['parameters']:,} parameters"
        + (f", trained {pr['step']} steps" if pr.get("step") else "")
        + f"); classifier: {cl['source']} ({cl['kind']}, {cl['feature_dim']}-d features, "
        f"accuracy {100 * cl['test_accuracy']:.2f}% on the {data['samples']} test images).",
    ]
    if data.get("fid_min_samples"):
        notes.append(
            f"- The samplers draw different counts: '{FID_LABEL} @ {data['fid_min_samples']}' scores every "
            f"row on its first {data['fid_min_samples']} samples against the first "
            f"{data['fid_min_samples']} test images (comparable across rows; FID grows as counts shrink)."
        )
    notes.append(
        f"- Measured with torch {env['torch']}, {env['threads']} thread(s), device {env['device']}, "
        f"{env['cpu']} ({env['cpu_count']} cores, load average {env.get('load_average_at_start', '?')} at "
        f"the start){code}, {data['created']}; {data['wall_seconds']:.0f} s in all."
    )
    parts = [
        "# Diffusion prior: sample quality on Fashion-MNIST",
        "",
        render_ddpm_table(data),
        "",
        "Class counts (the classifier's top class):",
        "",
        counts,
        "",
        "Notes:",
        "",
        *notes,
        "",
    ]
    parts += [f"![{f}]({f})\n" for f in data["figures"]]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------ command line
def add_ddpm_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``innverse benchmark ddpm`` (:func:`run_ddpm_from_args` runs them)."""
    p.add_argument("--out", required=True, metavar="DIR", help="folder for ddpm.md/.json and the grids")
    p.add_argument(
        "--prior",
        default=DEFAULT_PRIOR,
        metavar="NAME_OR_FOLDER",
        help=f"diffusion prior: shipped name, prior folder or training run (default {DEFAULT_PRIOR})",
    )
    p.add_argument(
        "--classifier",
        default=DEFAULT_CLASSIFIER,
        metavar="NAME_OR_PATH",
        help=f"Fashion-MNIST classifier: the features of {FID_LABEL} and the top-class probability "
        f"(default {DEFAULT_CLASSIFIER})",
    )
    p.add_argument(
        "-n", "--samples", type=int, default=1000, metavar="N", help="samples per sampler (default 1000)"
    )
    p.add_argument(
        "--samples-ddpm",
        type=int,
        metavar="N",
        help="samples of the ddpm-K samplers (default -n; DDPM-1000 costs 1000 evaluations a sample)",
    )
    p.add_argument(
        "--samplers",
        default=",".join(DEFAULT_SAMPLERS),
        metavar="LIST",
        help=f"ddpm-K / ddim-K, comma-separated (default {','.join(DEFAULT_SAMPLERS)})",
    )
    p.add_argument("--seed", type=int, default=0, metavar="K", help="noise and floor-image seed (default 0)")
    p.add_argument("--batch", type=int, default=100, metavar="N", help="samples per batch (default 100)")
    p.add_argument(
        "--grid", type=int, default=64, metavar="N", help="samples per grid PNG (0: none; default 64)"
    )
    p.add_argument("--data", metavar="DIR", help="Fashion-MNIST folder (default: <data root>/fashion-mnist)")
    add_runtime_arguments(p)
    return p


def run_ddpm_from_args(args: argparse.Namespace, log: Callable[[str], Any] | None = None) -> int:
    """Run ``innverse benchmark ddpm`` from parsed :func:`add_ddpm_arguments` options."""
    from innverse.bench.report import log_stderr

    log = log or log_stderr
    specs = parse_samplers(args.samplers)
    dev = apply_runtime(args)
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, got {args.seed}")
    prior = load_benchmark_prior(args.prior, dev)
    check_prior(prior, specs, f"--prior {args.prior}")
    net = load_benchmark_classifier(args.classifier, dev)
    data = benchmark_ddpm(
        prior,
        net,
        args.out,
        specs,
        args.samples,
        args.samples_ddpm,
        args.seed,
        args.batch,
        dev,
        args.data,
        args.grid,
        prior_name=str(args.prior),
        classifier_name=str(args.classifier),
        options={k: v for k, v in vars(args).items() if not k.startswith("_") and k not in _NOT_OPTIONS},
        log=log,
    )
    print(render_ddpm_table(data))
    return 0
