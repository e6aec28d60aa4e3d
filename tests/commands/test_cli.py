"""The ``innverse`` entry point: fast help without torch, help texts, error prefixes, --threads."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
import torch

import innverse.commands.denoise as denoise_cmd
from innverse.cli import build_parser, main
from innverse.commands import COMMANDS, SUMMARIES

from ._helpers import assert_clean_failure, cli, put

_PROBE = """
import sys
from innverse.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("TORCH" if "torch" in sys.modules else "NO-TORCH", file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["denoise", "--help"],
        ["deblur", "--help"],
        ["models", "--help"],
        ["wavelet", "denoise", "--help"],
        ["denoise", "--no-such-option"],
    ],
)
def test_help_does_not_import_torch(argv):
    r = subprocess.run(
        [sys.executable, "-c", _PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120
    )
    assert r.stderr.strip().splitlines()[-1] == "NO-TORCH", r.stderr
    assert "Traceback" not in r.stderr


def _parsers(p: argparse.ArgumentParser):
    yield p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in dict.fromkeys(a.choices.values()):
                yield from _parsers(sub)


def test_summaries_match_the_commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    for name in COMMANDS:
        if name in helps and name in SUMMARIES:
            assert SUMMARIES[name] == helps[name], name
    assert [n for n in COMMANDS if n in helps] == list(helps)
    lazy = build_parser(["--help"])
    sub = next(a for a in lazy._actions if isinstance(a, argparse._SubParsersAction))
    assert {c.dest: c.help for c in sub._choices_actions} == helps


def test_help_is_plain_text_and_shows_defaults():
    for p in _parsers(build_parser()):
        text = p.format_help()
        assert "``" not in text and ":func:" not in text and "`" not in text, p.prog
        assert "(default: None)" not in text and "(default: False)" not in text, p.prog
    helps = {p.prog: p.format_help() for p in _parsers(build_parser())}
    d = " ".join(helps["innverse denoise"].split())
    assert "(default: 320)" in d and "(default: opponent)" in d and "(default: 16" in d
    b = " ".join(helps["innverse deblur"].split())
    assert "(default: 30)" in b and "(default: 0.23)" in b and "shake:1..8" in b and "h5py" in b
    w = " ".join(helps["innverse wavelet denoise"].split())
    assert "(default: bayes)" in w and "(default: cdf97)" in w


def test_error_prefix_names_the_subcommand(tmp_path, capsys):
    code, _, err = cli(capsys, "wavelet", "denoise", tmp_path / "missing.png", "-o", tmp_path / "o.png")
    assert_clean_failure(code, err, "no such file", prefix="innverse wavelet denoise: error:")
    code, _, err = cli(
        capsys, "deblur", tmp_path / "missing.png", "-o", tmp_path / "o.png", "--kernel", "x.npy"
    )
    assert_clean_failure(code, err, prefix="innverse deblur: error:")
    with pytest.raises(SystemExit):
        main(["deblur", "--max-iter", "many"])
    assert capsys.readouterr().err.splitlines()[-1].startswith("innverse deblur: error: argument --max-iter")


def test_threads_are_applied(tmp_path, capsys):
    src = put(tmp_path / "in.png")
    assert cli(capsys, "denoise", src, "-o", tmp_path / "o.png", "--sigma", "25", "--threads", "2")[0] == 0
    assert torch.get_num_threads() == 2  # the test fixture restores the count afterwards
    assert cli(capsys, "wavelet", "denoise", src, "-o", tmp_path / "w.png", "--threads", "1")[0] == 0
    assert torch.get_num_threads() == 1


def test_no_traceback_for_memory_and_pipe_errors(tmp_path, capsys, monkeypatch):
    src = put(tmp_path / "in.png")

    def boom(exc):
        def run(args):
            raise exc

        return run

    for exc, code_expected, text in (
        (MemoryError(), 2, "out of memory"),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), 2, "out of memory"),
        (BrokenPipeError(), 1, ""),
    ):
        monkeypatch.setattr(denoise_cmd, "run", boom(exc))
        code, _, err = cli(capsys, "denoise", src, "-o", tmp_path / "o.png")
        assert code == code_expected and "Traceback" not in err and text in err
    monkeypatch.setattr(denoise_cmd, "run", boom(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):  # real bugs are not hidden
        main(["denoise", str(src), "-o", str(tmp_path / "o.png")])


def test_no_command_prints_help(capsys):
    code, out, _ = cli(capsys)
    assert code == 0 and "denoise" in out and "COMMAND" in out
