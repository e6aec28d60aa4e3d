"""Training-step speed: innverse's WINNet training step vs the released WINNet training code's step.

One step = noise + forward + backward + gradient clipping + Adam update on a batch of 32 40x40
patches (sigma 25), with the spectral-norm term every 10th step as in both recipes.  For each thread
count, regular steps and one spectral step are timed separately, interleaving the two
implementations (``--repeats`` rounds, best round kept: the host may be shared), and reported as
amortised steps/s ``= 10 / (9 * t_regular + t_spectral)``.

``released_step`` / ``build_released`` below re-implement the released training script
(jjhuangcs/WINNet ``WINNet_denoise_train.py`` + ``utils/networks.py`` + ``utils/splitmerge.py``,
defaults steps=4, layers=4, channels=32, lvl=1, split='dct', dnlayers=4) from reading it, including
its costly parts (thresholds materialised with ``repeat/permute``, five-pass soft threshold,
replicate-padded DCT split, SVD-based spectral norms of composed kernels built with Python loops).
Checked line by line against the released files (commit 34a5dcf): the same layers, padding,
threshold code, spectral-norm composition (including its repeated ``conv2.linear()`` calls) and
loss; left out are only the CUDA/DataParallel wrappers and a ``time.sleep(1e-4)`` per step.

"ours" is the step of ``innverse train`` with its default ``--train-pad 0`` (circular frame on the
bare 40x40 patch, the released code's patch size); ``--with-pad4`` also times ``--train-pad 4``.

    python benchmarks/train_speed.py --threads 1 2 --json train_speed.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# ================================================================================================
# Re-implementation of the RELEASED training step (for timing only).
# ================================================================================================


def _dct_ii(n: int) -> Tensor:
    """Orthonormal DCT-II matrix (the released ``dct_matrix``)."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    f = torch.where(k == 0, math.sqrt(1.0 / (4 * n)), math.sqrt(1.0 / (2 * n)))
    return (2.0 * f * torch.cos(math.pi * k * (2 * i + 1) / (2 * n))).float()


