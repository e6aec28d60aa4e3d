"""Score innverse's shipped weights against the released (official) WINNet/NENet weights, and write
the model cards (``src/innverse/weights/<name>.card.json``) from the measurement.

    python benchmarks/pretrained_eval.py                     # Set12 + BSD68, sigma 15/25/50
    python benchmarks/pretrained_eval.py --sets Set12 --no-cards
    python benchmarks/pretrained_eval.py --names winnet-blind \
        --official-from benchmarks/results/pretrained.json

The protocol is :mod:`innverse.bench.pretrained`; one thread.  Writes ``--out``/pretrained.{json,md}.
"""

from __future__ import annotations

import argparse
import platform
import sys

import torch

from innverse.bench.environment import environment
from innverse.bench.pretrained import read_official, render_pretrained, run_pretrained, update_cards
from innverse.bench.report import json_text, output_folder, write_text
from innverse.errors import UserError


def main(argv: list[str] | None = None) -> int:
    from innverse.models import list_pretrained
    from innverse.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="Set12,BSD68")
    ap.add_argument("--names", default=None, help="comma list (default: every shipped model)")
    ap.add_argument("--no-cards", action="store_true", help="do not rewrite the model cards")
    ap.add_argument("--out", default="bench_out")
    ap.add_argument(
        "--official-from",
        default=None,
        metavar="JSON[,JSON...]",
        help="reuse the released weights' scores from earlier runs of this script (same sets, "
        "sigma and noise: they are deterministic) instead of recomputing them",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        cached = read_official(args.official_from.split(",")) if args.official_from else {}
        names = args.names.split(",") if args.names else list(list_pretrained())
        rows = run_pretrained(names, args.sets.split(","), cached, lambda m: print(m, flush=True))
        meta = {
            "machine": platform.machine(),
            "torch": torch.__version__,
            "threads": 1,
            "noise": "innverse.bench.protocol seeded convention",
            "command": " ".join(sys.argv),
        }
        out = output_folder(args.out)
        record = {"meta": meta, "environment": environment(), "rows": rows}
        write_text(out / "pretrained.json", json_text(record, indent=2))
        md = render_pretrained(rows)
        write_text(out / "pretrained.md", md)
        print(md, end="")
        if not args.no_cards:
            for f in update_cards(rows, meta):
                print(f"updated {f}")
    except UserError as e:
        print(f"pretrained_eval: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
