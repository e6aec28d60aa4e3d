"""The ``innverse`` command.

Each subcommand lives in :mod:`innverse.commands.<name>` and exposes ``add_parser(subparsers)``
and ``run(args) -> int``.  Errors a user can cause are raised as :class:`innverse.errors.UserError`
and printed as one line on stderr with a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from innverse import __version__
from innverse.errors import UserError

#: subcommands, in the order ``--help`` lists them
COMMANDS = ["denoise", "deblur", "train", "benchmark", "models", "wavelet"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="innverse",
        description="Exactly invertible neural networks for image restoration.",
    )
    parser.add_argument("--version", action="version", version=f"innverse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"innverse.commands.{name}")
        except ModuleNotFoundError as e:  # a subcommand not written yet
            if e.name == f"innverse.commands.{name}":
                continue
            raise
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    from innverse.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    try:
        return int(args._run(args) or 0)
    except UserError as e:
        print(f"innverse {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"innverse {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
