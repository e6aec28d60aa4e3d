"""Posterior INNs against the true / ABC posterior and FrEIA's cINN (``innverse benchmark posterior``).

Protocol:

* **Test observations** -- 100 per problem (``--observations``), from
  ``torch.Generator().manual_seed(seed)``: 8-modes labels drawn from ``p(y)``, kinematics
  ``y* = f(x*)`` with ``x*`` from the prior.  Reference posterior: 1,000 exact samples (8-modes, closed
  form) or 1,000 rejection-ABC samples with acceptance radius ``--abc-eps`` (default 0.02) on the
  end-effector distance (:meth:`innverse.problems.Kinematics.abc_posterior`).  A kinematics
  observation whose ABC needs more than ``--abc-max-draws`` prior draws (a ``y*`` the arm reaches
  with tiny prior probability) is replaced by the next one; the report counts them.
* **Scores** -- posterior MMD: the unbiased MMD^2 (:func:`innverse.problems.metrics.mmd2`, inverse
  multiquadric kernels at widths 0.05, 0.2, 0.9 on ``x``) between 1,000 model samples and the
  reference, averaged over the observations (with its standard error), next to the floor of two
  independent reference sets; re-simulation error ``E ||f(x_hat) - y*||`` (8-modes: ``f`` = the exact
  label distribution ``p(label | x)`` against the one-hot label; also the label accuracy of the
  samples); calibration error of the posterior quantiles (Ardizzone et al. 2019: median over
  ``q = 0.01 .. 0.99`` and dimensions of |fraction of true ``x*`` inside the central ``q`` interval
  - ``q``) on 1,000 ``(x*, y*)`` pairs with 200 samples each; sampling speed; training seconds from
  the model card.
* **FrEIA peer** (``--freia-steps N``, FrEIA 0.2 installed) -- a FrEIA cINN of the same structure
  (``GLOWCouplingBlock`` with the same fully connected sub-networks, clamp and ``PermuteRandom``:
  the same parameter count) and our :class:`~innverse.models.posterior.ConditionalINN` are trained
  side by side in one process from the same initial state of the optimiser, on the same batches of
  :class:`~innverse.train.tasks.posterior.PosteriorTask` (same data, noise, learning-rate schedule,
  gradient clipping and number of steps), one step of each in turn, each step timed; then both are
  scored as above.

Writes ``posterior.md``, ``posterior.json``, ``posterior_8modes.png`` (samples per label, per model,
and the true posterior) and ``posterior_kinematics.png`` (arm fans for four targets, per model, and
ABC) into ``--out``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.problems import EightModes, Kinematics, get_problem
from innverse.problems.kinematics import ABC_EPS
from innverse.problems.metrics import EVAL_WIDTHS, calibration_error, mmd2
from innverse.train.patches import mix_seed

__all__ = [
    "Case",
    "Sampler",
    "make_cases",
    "score_sampler",
    "reference_floor",
    "freia_cinn",
    "train_side_by_side",
    "benchmark_posterior",
    "render_posterior",
    "add_posterior_arguments",
    "run_posterior",
    "DEFAULT_MODELS",
]

#: the shipped posterior models scored by default
DEFAULT_MODELS = ("inn-8modes", "cinn-8modes", "inn-kinematics", "cinn-kinematics")
#: ``sampler(y, n, generator) -> (B, n, x_dim)`` posterior samples for observations ``y``
Sampler = Callable[[Tensor, int, torch.Generator], Tensor]
Log = Callable[[str], Any] | None


@dataclass
class Case:
    """One test observation: ``y`` (``(1,)`` label or ``(1, 2)`` end effector), the true ``x`` and
    reference posterior samples ``ref`` (n, x_dim)."""

    y: Tensor
    x: Tensor
    ref: Tensor


def _problem_of(name: str) -> EightModes | Kinematics:
    return get_problem(name, **({"labels": "some"} if name == "8modes" else {}))


def make_cases(
    problem: EightModes | Kinematics,
    n: int = 100,
    n_ref: int = 1000,
    seed: int = 0,
    abc_eps: float = ABC_EPS,
    abc_max_draws: int = 1 << 26,
    log: Log = None,
) -> tuple[list[Case], dict[str, Any]]:
    """``n`` test observations with reference samples, and facts about them (ABC draws, skipped)."""
    g = torch.Generator().manual_seed(mix_seed(seed, 101))
    cases: list[Case] = []
    info: dict[str, Any] = {"skipped": 0, "draws": 0, "seconds": 0.0}
    t0 = time.perf_counter()
    while len(cases) < n:
        x, y = problem.sample_joint(1, g)
        if isinstance(problem, EightModes):
            ref = problem.posterior_sample(y, n_ref, g)[0]
        else:
            try:
                ref, draws = problem.abc_posterior(y[0], n_ref, abc_eps, g, max_draws=abc_max_draws)
            except UserError:
                info["skipped"] += 1
                continue
            info["draws"] += draws
        cases.append(Case(y, x, ref))
        if log and isinstance(problem, Kinematics) and len(cases) % 20 == 0:
            log(f"  ABC reference: {len(cases)}/{n} observations ({time.perf_counter() - t0:.0f} s)")
    info["seconds"] = time.perf_counter() - t0
    return cases, info


def reference_floor(
    problem: EightModes | Kinematics, cases: Sequence[Case], seed: int, abc_eps: float, limit: int = 20
) -> float:
    """Mean MMD^2 between the reference and a second, independent reference set (first ``limit`` cases):
    what a perfect sampler scores, up to the estimator's noise."""
    g = torch.Generator().manual_seed(mix_seed(seed, 103))
    vals = []
    for c in cases[:limit]:
        if isinstance(problem, EightModes):
            other = problem.posterior_sample(c.y, len(c.ref), g)[0]
        else:
            other, _ = problem.abc_posterior(c.y[0], len(c.ref), abc_eps, g, max_draws=1 << 28)
        vals.append(mmd2(other, c.ref))
    return sum(vals) / len(vals)


