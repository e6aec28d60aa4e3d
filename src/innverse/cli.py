"""The ``innverse`` command.

Each subcommand lives in :mod:`innverse.commands.<name>` and exposes ``add_parser(subparsers)``
and ``run(args) -> int``.  Only the subcommand being run is imported (``innverse --help`` lists the
one-line summaries of :data:`innverse.commands.SUMMARIES`), and the command modules import torch only
inside ``run``, so that help and argument errors come back at once.

Errors a user can cause are raised as :class:`innverse.errors.UserError` and printed as one line on
stderr, prefixed by the subcommand (``innverse denoise: error: ...``), with exit code 2 — never a
traceback.  Ctrl-C exits with 130.  Options every compute command shares (``--threads``, ``-q``)
are declared through :mod:`innverse.commands.options` and ``--threads`` is applied here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from innverse import __version__
from innverse.commands import COMMANDS, SUMMARIES
from innverse.commands.options import HelpFormatter, help_formatter
from innverse.errors import UserError

__all__ = ["main", "build_parser"]


def _finish_parsers(parser: argparse.ArgumentParser, prog_key: str = "_prog") -> None:
    """Give ``parser`` and its nested subcommand parsers the formatter and their error prefix."""
    parser.formatter_class = help_formatter(parser.formatter_class)
    parser.set_defaults(**{prog_key: parser.prog})
    _PARSERS[parser.prog] = parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                _finish_parsers(sub, prog_key)


#: every parser by its ``prog``, so that unknown options are reported by the subcommand they follow
_PARSERS: dict[str, argparse.ArgumentParser] = {}


def _available(name: str) -> bool:
    try:
        return importlib.util.find_spec(f"innverse.commands.{name}") is not None
    except (ImportError, ValueError):
        return False


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    for a in argv:
        if a == "--":
            return None
        if not a.startswith("-"):
            return a
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``innverse`` parser.

    With ``argv``, only the subcommand it names gets its full parser (the others are listed by
    summary); without it every subcommand module is imported.
    """
    parser = argparse.ArgumentParser(
        prog="innverse",
        description="Exactly invertible neural networks for image restoration.",
        epilog="Run 'innverse COMMAND --help' for the options of a command.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"innverse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = None if argv is None else _command_in(argv)
    for name in COMMANDS:
        if not _available(name):
            continue
        if argv is not None and name != wanted and name in SUMMARIES:
            sub.add_parser(name, help=SUMMARIES[name], add_help=False)
            continue
        mod = importlib.import_module(f"innverse.commands.{name}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
        _finish_parsers(p)
    return parser


def _prog(args: argparse.Namespace) -> str:
    return getattr(args, "_prog", None) or f"innverse {getattr(args, 'command', '')}".strip()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``innverse`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported with the prefix and usage of the (sub)command they were given to
        _PARSERS.get(getattr(args, "_prog", ""), parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    prog = _prog(args)
    try:
        from innverse.commands.options import apply_threads
        from innverse.runtime import tune_from_environment

        tune_from_environment(default=args.command == "train")
        apply_threads(getattr(args, "threads", None))
        return int(args._run(args) or 0)
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{prog}: error: {_OOM}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # torch.OutOfMemoryError (CUDA) is a RuntimeError
        if "out of memory" not in str(e).lower():
            raise
        print(f"{prog}: error: {_OOM}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away, e.g. `innverse models | head -1`
        _silence_stdout()
        return 1


_OOM = "out of memory (try a smaller --tile, or --device cpu)"


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
