"""Faithfulness, exactness and speed of innverse's WINNet/NENet with the released checkpoints.

    python benchmarks/winnet_official.py                 # everything on Set12
    python benchmarks/winnet_official.py --only quality  # one part: quality | nenet | exact | speed
    python benchmarks/winnet_official.py --only quality --sigma 25   # one noise level
    python benchmarks/winnet_official.py --released      # also time the released computation
    python benchmarks/winnet_official.py --released-quality   # and score it (slow)

The protocol and the parts are :mod:`innverse.bench.released`.  Quality runs with ``--threads``
threads (default 1), speed always with one.  Writes ``--out``/winnet_official.{json,md}.
"""

from __future__ import annotations

import argparse
import sys

from innverse.bench.options import parse_sigmas
from innverse.bench.released import PARTS, render_released, run_released
from innverse.bench.report import json_text, output_folder, write_text
from innverse.errors import UserError


def main(argv: list[str] | None = None) -> int:
    from innverse.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="Set12")
    ap.add_argument("--only", choices=PARTS, action="append")
    ap.add_argument("--released", action="store_true", help="also time the released computation (slow)")
    ap.add_argument(
        "--released-quality",
        action="store_true",
        help="also score the released computation (replicate-padded split; slow)",
    )
    ap.add_argument("--sigma", default="15,25,50", help="noise levels of the quality part (15, 25, 50)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1, help="timing repeats per image (best of)")
    ap.add_argument("--out", default="bench_out")
    args = ap.parse_args(argv)
    log = lambda m: print(m, flush=True)  # noqa: E731
    try:
        sigmas = [int(s) for s in parse_sigmas(args.sigma)]
        res = run_released(
            args.set,
            args.only or PARTS,
            args.released,
            args.released_quality,
            args.threads,
            args.repeats,
            log,
            sigmas,
        )
        out = output_folder(args.out)
        write_text(out / "winnet_official.json", json_text(res, indent=2))
        md = render_released(res)
        write_text(out / "winnet_official.md", md)
    except UserError as e:
        print(f"winnet_official: error: {e}", file=sys.stderr)
        return 2
    print(md, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