def _resim(problem: EightModes | Kinematics, samples: Tensor, y: Tensor) -> Tensor:
    """Per-sample re-simulation errors ``(B, n)``."""
    if isinstance(problem, EightModes):
        target = problem.one_hot(y).double()[:, None, :]
        return (problem.label_probabilities(samples) - target).norm(dim=-1)
    return (problem.forward(samples.double()) - y.double()[:, None, :]).norm(dim=-1)


def score_sampler(
    sampler: Sampler,
    problem: EightModes | Kinematics,
    cases: Sequence[Case],
    n_samples: int = 1000,
    calib_pairs: int = 1000,
    calib_samples: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Posterior MMD, re-simulation error (and 8-modes label accuracy), calibration error and
    sampling speed of ``sampler`` on ``cases``."""
    g = torch.Generator().manual_seed(mix_seed(seed, 107))
    mmds, resims, accs = [], [], []
    t_sample, n_drawn = 0.0, 0
    for c in cases:
        t0 = time.perf_counter()
        s = sampler(c.y, n_samples, g)
        t_sample += time.perf_counter() - t0
        n_drawn += n_samples
        s = s.detach().cpu().float()
        if not bool(torch.isfinite(s).all()):
            raise UserError("a sampler returned non-finite values")
        mmds.append(mmd2(s[0], c.ref))
        resims.append(float(_resim(problem, s, c.y).mean()))
        if isinstance(problem, EightModes):
            accs.append(float((problem.label_probabilities(s).argmax(-1) == c.y[:, None]).double().mean()))
    gc = torch.Generator().manual_seed(mix_seed(seed, 109))
    x, y = problem.sample_joint(calib_pairs, gc)
    s = torch.cat(
        [sampler(y[i : i + 100], calib_samples, g).detach().cpu().float() for i in range(0, calib_pairs, 100)]
    )
    cal, curve = calibration_error(s, x)
    n = len(mmds)
    mean = sum(mmds) / n
    sem = math.sqrt(sum((v - mean) ** 2 for v in mmds) / max(n - 1, 1) / n)
    out = {
        "posterior_mmd": mean,
        "posterior_mmd_sem": sem,
        "resim_error": sum(resims) / n,
        "calibration_error": cal,
        "calibration_curve": curve,
        "samples_per_second": n_drawn / max(t_sample, 1e-9),
        "mmd_each": mmds,
    }
    if accs:
        out["label_accuracy"] = sum(accs) / len(accs)
    return out


# ------------------------------------------------------------------------------ samplers of models
def model_sampler(model: nn.Module) -> Sampler:
    """The sampler of one of our posterior models (``model.sample``)."""

    def sample(y: Tensor, n: int, g: torch.Generator) -> Tensor:
        return model.sample(y, n, generator=g)

    return sample


def freia_cinn(ours: nn.Module) -> nn.Module:
    """A FrEIA 0.2 cINN with the structure of our :class:`ConditionalINN` ``ours``: per block a
    ``GLOWCouplingBlock`` (two affine couplings, one per half, conditioned on ``y``) with the same fully
    connected sub-networks (zero-initialised output layer) and clamp, then ``PermuteRandom``."""
    try:
        import FrEIA.framework as ff
        import FrEIA.modules as fm
    except ImportError:  # pragma: no cover - depends on the environment
        raise UserError("the FrEIA peer needs FrEIA 0.2 (pip install FrEIA; benchmark-only)") from None
    cfg = ours.config
    hidden, layers = int(cfg["hidden"]), int(cfg["layers"])

    def subnet(c_in: int, c_out: int) -> nn.Module:
        mods: list[nn.Module] = []
        w = c_in
        for _ in range(layers):
            mods += [nn.Linear(w, hidden), nn.ReLU()]
            w = hidden
        last = nn.Linear(w, c_out)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        return nn.Sequential(*mods, last)

    inn = ff.SequenceINN(int(cfg["x_dim"]))
    for b in range(int(cfg["blocks"])):
        inn.append(
            fm.GLOWCouplingBlock,
            cond=0,
            cond_shape=(int(cfg["y_dim"]),),
            subnet_constructor=subnet,
            clamp=float(cfg["clamp"]),
        )
        inn.append(fm.PermuteRandom, seed=int(cfg["seed"]) * 1000 + b)
    return inn


def freia_sampler(inn: nn.Module, ours: nn.Module) -> Sampler:
    """Samples of a FrEIA cINN trained on our standardisation (that of ``ours``)."""

    def sample(y: Tensor, n: int, g: torch.Generator) -> Tensor:
        with torch.no_grad():
            yn = ours.observation(y)
            b = yn.shape[0]
            z = torch.randn(b * n, ours.x_dim, generator=g)
            x, _ = inn(z, c=[yn.repeat_interleave(n, dim=0)], rev=True)
            return ours.denormalise_x(x).reshape(b, n, ours.x_dim)

    return sample


def _cosine_lr(step: int, total: int, lr: float, warmup: int, floor: float) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(total - warmup, 1)
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def train_side_by_side(
    problem: str,
    steps: int,
    batch_size: int = 500,
    lr: float = 1e-3,
    seed: int = 0,
    train_size: int = 1_000_000,
    log: Log = None,
) -> dict[str, Any]:
    """Train our cINN and the FrEIA cINN of the same structure on identical batches, alternating steps.

    Both use the engine's recipe for the task (Adam, cosine schedule with 100 warm-up steps down to
    2 %, gradient-norm clip 10).  Returns both models, their parameter counts, training seconds (sum of
    their own timed steps) and final losses.
    """
    from innverse.train.tasks.posterior import PosteriorTask, PosteriorTrainConfig

    task = PosteriorTask(
        PosteriorTrainConfig(problem=problem, model="cinn", train_size=train_size), seed=seed
    )
    task.check()
    task.prepare(0, 1)
    torch.manual_seed(seed)
    ours = task.build_model().train()
    torch.manual_seed(seed)
    peer = freia_cinn(ours).train()
    opts = [torch.optim.Adam(ours.parameters(), lr=lr), torch.optim.Adam(peer.parameters(), lr=lr)]
    seconds = [0.0, 0.0]
    last = [float("nan"), float("nan")]
    for step in range(steps):
        b = task.batch(step, batch_size, (0, 1))
        rate = _cosine_lr(step, steps, lr, 100, 0.02)
        for k, (model, opt) in enumerate(zip((ours, peer), opts, strict=True)):
            for grp in opt.param_groups:
                grp["lr"] = rate
            t0 = time.perf_counter()
            if k == 0:
                loss, _ = task.loss(model, b, step)
            else:
                x = ours.normalise_x(b["x"])
                y = task._noisy_y(ours, b)
                z, ld = model(x, c=[y])
                loss = (0.5 * (z**2).sum(1) - ld).mean() / ours.x_dim
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), 10.0)
            opt.step()
            seconds[k] += time.perf_counter() - t0
            last[k] = float(loss.detach())
        if log and (step + 1) % 500 == 0:
            log(
                f"  side by side {problem}: step {step + 1}/{steps}, nll ours {last[0]:.4f}, "
                f"FrEIA {last[1]:.4f}"
            )
    return {
        "ours": ours.eval(),
        "freia": peer.eval(),
        "seconds": seconds,
        "final_nll": last,
        "params": [sum(p.numel() for p in m.parameters() if p.requires_grad) for m in (ours, peer)],
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
    }


# ------------------------------------------------------------------------------ plots
def plot_8modes(
    problem: EightModes, samplers: dict[str, Sampler], path: Path, n: int = 1500, seed: int = 0
) -> Path:
    """Rows: the true posterior, then each model; columns: the labels; scatter of ``n`` samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from innverse.bench.plots import save_figure

    labels = problem.label_values
    rows = [("true posterior", None), *samplers.items()]
    fig, axes = plt.subplots(
        len(rows), len(labels), figsize=(2.2 * len(labels), 2.2 * len(rows)), squeeze=False
    )
    cmap = plt.get_cmap("Set1")
    for r, (name, sampler) in enumerate(rows):
        for c, k in enumerate(labels):
            g = torch.Generator().manual_seed(mix_seed(seed, r, c))
            y = torch.tensor([k])
            s = problem.posterior_sample(y, n, g)[0] if sampler is None else sampler(y, n, g)[0]
            ax = axes[r][c]
            ax.scatter(s[:, 0], s[:, 1], s=0.5, color=cmap(k % 9), rasterized=True)
            ax.set_xlim(-3.5, 3.5)
            ax.set_ylim(-3.5, 3.5)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            if r == 0:
                ax.set_title(f"label {k}", fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_arm_fans(
    problem: Kinematics,
    samplers: dict[str, Sampler],
    targets: Tensor,
    path: Path,
    n: int = 300,
    seed: int = 0,
) -> Path:
    """Rows: ABC, then each model; columns: end-effector targets; ``n`` posterior arms drawn faintly
    (rail points, joints, end effector), the target marked with a cross."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    from innverse.bench.plots import save_figure

    rows: list[tuple[str, Sampler | None]] = [(f"ABC (eps {ABC_EPS})", None), *samplers.items()]
    fig, axes = plt.subplots(
        len(rows), len(targets), figsize=(2.6 * len(targets), 2.6 * len(rows)), squeeze=False
    )
    colours = ("#3182bd", "#6baed6", "#9ecae1")
    for r, (name, sampler) in enumerate(rows):
        for c, y in enumerate(targets):
            g = torch.Generator().manual_seed(mix_seed(seed, 7, r, c))
            if sampler is None:
                x, _ = problem.abc_posterior(y, n, ABC_EPS, g, max_draws=1 << 28)
            else:
                x = sampler(y[None], n, g)[0]
            pts = problem.joints(x.double()).numpy()  # (n, 4, 2)
            ax = axes[r][c]
            for i in range(3):
                segs = pts[:, i : i + 2, :]
                ax.add_collection(LineCollection(segs, colors=colours[i], linewidths=0.6, alpha=0.08))
            ax.scatter(pts[:, 0, 0], pts[:, 0, 1], s=2, color="k", alpha=0.1)
            ax.plot([y[0] - 0.15, y[0] + 0.15], [y[1], y[1]], color="r", lw=0.8)
            ax.plot([y[0], y[0]], [y[1] - 0.15, y[1] + 0.15], color="r", lw=0.8)
            ax.axvline(0, color="gray", lw=0.5, ls=":")
            ax.set_xlim(-0.35, 2.25)
            ax.set_ylim(-1.3, 1.3)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"y* = ({float(y[0]):.2f}, {float(y[1]):.2f})", fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


#: end-effector targets of the arm-fan figure (the first is the example of Kruse et al.'s figure)
FAN_TARGETS = torch.tensor([[1.5, 0.0], [1.2, 0.8], [1.8, -0.5], [0.6, 1.2]])


# ------------------------------------------------------------------------------ the benchmark
def benchmark_posterior(
    out: str | Path,
    models: Sequence[str] = DEFAULT_MODELS,
    observations: int = 100,
    n_samples: int = 1000,
    seed: int = 0,
    abc_eps: float = ABC_EPS,
    abc_max_draws: int = 1 << 26,
    freia_steps: int = 0,
    freia_problems: Sequence[str] = ("8modes", "kinematics"),
    plots: bool = True,
    log: Log = print,
) -> dict[str, Any]:
    """Score ``models`` (shipped names or folders) on their problems; optionally the FrEIA side-by-side."""
    from innverse.bench.environment import environment
    from innverse.bench.report import json_text, output_folder, write_text
    from innverse.models import load_model

    d = output_folder(out)
    loaded: list[tuple[str, nn.Module]] = []
    for name in models:
        m = load_model(name)
        if getattr(m, "kind", "") not in ("posterior-inn", "posterior-cinn"):
            raise UserError(f"{name}: not a posterior INN / cINN (kind {getattr(m, 'kind', '?')})")
        loaded.append((str(name), m))
    problems = sorted(
        {m.config["problem"] for _, m in loaded} | (set(freia_problems) if freia_steps else set())
    )
    res: dict[str, Any] = {
        "protocol": {
            "observations": observations,
            "samples": n_samples,
            "reference_samples": 1000,
            "abc_eps": abc_eps,
            "abc_max_draws": abc_max_draws,
            "seed": seed,
            "mmd_kernel": f"unbiased MMD^2, inverse multiquadrics h^2/(h^2+d^2), h in {list(EVAL_WIDTHS)}",
            "calibration": "1000 (x*, y*) pairs, 200 samples each, q = 0.01..0.99",
        },
        "environment": environment("cpu"),
        "problems": {},
        "rows": [],
        "freia": [],
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    cases_of: dict[str, list[Case]] = {}
    for pname in problems:
        problem = _problem_of(pname)
        if log:
            log(f"{pname}: {observations} test observations and their reference posteriors")
        cases, info = make_cases(problem, observations, 1000, seed, abc_eps, abc_max_draws, log)
        info["floor_mmd"] = reference_floor(problem, cases, seed, abc_eps)
        res["problems"][pname] = info
        cases_of[pname] = cases
    samplers: dict[str, dict[str, Sampler]] = {p: {} for p in problems}
    for name, m in loaded:
        pname = m.config["problem"]
        if log:
            log(f"scoring {name} on {pname}")
        sampler = model_sampler(m)
        row = {"model": name, "kind": m.kind, "problem": pname, "params": m.num_parameters()}
        row.update(score_sampler(sampler, _problem_of(pname), cases_of[pname], n_samples, seed=seed))
        card = _card_of(name)
        row["train_seconds"] = card.get("train_seconds")
        row["train_steps"] = card.get("steps")
        res["rows"].append(row)
        samplers[pname][name] = sampler
    if freia_steps:
        for pname in freia_problems:
            if log:
                log(f"FrEIA side by side on {pname}: {freia_steps} steps each")
            sbs = train_side_by_side(pname, freia_steps, seed=seed, log=log)
            problem = _problem_of(pname)
            for k, (label, sampler) in enumerate(
                (
                    ("innverse cINN", model_sampler(sbs["ours"])),
                    ("FrEIA cINN", freia_sampler(sbs["freia"], sbs["ours"])),
                )
            ):
                row = {
                    "model": label,
                    "problem": pname,
                    "params": sbs["params"][k],
                    "train_seconds": sbs["seconds"][k],
                    "train_steps": freia_steps,
                    "final_nll": sbs["final_nll"][k],
                }
                row.update(score_sampler(sampler, problem, cases_of[pname], n_samples, seed=seed))
                res["freia"].append(row)
                samplers[pname][f"{label} (side by side)"] = sampler
    files = []
    if plots:
        try:
            import matplotlib  # noqa: F401

            if "8modes" in samplers and samplers["8modes"]:
                files.append(
                    plot_8modes(_problem_of("8modes"), samplers["8modes"], d / "posterior_8modes.png")
                )  # type: ignore[arg-type]
            if "kinematics" in samplers and samplers["kinematics"]:
                files.append(
                    plot_arm_fans(
                        Kinematics(), samplers["kinematics"], FAN_TARGETS, d / "posterior_kinematics.png"
                    )
                )
        except ImportError:
            if log:
                log("matplotlib not installed: no figures written")
    res["figures"] = [str(f) for f in files]
    write_text(d / "posterior.json", json_text(res))
    write_text(d / "posterior.md", render_posterior(res))
    return res


def _card_of(name: str) -> dict[str, Any]:
    """Training facts from a shipped model's card (empty for other models)."""
    from innverse.models import list_pretrained

    card = list_pretrained().get(name, {})
    m = card.get("measured", {}) if isinstance(card, dict) else {}
    return {"train_seconds": m.get("train_seconds", card.get("train_seconds")), "steps": card.get("steps")}


def _f(v: Any, fmt: str = ".4f") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def render_posterior(res: dict[str, Any]) -> str:
    """The Markdown report of :func:`benchmark_posterior`."""
    from innverse.bench.report import markdown_table

    p = res["protocol"]
    head = [
        "problem",
        "model",
        "params",
        "posterior MMD ± s.e.",
        "re-sim error",
        "label acc.",
        "calibration err.",
        "train s",
        "samples/s",
    ]

    def body(rows: list[dict]) -> list[list[str]]:
        return [
            [
                r["problem"],
                r["model"],
                f"{r['params']:,}",
                f"{_f(r['posterior_mmd'])} ± {_f(r['posterior_mmd_sem'])}",
                _f(r["resim_error"]),
                _f(r.get("label_accuracy"), ".3f"),
                _f(r["calibration_error"], ".3f"),
                _f(r.get("train_seconds"), ".0f"),
                _f(r["samples_per_second"], ",.0f"),
            ]
            for r in rows
        ]

    lines = [
        "# Posterior INNs",
        "",
        f"{p['observations']} test observations per problem (seed {p['seed']}), {p['samples']} model samples "
        f"against {p['reference_samples']} reference samples each; {p['mmd_kernel']}; calibration: "
        f"{p['calibration']}.  Kinematics reference: rejection ABC with radius {p['abc_eps']}.",
        "",
    ]
    for name, info in res["problems"].items():
        extra = ""
        if name == "kinematics":
            extra = (
                f", {info['draws']:,} prior draws in {info['seconds']:.0f} s, {info['skipped']} "
                f"observation(s) replaced (ABC beyond {p['abc_max_draws']:,} draws)"
            )
        lines.append(f"- {name}: MMD floor of two independent reference sets {_f(info['floor_mmd'])}{extra}.")
    lines += ["", markdown_table(head, body(res["rows"])), ""]
    if res["freia"]:
        lines += [
            "## FrEIA 0.2 cINN, side by side",
            "",
            "Same structure (GLOWCouplingBlock = two affine couplings per block, same sub-networks, clamp "
            "and PermuteRandom), same batches, schedule and steps, trained alternately in one process; "
            "train s = the sum of each model's own timed steps.",
            "",
            markdown_table(head, body(res["freia"])),
            "",
        ]
    from innverse.bench.report import machine_line

    lines += [machine_line(res["environment"], res["created"], device=False), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command-line wiring
def add_posterior_arguments(p: Any) -> None:
    """The options of ``innverse benchmark posterior`` (for an argparse parser)."""
    p.add_argument("--out", required=True, metavar="DIR", help="folder for posterior.md/.json/.png")
    p.add_argument(
        "--model",
        action="append",
        metavar="NAME_OR_PATH",
        help=f"posterior model; repeat for several (default {', '.join(DEFAULT_MODELS)})",
    )
    p.add_argument(
        "--observations", type=int, default=100, metavar="N", help="test observations (default 100)"
    )
    p.add_argument(
        "--samples", type=int, default=1000, metavar="N", help="posterior samples each (default 1000)"
    )
    p.add_argument(
        "--abc-eps", type=float, default=ABC_EPS, help=f"ABC acceptance radius (default {ABC_EPS})"
    )
    p.add_argument(
        "--freia-steps",
        type=int,
        default=0,
        metavar="N",
        help="train FrEIA's cINN and ours side by side for N steps on each problem (0: skip)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the test observations and samples")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    from innverse.bench.options import add_runtime_arguments

    add_runtime_arguments(p, device=False)


def run_posterior(args: Any) -> int:
    """Run ``innverse benchmark posterior`` from parsed :func:`add_posterior_arguments` options."""
    from innverse.bench.options import apply_runtime

    apply_runtime(args, device=False)
    for name in ("observations", "samples"):
        if getattr(args, name) < 2:
            raise UserError(f"--{name} must be at least 2")
    if not args.abc_eps > 0:
        raise UserError("--abc-eps must be positive")
    if args.freia_steps < 0:
        raise UserError("--freia-steps must be >= 0")
    res = benchmark_posterior(
        args.out,
        models=args.model or DEFAULT_MODELS,
        observations=args.observations,
        n_samples=args.samples,
        seed=args.seed,
        abc_eps=args.abc_eps,
        freia_steps=args.freia_steps,
        plots=not args.no_plots,
    )
    print(render_posterior(res))
    return 0
