"""How detectable is a hiding model's stego residual at a lower amplitude?

For each factor ``a`` of ``--alphas``, the stego images of ``--model`` become
``round8(cover + a (stego - cover))``: the same residual pattern at a fraction of its amplitude, after
the 8-bit rounding a saved image has.  Fresh steganalysers are fitted exactly as in
``innverse benchmark hiding`` (the same 384 training-pool pairs, 250 steps, seeds ``0..--seeds-1``,
:func:`innverse.bench.hiding.train_steganalyser`) and scored on the 72 test tiles and their scaled
stego images.  Nothing is revealed: a scaled residual no longer carries the secret, so the table gives
only the stego PSNR and the detection accuracy, a bound on what amplitude alone can buy.

    python benchmarks/steg_amplitude.py --model hinet --alphas 1,0.5,0.25,0.125 \\
        --out benchmarks/results/hiding/steg_amplitude.json
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from innverse.apps.hiding import load_hider
from innverse.bench.environment import environment
from innverse.bench.hiding import (
    hide_all,
    hinet_method,
    steganalysis_accuracy,
    steganalysis_pairs,
    train_steganalyser,
)
from innverse.bench.report import json_text, markdown_table, write_text
from innverse.errors import UserError
from innverse.train.tasks.durrnet import load_pool
from innverse.train.tasks.hinet import TILE, held_out_pairs, held_out_tiles, psnr


def _round8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="hinet", help="a one-secret hiding model (name or folder)")
    ap.add_argument("--alphas", default="1,0.5,0.25,0.125", help="residual scale factors in (0, 1]")
    ap.add_argument("--seeds", type=int, default=2, help="steganalysers per factor (default 2)")
    ap.add_argument("--out", default="benchmarks/results/hiding/steg_amplitude.json")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    try:
        alphas = [float(v) for v in a.alphas.split(",")]
        if not alphas or not all(0 < v <= 1 for v in alphas) or a.seeds < 1:
            raise ValueError
    except ValueError:
        print("steg_amplitude: --alphas must be numbers in (0, 1] and --seeds at least 1", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    try:
        net = load_hider(a.model, "cpu")
        if net.secrets != 1:
            raise UserError(f"{a.model} hides {net.secrets} secrets; this check takes a one-secret model")
        pool, test = load_pool()
    except UserError as e:
        print(f"steg_amplitude: {e}", file=sys.stderr)
        return 2
    m = hinet_method(net, str(a.model))
    covers, secrets = held_out_pairs(held_out_tiles(test, TILE), 1)
    train_c, train_s = steganalysis_pairs(pool, 384, 1, 64)  # the benchmark's pairs (seed 0)
    with torch.no_grad():
        train_stego, test_stego = hide_all(m, train_c, train_s), hide_all(m, covers, secrets)
    rows = []
    for alpha in alphas:
        t0 = time.perf_counter()
        tr = _round8(train_c + alpha * (train_stego - train_c))
        te = _round8(covers + alpha * (test_stego - covers))
        accs = []
        for seed in range(a.seeds):
            det, _ = train_steganalyser(train_c, tr, steps=250, seed=seed, holdout=0.0)
            accs.append(steganalysis_accuracy(det, covers, te))
        rows.append(
            {
                "alpha": alpha,
                "stego_psnr": float(psnr(te, covers).mean()),
                "accuracies": accs,
                "mean": sum(accs) / len(accs),
                "seconds": time.perf_counter() - t0,
            }
        )
        print(
            f"alpha {alpha}: stego {rows[-1]['stego_psnr']:.2f} dB, caught {100 * rows[-1]['mean']:.1f} %",
            flush=True,
        )
    table = markdown_table(
        ["residual scale", "stego PSNR (dB)", "steganalysis acc."],
        [[f"{r['alpha']:g}", f"{r['stego_psnr']:.2f}", f"{100 * r['mean']:.1f} %"] for r in rows],
        pad=False,
    )
    res = {
        "benchmark": "steg_amplitude",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment("cpu"),
        "model": str(a.model),
        "protocol": "384 training-pool pairs (64x64), 250 steps per steganalyser, 72 CBSD68[56:] test tiles",
        "seeds": list(range(a.seeds)),
        "rows": rows,
        "table": table,
    }
    write_text(a.out, json_text(res))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
