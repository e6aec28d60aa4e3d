"""Options shared by the ``innverse`` subcommands, and the library defaults they show in ``--help``.

This module imports neither torch nor numpy, so that building a parser (and ``innverse --help``)
stays fast.  The defaults below are copies of the library's constants (``tests/commands`` checks that
they are equal); the commands pass them on to the library unchanged.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from innverse.errors import UserError

__all__ = [
    "DEFAULT_TILE",
    "DEFAULT_OVERLAP",
    "MIN_TILE",
    "COLOR_SPACES",
    "DEFAULT_COLOR_SPACE",
    "BLIND_DENOISER",
    "NOISE_ESTIMATOR",
    "DEFAULT_LAMBDA",
    "DEFAULT_MAX_ITER",
    "WAVELETS",
    "add_command",
    "add_runtime_options",
    "add_overwrite_options",
    "add_output_options",
    "add_inference_options",
    "apply_threads",
    "check_names",
    "resolve_tiling",
    "Reporter",
    "plural",
    "HelpFormatter",
    "help_formatter",
]

#: :data:`innverse.solvers.denoise.DEFAULT_TILE` and ``DEFAULT_OVERLAP``
DEFAULT_TILE = 320
DEFAULT_OVERLAP = 16
#: smallest tile accepted by ``--tile`` (0 means the whole image)
MIN_TILE = 16
#: :data:`innverse.data.color.COLOR_SPACES` and ``DEFAULT_COLOR_SPACE``
COLOR_SPACES = ("opponent", "ycbcr", "rgb")
DEFAULT_COLOR_SPACE = "opponent"
#: :data:`innverse.solvers.denoise.BLIND_DENOISER` and ``NOISE_ESTIMATOR``
BLIND_DENOISER = "winnet-blind"
NOISE_ESTIMATOR = "nenet"
#: :data:`innverse.solvers.pnp.DEFAULT_LAMBDA` and ``DEFAULT_MAX_ITER``
DEFAULT_LAMBDA = 0.23
DEFAULT_MAX_ITER = 30
#: :func:`innverse.wavelets.wavelet_names`
WAVELETS = ("bior2.2", "bior4.4", "cdf53", "cdf97", "db1", "haar")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 file"``, ``"3 files"``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of threads, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def add_command(
    subparsers: Any, name: str, summary: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """The parser of ``innverse <name>``: ``summary`` in the command list, ``description`` and the
    ``epilog`` of examples shown as written."""
    return subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_runtime_options(p: argparse.ArgumentParser, device: bool = True) -> None:
    """``--device``, ``--threads N`` and ``-q/--quiet``; :mod:`innverse.cli` applies ``--threads``."""
    if device:
        p.add_argument("--device", metavar="DEV", help="cpu or cuda (default: cuda when available)")
    p.add_argument(
        "--threads",
        type=_threads,
        metavar="N",
        help="CPU threads for the computation (torch.set_num_threads; default: torch's choice)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")


def add_overwrite_options(p: argparse.ArgumentParser, what: str = "output") -> None:
    """``--force`` and ``--skip-existing`` (mutually exclusive)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--force", action="store_true", help=f"overwrite existing {what} files")
    g.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave inputs whose outputs already exist alone (resumes an interrupted folder run)",
    )


def add_output_options(p: argparse.ArgumentParser, what: str = "output") -> None:
    """``-o``, ``--force``, ``--skip-existing`` and ``--in-place``."""
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file (one input) or folder; a folder input keeps its sub-folders "
        "(required unless --in-place)",
    )
    add_overwrite_options(p, what)
    p.add_argument(
        "--in-place",
        action="store_true",
        help="replace each input file by its result (an output equal to its input is refused without it)",
    )


def add_inference_options(
    p: argparse.ArgumentParser,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    min_tile: int = MIN_TILE,
    color: bool = True,
) -> None:
    """``--tile``, ``--overlap`` and (with ``color``) ``--color`` of the network-based commands.

    ``tile``, ``overlap`` and ``min_tile``: the defaults and the smallest tile shown in ``--help``
    (pass the same ``overlap`` and ``min_tile`` to :func:`resolve_tiling`).
    """
    p.add_argument(
        "--tile",
        type=int,
        default=tile,
        metavar="N",
        help=f"tile size in pixels, bounds the memory on large images (0 = whole image, else >= {min_tile})",
    )
    p.add_argument(
        "--overlap",
        type=int,
        metavar="N",
        help=f"tile overlap in pixels (default: {overlap}, at most a quarter of --tile)",
    )
    if color:
        p.add_argument("--color", choices=COLOR_SPACES, default=DEFAULT_COLOR_SPACE, help="colour handling")


