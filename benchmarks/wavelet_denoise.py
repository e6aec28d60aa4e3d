"""Classical wavelet denoising (BayesShrink / VisuShrink on lifting CDF 9/7) on Set12 / BSD68.

    python benchmarks/wavelet_denoise.py                              # Set12, sigma 15, 25, 50
    python benchmarks/wavelet_denoise.py --data Set12 --data BSD68 --sigmas 25 --blind

The protocol and the columns are :mod:`innverse.bench.wavelet`.  Writes ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import sys

import torch

from innverse.bench.environment import environment
from innverse.bench.options import parse_names, parse_sigmas
from innverse.bench.protocol import load_images, resolve_set
from innverse.bench.report import json_text, write_text
from innverse.bench.wavelet import render_wavelet, wavelet_rows
from innverse.errors import UserError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", action="append", help="dataset name or folder, repeatable (default Set12)")
    ap.add_argument("--sigmas", default="15,25,50", help="comma-separated noise levels, 0-255 scale")
    ap.add_argument("--methods", default="bayes,visu", help="comma-separated: bayes, visu")
    ap.add_argument("--wavelet", default="cdf97", help="wavelet (default cdf97)")
    ap.add_argument("--level", type=int, default=None, help="levels (default: denoise's default)")
    ap.add_argument("--blind", action="store_true", help="denoise with the estimated sigma")
    ap.add_argument("--no-select", action="store_true", help="threshold every band (textbook VisuShrink)")
    ap.add_argument("--limit", type=int, default=None, help="first N images of each dataset")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--out", default="bench_out/wavelet_denoise.json", help="JSON output file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        sigmas = parse_sigmas(args.sigmas, "--sigmas")
        methods = parse_names(args.methods, ("bayes", "visu"), "--methods")
        rows = []
        for spec in args.data or ["Set12"]:
            folder = resolve_set(spec)
            rows += wavelet_rows(
                folder.name,
                load_images(folder, limit=args.limit),
                sigmas,
                methods,
                args.wavelet,
                args.level,
                args.blind,
                False if args.no_select else None,
                log,
            )
        table = render_wavelet(rows)
        config = {
            "sigmas": sigmas,
            "methods": methods,
            "wavelet": args.wavelet,
            "level": args.level,
            "blind": args.blind,
            "select": not args.no_select,
            "data": args.data or ["Set12"],
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        record = {"config": config, "environment": environment(), "results": rows, "table": table}
        write_text(args.out, json_text(record, indent=2))
    except UserError as e:
        print(f"wavelet_denoise: error: {e}", file=sys.stderr)
        return 2
    print(table)
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