class _RelST(nn.Module):
    """Released ``STnoise``: thresholds materialised at full size, five-pass soft threshold."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.thre = nn.Parameter(-0.1 * torch.rand(ch))

    def forward(self, x: Tensor, noise_l: Tensor) -> Tensor:
        sgn = torch.sign(x)
        thre = F.softplus(self.thre, beta=20)
        thre = thre.repeat(x.size(0), x.size(2), x.size(3), 1).permute(0, 3, 1, 2).contiguous()
        thre = thre * (noise_l / 50)
        tmp = torch.abs(x) - thre
        return sgn * (tmp + torch.abs(tmp)) / 2


class _RelSepConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, dil: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, k, padding=k // 2 + dil - 1, dilation=dil, bias=False, groups=cin)
        self.conv2 = nn.Conv2d(cin, cout, 1, padding=dil - 1, dilation=dil, bias=False)
        for c in (self.conv1, self.conv2):
            nn.init.kaiming_uniform_(c.weight, a=0.0, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.conv1(x))

    def linear(self) -> Tensor:
        ch, k = self.conv1.weight.shape[0], self.conv1.weight.shape[-1]
        full = torch.zeros(ch, ch, k, k, device=self.conv1.weight.device)
        for i in range(ch):  # as released: a Python loop of slice assignments
            full[i, i] = self.conv1.weight[i, 0]
        return F.conv2d(full, self.conv2.weight, padding=self.conv2.weight.shape[-1] - 1).permute(1, 0, 2, 3)


class _RelResBlock(nn.Module):
    def __init__(self, ch: int, k: int, dil: int = 1) -> None:
        super().__init__()
        self.conv1, self.conv2 = _RelSepConv(ch, ch, k, dil), _RelSepConv(ch, ch, k, dil)
        self.soft1, self.soft2 = _RelST(ch), _RelST(ch)
        eye = torch.zeros(ch, ch, 2 * k - 1, 2 * k - 1)
        for i in range(ch):
            eye[i, i, k - 1, k - 1] = 1
        self.register_buffer("identity", eye)

    def forward(self, x: Tensor, nl: Tensor) -> Tensor:
        return self.soft2(x + self.conv2(self.soft1(self.conv1(x), nl)), nl)

    def linear(self) -> tuple[Tensor, Tensor]:
        c21 = F.conv2d(self.conv1.linear().permute(1, 0, 2, 3), torch.rot90(self.conv2.linear(), 2, [2, 3]),
                       padding=self.conv2.linear().shape[-1] - 1) + self.identity
        sv = torch.linalg.svd(c21.reshape(c21.shape[0], -1), full_matrices=False)[1][0]
        return c21.permute(1, 0, 2, 3), sv


class _RelPUNet(nn.Module):
    def __init__(self, cin: int, cout: int, ch: int = 32, k: int = 3, layers: int = 4, dil: int = 1) -> None:
        super().__init__()
        self.head = nn.Conv2d(cin, ch, k, padding=k // 2 + dil - 1, dilation=dil, bias=False)
        nn.init.kaiming_uniform_(self.head.weight, a=0, mode="fan_out", nonlinearity="relu")
        self.head_st = _RelST(ch)
        self.blocks = nn.ModuleList(_RelResBlock(ch, 2 * k - 1, dil) for _ in range(layers))
        self.out = nn.Conv2d(ch, cout, k, padding=k // 2 + dil - 1, dilation=dil, bias=False)
        self.out.weight.data.fill_(0.0)

    def forward(self, x: Tensor, nl: Tensor) -> Tensor:
        x = self.head_st(self.head(x), nl)
        for b in self.blocks:
            x = b(x, nl)
        return self.out(x)

    def linear(self) -> Tensor:
        w = self.head.weight
        conv0 = w
        s = torch.linalg.svd(w.reshape(w.shape[0], -1), full_matrices=False)[1][0]
        for b in self.blocks:
            conv, sv = b.linear()
            conv0 = F.conv2d(conv0.permute(1, 0, 2, 3), torch.rot90(conv, 2, [2, 3]),
                             padding=conv.shape[-1] - 1).permute(1, 0, 2, 3)
            s = s + sv
        return s  # conv0 is computed (as released) but only the singular values enter the loss


class _RelCLISTA(nn.Module):
    def __init__(self, cin: int = 15, ch: int = 64, k: int = 3, layers: int = 4) -> None:
        super().__init__()
        self.A = nn.Conv2d(cin, ch, k, padding=k // 2, bias=False)
        self.S = nn.Conv2d(ch, cin, k, padding=k // 2, bias=False)
        for c in (self.A, self.S):
            nn.init.kaiming_uniform_(c.weight, a=0.0, mode="fan_out", nonlinearity="relu")
        self.st = nn.ModuleList(_RelST(ch) for _ in range(layers))
        eye = torch.zeros(cin, cin, 2 * k - 1, 2 * k - 1)
        for i in range(cin):
            eye[i, i, k - 1, k - 1] = 1
        self.register_buffer("identity", eye)

    def forward(self, x: Tensor, nl: Tensor) -> Tensor:
        g = self.A(x)
        for st in self.st:
            g = st(g + self.A(x - self.S(g)), nl)
        return self.S(g)

    def orthogonal(self) -> Tensor:
        sa = F.conv2d(self.A.weight.permute(1, 0, 2, 3), torch.rot90(self.S.weight, 2, [2, 3]),
                      padding=self.S.weight.shape[-1] - 1)
        return F.mse_loss(sa, self.identity, reduction="sum")


class ReleasedWINNet(nn.Module):
    """Released ``WINNetklvl`` with klvl=1, mode='dct': ``forward -> (x_hat, 10 * orth)``."""

    def __init__(self, steps: int = 4, layers: int = 4, channels: int = 32, dnlayers: int = 4) -> None:
        super().__init__()
        m = _dct_ii(16)
        self.register_buffer("kernel", m.reshape(16, 1, 4, 4))
        self.register_buffer("kernel_t", torch.flip(m, [1]).reshape(1, 16, 4, 4))
        self.pred = nn.ModuleList(_RelPUNet(1, 15, channels, 3, layers) for _ in range(steps))
        self.upd = nn.ModuleList(_RelPUNet(15, 1, channels, 3, layers) for _ in range(steps))
        self.dn = _RelCLISTA(15, 64, 3, dnlayers)

    def forward(self, x: Tensor, nl: Tensor) -> tuple[Tensor, Tensor]:
        fx = F.conv2d(F.pad(x, (1, 2, 1, 2), mode="replicate"), self.kernel)
        xc, xd = fx[:, :1].contiguous(), fx[:, 1:].contiguous()
        for p, u in zip(self.pred, self.upd, strict=True):
            xd = xd - p(xc, nl)
            xc = xc + u(xd, nl)
        xd = self.dn(xd, nl)
        loss = 1e1 * self.dn.orthogonal()
        for p, u in zip(reversed(self.pred), reversed(self.upd), strict=True):
            xc = xc - u(xd, nl)
            xd = xd + p(xc, nl)
        y = torch.cat((xc, xd), 1)
        out = F.conv2d(F.pad(y, (2, 1, 2, 1), mode="replicate"), self.kernel_t) * (1.0 / 16)
        return out, loss

    def linear(self) -> Tensor:
        total = 0
        for p, u in zip(self.pred, self.upd, strict=True):
            total = total + (p.linear() + u.linear()) / 2
        return total / len(self.pred)


def build_released(device: torch.device) -> dict:
    """State of the released training loop: model, Adam (lr 1e-3), MSELoss(sum)."""
    net = ReleasedWINNet().to(device)
    return {"net": net, "opt": torch.optim.Adam(net.parameters(), lr=1e-3),
            "crit": nn.MSELoss(reduction="sum")}


def released_step(state: dict, img: Tensor, i: int, noise_level: float = 25.0) -> float:
    """One iteration of the released ``WINNet_denoise_train.py`` loop (mode 'S')."""
    net, opt, crit = state["net"], state["opt"], state["crit"]
    net.train()
    net.zero_grad()
    opt.zero_grad()
    std_nv = noise_level * torch.ones(1, device=img.device)
    noise = torch.empty_like(img).normal_(mean=0, std=noise_level / 255.0)
    imgn = img + noise
    out, oloss = net(imgn, std_nv)
    loss = crit(out, img) / (imgn.size()[0] * 2) + oloss
    value = loss.detach()
    if i % 10 == 0:
        loss = loss + 1 * 1e-1 * net.linear()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), max_norm=1, norm_type=2)
    opt.step()
    return float(value)


# ================================================================================================
# innverse's step (the same sequence of operations as innverse.train.engine.Engine._loop)
# ================================================================================================


def build_ours(device: torch.device, levels: int = 1, pad: int = 0) -> dict:
    """innverse's WINNet and loss as ``innverse train`` builds them (``--train-pad`` default 0)."""
    from innverse.models import WINNet
    from innverse.train.tasks.winnet import WINNetTask, WINNetTrainConfig

    model = WINNet(levels=levels).to(device).train()
    task = WINNetTask(WINNetTrainConfig(data="-", sigma=25.0, train_pad=pad))

    def loss(noisy: Tensor, clean: Tensor, sigma: Tensor, with_spec: bool):
        batch = {"noisy": noisy, "clean": clean, "sigma": sigma}
        total, parts = task.loss(model, batch, 0 if with_spec else 1)
        return total, parts["data_loss"]

    return {"model": model, "loss": loss,
            "opt": torch.optim.Adam(model.parameters(), lr=1e-3),
            "params": [p for p in model.parameters() if p.requires_grad]}


