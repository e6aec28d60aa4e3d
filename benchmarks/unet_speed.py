"""Training-step speed and early loss: innverse's UNet vs diffusers' ``UNet2DModel``.

All models train on the same Fashion-MNIST batches (the ``ddpm`` task's batches: 32x32x1 images in
[-1, 1], uniform t, seeded noise) with the same loss (MSE on ε, linear schedule, T = 1000), the same
Adam (lr 2e-4, no warm-up) and the same batch size, in one process on one thread.  The models step in
turn (the order rotates every step) so that load on a shared host hits all of them alike; the time
of a step (forward + backward + Adam) is reported as the best and the median over the timed steps.
After ``--steps`` steps each model's ε-MSE is measured on a fixed set of test images (seeded t and
noise, the same for all models).

Models (``--models``):

* ``ours`` -- the UNet of the shipped prior (the ``ddpm`` task's defaults);
* ``ours-same`` -- our UNet with exactly diffusers' layout (``blocks=2`` everywhere), the same
  parameter count as ``diffusers``: isolates the implementation from the architecture;
* ``diffusers`` -- ``UNet2DModel(block_out_channels=(32, 64, 64), layers_per_block=2)``, attention
  at 8x8 (one head), GroupNorm 8 groups: the diffusers UNet nearest to ``ours`` in parameters.

    python benchmarks/unet_speed.py --steps 200 --json benchmarks/results/unet_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from innverse.diffusion.unet import UNet
from innverse.runtime import tune_cpu_allocator
from innverse.train.registry import get_task
from innverse.train.tasks.ddpm import RECOMMENDED_UNET


def build(name: str) -> tuple[nn.Module, dict]:
    """A model by benchmark name and a description of it."""
    if name == "ours":
        cfg = {**RECOMMENDED_UNET, "head_channels": None}
        return UNet(1, **cfg), {"class": "innverse UNet", **cfg}
    if name == "ours-same":
        cfg = dict(width=32, mults=(1, 2, 2), blocks=2, attention=(2,), groups=8)
        return UNet(1, **cfg), {"class": "innverse UNet", **cfg}
    if name == "diffusers":
        from diffusers import UNet2DModel

        cfg = dict(
            sample_size=32,
            in_channels=1,
            out_channels=1,
            block_out_channels=(32, 64, 64),
            layers_per_block=2,
            down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
            norm_num_groups=8,
            attention_head_dim=None,
        )
        m = UNet2DModel(**cfg)
        return _Diffusers(m), {"class": "diffusers UNet2DModel", **cfg}
    raise SystemExit(f"unknown model {name!r}")


class _Diffusers(nn.Module):
    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x, t):
        return self.m(x, t).sample


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["ours", "ours-same", "diffusers"])
    ap.add_argument("--steps", type=int, default=200, help="training steps per model")
    ap.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--eval-images", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the results here (and a .md table beside it)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    tune_cpu_allocator()

    T = get_task("ddpm")
    task = T(T.Config(val_images=a.eval_images, val_samples=0), seed=a.seed)
    task.check()
    task.prepare(0, 1)
    sch = task.schedule

    models, info, opts = {}, {}, {}
    for name in a.models:
        torch.manual_seed(a.seed)
        m, desc = build(name)
        models[name], info[name] = m.train(), desc
        info[name]["params"] = sum(p.numel() for p in m.parameters())
        opts[name] = torch.optim.Adam(m.parameters(), lr=a.lr)
    times: dict[str, list[float]] = {k: [] for k in models}
    losses: dict[str, list[float]] = {k: [] for k in models}
    names = list(models)
    t0 = time.perf_counter()
    for step in range(a.steps):
        b = task.batch(step, a.batch_size, (0, 1))
        xt = sch.add_noise(b["x0"], b["noise"], b["t"])
        k = step % len(names)
        for name in names[k:] + names[:k]:
            m, opt = models[name], opts[name]
            s = time.perf_counter()
            loss = F.mse_loss(m(xt, b["t"]), b["noise"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            dt = time.perf_counter() - s
            if step >= a.warmup:
                times[name].append(dt)
            losses[name].append(loss.item())
        if step % 10 == 0 or step == a.steps - 1:
            line = "  ".join(f"{n} {times[n][-1] if times[n] else 0:.2f}s {losses[n][-1]:.4f}" for n in names)
            print(f"step {step:4d} ({time.perf_counter() - t0:.0f}s): {line}", file=sys.stderr, flush=True)

    # held-out ε-MSE after training: the same test images, t and noise for every model
    g = torch.Generator().manual_seed(1234)
    x0 = task.val_x
    t = torch.randint(0, sch.T, (len(x0),), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    xt = sch.add_noise(x0, noise, t)
    results = {}
    for name, m in models.items():
        m.eval()
        with torch.no_grad():
            mse = (
                sum(
                    float(F.mse_loss(m(xt[i : i + 128], t[i : i + 128]), noise[i : i + 128], reduction="sum"))
                    for i in range(0, len(x0), 128)
                )
                / noise.numel()
            )
        ts = times[name]
        results[name] = {
            **info[name],
            "best_s_per_step": min(ts),
            "median_s_per_step": statistics.median(ts),
            "train_loss_last50": statistics.fmean(losses[name][-50:]),
            "test_eps_mse": mse,
        }
    ref = results.get("diffusers")
    for r in results.values():
        if ref is not None:
            r["best_ratio_vs_diffusers"] = r["best_s_per_step"] / ref["best_s_per_step"]
            r["median_ratio_vs_diffusers"] = r["median_s_per_step"] / ref["median_s_per_step"]

    head = (
        "| model | params | best s/step | median s/step | x diffusers (best / median) "
        f"| train loss (last 50) | test ε-MSE after {a.steps} steps |"
    )
    rows = [head, "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        ratio = (
            f"{r['best_ratio_vs_diffusers']:.3f} / {r['median_ratio_vs_diffusers']:.3f}"
            if ref is not None
            else "-"
        )
        rows.append(
            f"| {name} | {r['params']:,} | {r['best_s_per_step']:.3f} | {r['median_s_per_step']:.3f} "
            f"| {ratio} | {r['train_loss_last50']:.4f} | {r['test_eps_mse']:.4f} |"
        )
    table = "\n".join(rows)
    print(table)
    if a.json:
        out = {
            "benchmark": "unet_speed",
            "command": "python benchmarks/unet_speed.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "batch_size": a.batch_size,
            "image": [1, 32, 32],
            "steps": a.steps,
            "lr": a.lr,
            "threads": a.threads,
            "eval_images": len(x0),
            "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(),
            "results": results,
        }
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=2, default=str) + "\n")
        note = (
            f"Training step (forward + backward + Adam), batch {a.batch_size} of 32x32x1 Fashion-MNIST, "
            f"{a.threads} thread(s), models stepping in turn on the same batches; {a.steps} steps each.\n\n"
        )
        a.json.with_suffix(".md").write_text(note + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
