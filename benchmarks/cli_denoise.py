"""The CLI as a user meets it: 8-bit noisy PNG files in, denoised PNG files out.

    python benchmarks/cli_denoise.py                   # BSD68 (held out from Train400), first 10 images
    python benchmarks/cli_denoise.py --limit 0         # all 68

The protocol is :mod:`innverse.bench.cli_files`; ``innverse denoise`` runs in this process on one
thread.  ``--ensemble`` adds a ``--sigma S --ensemble`` pass.  Writes ``--out``/cli_denoise.{json,md}.
"""

from __future__ import annotations

import argparse
import sys

import torch

from innverse.bench.cli_files import cli_on_8bit, render_cli
from innverse.bench.environment import environment
from innverse.bench.options import parse_sigmas
from innverse.bench.protocol import load_images
from innverse.bench.report import json_text, output_folder, write_text
from innverse.cli import main as cli
from innverse.errors import UserError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="BSD68")
    ap.add_argument("--sigma", default="15,25,50")
    ap.add_argument("--limit", type=int, default=10, help="first N images (0 = all)")
    ap.add_argument("--out", default="bench_out")
    ap.add_argument("--ensemble", action="store_true", help="also run --sigma S --ensemble")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        images = load_images(args.data, limit=args.limit or None)
        rows = cli_on_8bit(
            images, parse_sigmas(args.sigma), cli, args.ensemble, lambda m: print(m, flush=True)
        )
        out = output_folder(args.out)
        record = {"data": args.data, "images": len(images), "environment": environment(), "rows": rows}
        write_text(out / "cli_denoise.json", json_text(record, indent=2))
        md = render_cli(rows)
        write_text(out / "cli_denoise.md", md + "\n")
    except UserError as e:
        print(f"cli_denoise: error: {e}", file=sys.stderr)
        return 2
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