def our_step(state: dict, img: Tensor, i: int, noise_level: float = 25.0) -> float:
    opt = state["opt"]
    g = torch.Generator().manual_seed(i)
    noisy = img + torch.randn(img.shape, generator=g).to(img.device).mul_(noise_level / 255.0)
    sigma = torch.full((img.shape[0],), noise_level / 255.0, device=img.device)
    for group in opt.param_groups:
        group["lr"] = 1e-3
    opt.zero_grad(set_to_none=True)
    total, data = state["loss"](noisy, img, sigma, i % 10 == 0)
    total.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(state["params"], 1.0)
    torch.stack([total.detach(), data, gnorm]).tolist()  # the trainer's one sync per step
    opt.step()
    return float(data)


# ================================================================================================


def _time(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def measure(threads: int, steps: int, repeats: int, batch: int, patch: int, device: torch.device,
            which: list[str]) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    img = torch.rand(batch, 1, patch, patch, device=device)
    impls = {}
    if "ours" in which:
        impls["ours"] = (build_ours(device, pad=0), our_step)
    if "ours_pad4" in which:
        impls["ours_pad4"] = (build_ours(device, pad=4), our_step)
    if "released" in which:
        impls["released"] = (build_released(device), released_step)
    for st, fn in impls.values():  # warm-up: one spectral and one regular step
        fn(st, img, 0)
        fn(st, img, 1)
    best: dict[str, dict[str, float]] = {k: {"regular": math.inf, "spectral": math.inf} for k in impls}
    for _ in range(repeats):
        for name, (st, fn) in impls.items():
            reg = _time(lambda st=st, fn=fn: [fn(st, img, j) for j in range(1, steps + 1)], device) / steps
            spec = _time(lambda st=st, fn=fn: fn(st, img, 10), device)
            best[name]["regular"] = min(best[name]["regular"], reg)
            best[name]["spectral"] = min(best[name]["spectral"], spec)
    row: dict = {"threads": threads, "batch": batch, "patch": patch}
    for name, b in best.items():
        amort = (9 * b["regular"] + b["spectral"]) / 10
        row[name] = {"regular_step_s": b["regular"], "spectral_step_s": b["spectral"],
                     "steps_per_s": 1.0 / amort}
    for name in ("ours", "ours_pad4"):
        if name in row and "released" in row:
            row[f"speedup_{name}_vs_released"] = row[name]["steps_per_s"] / row["released"]["steps_per_s"]
    return row


def trainer_speed(device: torch.device, modes: list[str], steps: int, batch: int, patch: int) -> list[dict]:
    """End-to-end :class:`innverse.train.Engine` runs (real WINNet K=1, synthetic 180x180 images,
    patch sampling and noise included) for each mode ``AMP[+compile]``; steps/s over the second
    half of the run (after warm-up / compilation)."""
    import tempfile

    import numpy as np
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix="innverse-train-speed-"))
    data = tmp / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:180, 0:180]
    for i in range(16):
        img = 128 + 70 * np.sin(xx / (4 + i)) * np.cos(yy / (6 + i % 5)) + rng.normal(0, 8, (180, 180))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(data / f"{i:02d}.png")
    try:
        rows = _trainer_runs(device, modes, steps, batch, patch, tmp, data)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _trainer_runs(device: torch.device, modes: list[str], steps: int, batch: int, patch: int,
                  tmp: Path, data: Path) -> list[dict]:
    from innverse.train import Engine, EngineConfig
    from innverse.train.tasks.winnet import WINNetTask, WINNetTrainConfig

    rows = []
    for mode in modes:
        amp, _, extra = mode.partition("+")
        torch.manual_seed(0)
        task = WINNetTask(WINNetTrainConfig(data=str(data), sigma=25.0, patch_size=patch))
        cfg = EngineConfig(out=str(tmp / mode.replace("+", "_")), batch_size=batch, max_steps=steps,
                           ckpt_every=10**9, log_every=1, device=device.type, amp=amp,
                           compile=extra == "compile", workers=1 if device.type == "cuda" else 0,
                           progress=False)
        t = Engine(task, cfg)
        rc = t.run()
        hist = t.history
        half = len(hist) // 2
        dt = hist[-1]["seconds"] - hist[half - 1]["seconds"]
        sps = (len(hist) - half) / dt if dt > 0 else float("nan")
        row = {"mode": mode, "rc": rc, "steps": steps, "steps_per_s": sps,
               "first_loss": hist[0]["data_loss"], "last_loss": hist[-1]["data_loss"]}
        print(f"trainer {mode}: {row['steps_per_s']:.2f} steps/s (second half), data loss "
              f"{row['first_loss']:.4g} -> {row['last_loss']:.4g}, rc={rc}", flush=True)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=9, help="regular steps timed per round (default 9)")
    ap.add_argument("--repeats", type=int, default=2, help="rounds; the best is kept (default 2)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--patch", type=int, default=40)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", choices=["ours", "ours_pad4", "released"], help="time one implementation only")
    ap.add_argument("--with-pad4", action="store_true",
                    help="also time ours with the inference padding 4 during training (--train-pad 4)")
    ap.add_argument("--json", default="train_speed.json", help="where to write the results")
    ap.add_argument("--trainer-steps", type=int, default=0,
                    help="also time end-to-end Trainer runs of this many steps (0: skip)")
    ap.add_argument("--trainer-modes", nargs="+", default=["none"],
                    help="AMP[+compile] modes for --trainer-steps, e.g. bf16 none fp16 bf16+compile")
    ap.add_argument("--skip-step-bench", action="store_true", help="only the --trainer-steps runs")
    ap.add_argument("--tune-allocator", action="store_true",
                    help="raise glibc's mmap threshold first, as the innverse command does (applies to "
                         "both implementations; without it both run with glibc's defaults)")
    args = ap.parse_args()
    if args.tune_allocator:
        from innverse.runtime import tune_cpu_allocator

        tune_cpu_allocator()
    device = torch.device(args.device)
    which = [args.only] if args.only else ["ours", "released"] + (["ours_pad4"] if args.with_pad4 else [])
    rows = []
    for t in ([] if args.skip_step_bench else args.threads):
        row = measure(t, args.steps, args.repeats, args.batch, args.patch, device, which)
        rows.append(row)
        parts = [f"threads={t}"]
        for name in which:
            r = row[name]
            parts.append(f"{name} {r['steps_per_s']:.3f} steps/s (regular {r['regular_step_s']:.3f} s, "
                         f"spectral {r['spectral_step_s']:.3f} s)")
        for name in ("ours", "ours_pad4"):
            if f"speedup_{name}_vs_released" in row:
                parts.append(f"ratio {name}/released {row[f'speedup_{name}_vs_released']:.2f}x")
        print("  ".join(parts), flush=True)
    res = {"benchmark": "train_speed", "torch": torch.__version__, "device": str(device),
           "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
           "loadavg_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
           "released_step_verified": True, "tuned_allocator": bool(args.tune_allocator), "results": rows}
    if args.trainer_steps:
        res["trainer"] = trainer_speed(device, args.trainer_modes, args.trainer_steps, args.batch, args.patch)
    if device.type == "cuda":
        res["gpu"] = torch.cuda.get_device_name(device)
    with open(args.json, "w") as f:
        json.dump(res, f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
