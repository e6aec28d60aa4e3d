"""Reflection removal: separators scored on the fixed synthetic test pairs.

Protocol (``innverse benchmark dereflect``):

* **Test pairs** -- :func:`innverse.train.tasks.durrnet.test_pairs` of CBSD68's images 56-67 (the
  fixed test split, which no training or validation of ``innverse train durrnet`` touches): the
  transmission ``T`` is the centre crop (``--size``, default 128) of test image ``i``, the reflection
  the centre crop of image ``i + 1`` (cyclic), mixed by ERRNet's synthesis with a generator seeded
  by ``--seed``; the synthesis returns the effective reflection ``R`` (``I = T + R`` where nothing
  clipped), which is the reference for ``R̂``.
* **Methods** -- the identity (``T̂ = I``, ``R̂ = 0``: the input itself) and each ``--models`` entry
  (a shipped name or a folder written by ``innverse train durrnet``: DURRNet, its ablations, the
  U-Net baseline), run by :func:`innverse.apps.dereflect.remove_reflection_tensor` one pair at a time.
* **Scores** -- PSNR and SSIM (:mod:`innverse.metrics`) of ``T̂`` vs ``T`` and ``R̂`` vs ``R``, both
  clipped to [0, 1] first (what an 8-bit result file holds), means over the pairs; seconds per
  megapixel (one untimed warm-up call, then every pair, ``--threads`` threads); parameters; and
  GFLOP per megapixel, counted by ``torch.utils.flop_counter.FlopCounterMode`` on one 256x256 input
  (every convolution and transposed convolution: 2 FLOP per multiply-add; pooling, interpolation
  and elementwise work are not counted).

Writes ``dereflect.md``, ``dereflect.json`` (everything, per-pair values included) and, with
matplotlib, ``dereflect.png``: for the first ``--figure-pairs`` pairs, input | ``T̂`` and ``R̂`` of each
model | true ``T`` | true ``R``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from innverse.errors import UserError

__all__ = [
    "FLOP_SIZE",
    "Separator",
    "identity_separator",
    "model_separator",
    "load_test_pairs",
    "count_flops",
    "score_separator",
    "benchmark_dereflect",
    "render_dereflect",
    "dereflect_figure",
    "add_dereflect_arguments",
    "run_dereflect",
]

#: side of the input on which FLOPs are counted
FLOP_SIZE = 256

Log = Callable[[str], Any] | None


@dataclass
class Separator:
    """A method of the benchmark: ``run(I) -> (T_hat, R_hat)`` on (B, 3, H, W) tensors on [0, 1]."""

    name: str
    run: Callable[[Tensor], tuple[Tensor, Tensor]]
    about: str
    params: int | None = None
    gflop_per_mp: float | None = None
    source: str | None = None


def identity_separator() -> Separator:
    """The input itself: ``T̂ = I``, ``R̂ = 0`` (the score of doing nothing)."""
    return Separator(
        "input itself", lambda x: (x, torch.zeros_like(x)), "T = I, R = 0 (no separation)", 0, 0.0
    )


def count_flops(net: nn.Module, size: int = FLOP_SIZE, device: str | torch.device = "cpu") -> float:
    """GFLOP per megapixel of ``net`` on one ``size`` x ``size`` RGB input (see the module docstring)."""
    from torch.utils.flop_counter import FlopCounterMode

    p = next(net.parameters(), None)
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    x = x.to(device=p.device if p is not None else device, dtype=p.dtype if p is not None else torch.float32)
    mode = FlopCounterMode(display=False)
    with torch.no_grad(), mode:
        net(x)
    return float(mode.get_total_flops()) / (size * size) * 1e6 / 1e9


def model_separator(
    net: nn.Module,
    name: str,
    tile: int | None = None,
    overlap: int | None = None,
    device: str | torch.device = "cpu",
) -> Separator:
    """A loaded separator model as a benchmark method (its parameter count and FLOPs measured)."""
    from innverse.apps.dereflect import describe_separator, remove_reflection_tensor

    return Separator(
        name,
        lambda x: remove_reflection_tensor(x, net, tile, overlap),
        describe_separator(net),
        sum(p.numel() for p in net.parameters()),
        count_flops(net, device=device),
        _source_text(str(getattr(net, "source", "in memory"))),
    )


def _source_text(source: str) -> str:
    """Where a model came from, shipped weights named as such (not by their install path)."""
    from innverse.models.registry import source_name

    name = source_name(source)
    return f"shipped weights {name}" if name != source else source


def load_test_pairs(
    data: str | Path | None = None, size: int = 128, seed: int = 0, limit: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """``(I, T, R)`` of the fixed test split (module docstring), each (N, 3, size, size)."""
    from PIL import Image

    from innverse.paths import data_path
    from innverse.train.patches import list_images
    from innverse.train.tasks.durrnet import TEST_FIRST, test_pairs

    base = Path(data) if data is not None else data_path()
    if base is None:
        raise UserError("no data root: set INNVERSE_DATA (or --data) to the folder holding CBSD68/")
    files = list_images(base / "CBSD68")[TEST_FIRST:]
    if len(files) < 2:
        raise UserError(
            f"{base / 'CBSD68'}: needs at least {TEST_FIRST + 2} images "
            f"(from image {TEST_FIRST} on: the test split)"
        )
    import numpy as np

    test = []
    for f in files:
        with Image.open(f) as im:
            test.append(np.asarray(im.convert("RGB"), dtype=np.uint8).copy())
    small = min(min(a.shape[:2]) for a in test)
    if size < 16 or size > small:
        raise UserError(f"--size must be between 16 and {small} (the smallest test image side), got {size}")
    i, t, r = test_pairs(test, size, seed)
    if limit is not None:
        if limit < 1:
            raise UserError(f"--limit must be >= 1, got {limit}")
        i, t, r = i[:limit], t[:limit], r[:limit]
    return i, t, r


def _ssim(a: Tensor, b: Tensor) -> Tensor:
    from innverse.metrics import ssim

    return torch.cat([ssim(a[k : k + 1], b[k : k + 1]) for k in range(a.shape[0])])


def score_separator(
    m: Separator, mix: Tensor, t: Tensor, r: Tensor, device: str | torch.device = "cpu", log: Log = None
) -> dict:
    """Run ``m`` on every pair (one at a time, timed after one warm-up call) and score it."""
    from innverse.metrics import psnr

    dev = torch.device(device)
    m.run(mix[:1].to(dev))  # warm-up: first-call allocations are not the method's speed
    ts, rs, secs = [], [], 0.0
    for k in range(mix.shape[0]):
        x = mix[k : k + 1].to(dev)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        th, rh = m.run(x)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        secs += time.perf_counter() - t0
        ts.append(th.detach().float().cpu().clamp(0, 1))
        rs.append(rh.detach().float().cpu().clamp(0, 1))
    t_hat, r_hat = torch.cat(ts), torch.cat(rs)
    p_t, s_t, p_r, s_r = psnr(t_hat, t), _ssim(t_hat, t), psnr(r_hat, r), _ssim(r_hat, r)
    mp = mix.shape[0] * mix.shape[-2] * mix.shape[-1] / 1e6
    row = {
        "method": m.name,
        "about": m.about,
        "source": m.source,
        "pairs": int(mix.shape[0]),
        "t_psnr": float(p_t.mean()),
        "t_ssim": float(s_t.mean()),
        "r_psnr": float(p_r.mean()),
        "r_ssim": float(s_r.mean()),
        "seconds_per_mp": secs / mp,
        "params": m.params,
        "gflop_per_mp": m.gflop_per_mp,
        "per_pair": {
            "t_psnr": p_t.tolist(),
            "t_ssim": s_t.tolist(),
            "r_psnr": p_r.tolist(),
            "r_ssim": s_r.tolist(),
        },
    }
    if log:
        log(
            f"{m.name}: T {row['t_psnr']:.2f} dB / SSIM {row['t_ssim']:.4f}, R {row['r_psnr']:.2f} dB / SSIM "
            f"{row['r_ssim']:.4f}, {row['seconds_per_mp']:.3g} s/MP"
        )
    return {"row": row, "t_hat": t_hat, "r_hat": r_hat}


def dereflect_figure(
    mix: Tensor, t: Tensor, r: Tensor, outputs: dict[str, tuple[Tensor, Tensor]], path: Path
) -> Path | None:
    """The figure grid (module docstring) of the pairs in ``mix`` (None when matplotlib is missing)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    from innverse.bench.plots import save_figure
    from innverse.metrics import psnr

    k = mix.shape[0]
    cols = 3 + 2 * len(outputs)
    aspect = mix.shape[-1] / mix.shape[-2]
    fig = Figure(figsize=(1.5 * aspect * cols, 1.65 * k + 0.5))
    axes = fig.subplots(k, cols, squeeze=False)
    for i in range(k):
        first = ("input I", mix[i], f"{float(psnr(mix[i], t[i])):.2f} dB vs T")
        panels: list[tuple[str, Tensor, str]] = [first]
        for name, (th, rh) in outputs.items():
            panels.append((f"{name}: T", th[i], f"{float(psnr(th[i], t[i])):.2f} dB"))
            panels.append((f"{name}: R", rh[i], f"{float(psnr(rh[i], r[i])):.2f} dB"))
        panels += [("true T", t[i], ""), ("true R", r[i], "")]
        for j, (title, img, label) in enumerate(panels):
            ax = axes[i][j]
            ax.imshow(img.clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=7)
            if label:
                ax.set_xlabel(label, fontsize=7)
    fig.suptitle("Reflection removal on the fixed test pairs (CBSD68[56:], ERRNet synthesis)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def _display_name(spec: str, taken: set[str]) -> str:
    p = Path(spec)
    name = (p.parent.name if p.name == "model" else p.name) if p.exists() else spec
    base, n = name, 2
    while name in taken:
        name = f"{base} ({n})"
        n += 1
    taken.add(name)
    return name


def benchmark_dereflect(
    out: str | Path,
    models: Sequence[str | nn.Module] = ("durrnet-lite",),
    data: str | Path | None = None,
    size: int = 128,
    seed: int = 0,
    limit: int | None = None,
    device: str = "cpu",
    tile: int | None = None,
    figure_pairs: int = 3,
    pairs: tuple[Tensor, Tensor, Tensor] | None = None,
    log: Log = print,
) -> dict:
    """Run the benchmark of the module docstring; writes ``dereflect.md/.json/.png`` into ``out``.

    ``models``: shipped names, model folders or loaded models; ``pairs``: ``(I, T, R)`` to use instead
    of the fixed test pairs (the protocol then says so)."""
    from innverse.apps.dereflect import check_tiling, load_separator
    from innverse.bench.environment import environment
    from innverse.bench.report import json_text, output_folder, write_text
    from innverse.devices import resolve_device

    folder = output_folder(out)
    dev = resolve_device(device, option="--device")
    tile, overlap = check_tiling(tile, None)
    if figure_pairs < 0:
        raise UserError(f"--figure-pairs must be >= 0, got {figure_pairs}")
    taken: set[str] = {"input itself"}
    methods = [identity_separator()]
    for spec in models:
        net = load_separator(spec, dev)  # every model loads (or fails in one line) before any work
        label = str(getattr(net, "source", spec)) if isinstance(spec, nn.Module) else spec
        name = _display_name(label, taken)
        methods.append(model_separator(net, name, tile, overlap, dev))
    if pairs is None:
        mix, t, r = load_test_pairs(data, size, seed, limit)
        test = f"{mix.shape[0]} pairs {size}x{size} of CBSD68[56:] (centre crops; R from the next image)"
    else:
        mix, t, r = (a.float() for a in pairs)
        test = f"{mix.shape[0]} given pairs {mix.shape[-1]}x{mix.shape[-2]}"
    res: dict = {
        "benchmark": "dereflect",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment(dev),
        "protocol": {
            "test": test,
            "synthesis": f"ERRNet ReflectionSythesis_1 (innverse.physics.reflection), generator seed {seed}",
            "seed": seed,
            "tile": tile,
            "metrics": "PSNR (dB) and SSIM (Gaussian 11x11, sigma 1.5) of T_hat vs T and R_hat vs the "
            "effective R, outputs clipped to [0, 1]; seconds per megapixel after one warm-up call; "
            f"GFLOP/MP by FlopCounterMode on one {FLOP_SIZE}x{FLOP_SIZE} input (2 FLOP per multiply-add)",
        },
        "rows": [],
    }
    shown: dict[str, tuple[Tensor, Tensor]] = {}
    k = min(figure_pairs, mix.shape[0])
    for m in methods:
        s = score_separator(m, mix, t, r, dev, log)
        res["rows"].append(s["row"])
        if m.name != "input itself":
            shown[m.name] = (s["t_hat"][:k], s["r_hat"][:k])
    written = [
        write_text(folder / "dereflect.json", json_text(res)),
        write_text(folder / "dereflect.md", render_dereflect(res)),
    ]
    if k:
        fig = dereflect_figure(mix[:k], t[:k], r[:k], shown, folder / "dereflect.png")
        if fig is not None:
            written.append(fig)
        elif log:
            log("matplotlib not installed (pip install innverse[plot]); no figure written")
    if log:
        log("wrote " + ", ".join(str(p) for p in written))
    return res


def _fmt(v: float | None, f: str) -> str:
    return "-" if v is None else format(v, f)


def render_dereflect(res: dict) -> str:
    """The Markdown report of :func:`benchmark_dereflect`'s results."""
    from innverse.bench.report import machine_line, markdown_table

    head = ["method", "T PSNR", "T SSIM", "R PSNR", "R SSIM", "s/MP", "params", "GFLOP/MP"]
    body = []
    for r in res["rows"]:
        body.append(
            [
                r["method"],
                f"{r['t_psnr']:.2f}",
                f"{r['t_ssim']:.4f}",
                f"{r['r_psnr']:.2f}",
                f"{r['r_ssim']:.4f}",
                f"{r['seconds_per_mp']:.3g}" if r["params"] else "-",
                f"{r['params']:,}" if r["params"] else "-",
                _fmt(r["gflop_per_mp"], ".2f") if r["params"] else "-",
            ]
        )
    p, env = res["protocol"], res["environment"]
    lines = [
        "# Reflection removal on synthetic pairs",
        "",
        f"Test: {p['test']}; mixtures by {p['synthesis']}. {p['metrics']}.",
        "",
        markdown_table(head, body),
        "",
    ]
    for r in res["rows"]:
        src = f" ({r['source']})" if r.get("source") else ""
        lines.append(f"- **{r['method']}**: {r['about']}{src}.")
    models = [r for r in res["rows"] if r["params"]]
    if models:
        first = models[0]
        mine = first["per_pair"]["t_psnr"]
        lines += ["", f"Pair by pair (T PSNR), {first['method']} against each other row:", ""]
        for r in res["rows"]:
            if r is first:
                continue
            theirs = r["per_pair"]["t_psnr"]
            wins = sum(a > b for a, b in zip(mine, theirs, strict=True))
            gain = sum(a - b for a, b in zip(mine, theirs, strict=True)) / max(1, len(mine))
            lines.append(f"- vs {r['method']}: higher on {wins} of {len(mine)} pairs, mean {gain:+.2f} dB")
    lines += ["", machine_line(env, res["created"]), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command-line wiring
def add_dereflect_arguments(p: Any) -> None:
    """The options of ``innverse benchmark dereflect`` (for an argparse parser)."""
    p.add_argument("--out", required=True, metavar="DIR", help="folder for dereflect.md/.json/.png")
    p.add_argument(
        "--models",
        action="append",
        metavar="LIST",
        help="comma-separated separators: shipped names or folders from 'innverse train durrnet' "
        "(repeatable; default durrnet-lite); the input itself is always scored",
    )
    p.add_argument(
        "--data", metavar="DIR", help="data root holding CBSD68/ (default: the innverse data root)"
    )
    p.add_argument("--size", type=int, default=128, metavar="S", help="test crop side (default 128)")
    p.add_argument("--seed", type=int, default=0, help="seed of the reflection synthesis (default 0)")
    p.add_argument("--limit", type=int, metavar="N", help="use only the first N test pairs")
    p.add_argument(
        "--tile", type=int, default=0, metavar="N", help="tiled inference, N-pixel tiles (default 0: whole)"
    )
    p.add_argument(
        "--figure-pairs", type=int, default=3, metavar="K", help="pairs shown in dereflect.png (default 3)"
    )
    from innverse.bench.options import add_runtime_arguments

    add_runtime_arguments(p)


def run_dereflect(args: Any) -> int:
    """Run ``innverse benchmark dereflect`` from parsed :func:`add_dereflect_arguments` options."""
    from innverse.bench.options import apply_runtime

    apply_runtime(args, device=False)  # the device is resolved by benchmark_dereflect
    specs = [s.strip() for group in (args.models or ["durrnet-lite"]) for s in group.split(",")]
    if any(not s for s in specs):
        raise UserError("--models has an empty entry (give comma-separated names or folders)")
    res = benchmark_dereflect(
        args.out,
        models=specs,
        data=args.data,
        size=args.size,
        seed=args.seed,
        limit=args.limit,
        device=args.device,
        tile=args.tile,
        figure_pairs=args.figure_pairs,
    )
    print(render_dereflect(res))
    return 0