def resolve_tiling(
    args: argparse.Namespace, min_size: int = 1, overlap_default: int = DEFAULT_OVERLAP
) -> tuple[int | None, int]:
    """(tile or None for whole images, overlap) from ``--tile``/``--overlap``, checked.

    ``--tile`` is 0 or at least ``max(MIN_TILE, min_size)``.  An unset ``--overlap`` is
    ``overlap_default`` capped at a quarter of the tile, so that any valid ``--tile`` works on its own
    and no message mentions an overlap the user did not choose.
    """
    tile, overlap = int(args.tile), args.overlap
    floor = max(MIN_TILE, int(min_size))
    if tile < 0 or 0 < tile < floor:
        raise UserError(f"--tile must be 0 (whole image) or at least {floor} pixels, got {tile}")
    if overlap is not None and overlap < 0:
        raise UserError(f"--overlap must be >= 0, got {overlap}")
    if tile == 0:
        return None, 0 if overlap is None else int(overlap)
    if overlap is None:
        return tile, min(int(overlap_default), tile // 4)
    if overlap >= tile:
        raise UserError(f"--overlap must be smaller than --tile {tile}, got {overlap}")
    return tile, int(overlap)


def check_names(args: argparse.Namespace, *options: str) -> None:
    """Refuse empty values of name options such as ``--model ''`` (they would name the current folder)."""
    for opt in options:
        v = getattr(args, opt.lstrip("-").replace("-", "_"), None)
        if v is not None and not str(v).strip():
            raise UserError(f"{opt} is empty (give a name from 'innverse models' or a path)")


def apply_threads(n: int | None) -> None:
    """``torch.set_num_threads(n)`` when ``n`` is given (imports torch only then)."""
    if n is None:
        return
    import torch

    torch.set_num_threads(int(n))


class Reporter:
    """Where a command's messages go: results to stdout (silenced by ``--quiet``), notes to stderr."""

    def __init__(self, prog: str, quiet: bool = False):
        self.prog = prog
        self.quiet = quiet
        self._write = None  # set while a progress bar is shown (tqdm.write)

    def info(self, msg: str) -> None:
        """A result line (stdout), unless ``--quiet``."""
        if self.quiet:
            return
        if self._write is not None:
            self._write(msg, file=sys.stdout)
        else:
            print(msg, flush=True)

    def _err(self, msg: str) -> None:
        if self._write is not None:
            self._write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def note(self, msg: str) -> None:
        """A one-line note on stderr (shown even with ``--quiet``)."""
        self._err(f"{self.prog}: note: {msg}")

    def warn(self, msg: str) -> None:
        """A one-line warning on stderr."""
        self._err(f"{self.prog}: warning: {msg}")

    def error(self, msg: str) -> None:
        """A one-line error on stderr (one file of several failed)."""
        self._err(f"{self.prog}: error: {msg}")


# ------------------------------------------------------------------------------------------- help


_REST = [
    (re.compile(r"``([^`]+)``"), r"\1"),  # ``literal``
    (re.compile(r":[a-z]+:`~?([^`]+)`"), r"\1"),  # :func:`name`
    (re.compile(r"`([^`]+)`_?"), r"\1"),  # `text` / `link`_
]


def _plain(text: str) -> str:
    """reST markup of docstrings to plain text (help is read in a terminal)."""
    for pat, rep in _REST:
        text = pat.sub(rep, text)
    return text.replace("::\n", ":\n")


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default (when it has a meaningful one) and strips reST markup."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default" in text.lower()
            or default in (None, False, argparse.SUPPRESS)
            or default == []
            or not action.option_strings
            or isinstance(action, argparse._HelpAction | argparse._VersionAction)
        ):
            return text
        shown = ", ".join(map(str, default)) if isinstance(default, list | tuple) else "%(default)s"
        return f"{text} (default: {shown})" if text else f"default: {shown}"

    def format_help(self) -> str:
        return _plain(super().format_help())


def help_formatter(base: object = argparse.HelpFormatter) -> type[argparse.HelpFormatter]:
    """``base`` (e.g. ``argparse.RawDescriptionHelpFormatter``) with :class:`HelpFormatter`'s defaults
    and plain text; :mod:`innverse.cli` applies it to every subcommand's parser."""
    if not isinstance(base, type):
        return HelpFormatter
    if issubclass(base, HelpFormatter):
        return base
    return type(f"Innverse{base.__name__}", (HelpFormatter, base), {})
