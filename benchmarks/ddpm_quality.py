"""Sample quality of the Fashion-MNIST diffusion prior: ``innverse benchmark ddpm`` with its defaults.

    python benchmarks/ddpm_quality.py                          # the issue's table, into bench_out/ddpm
    python benchmarks/ddpm_quality.py --samples-ddpm 200 --out results/ddpm
    python benchmarks/ddpm_quality.py --samplers ddim-20 -n 100 --prior runs/ddpm-fmnist

Every option is the command's (``innverse benchmark ddpm --help``); the protocol is
:mod:`innverse.bench.ddpm`.  ``--out`` defaults to ``bench_out/ddpm`` here.
"""

from __future__ import annotations

import sys

from innverse.cli import main as cli


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--out" or a.startswith("--out=") for a in args):
        args += ["--out", "bench_out/ddpm"]
    return cli(["benchmark", "ddpm", *args])


if __name__ == "__main__":
    sys.exit(main())
