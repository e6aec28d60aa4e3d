"""Reports: Markdown, JSON and figures (innverse.bench.report, innverse.bench.plots)."""

from __future__ import annotations

import json

import pytest

from innverse.bench.denoise import benchmark_denoise
from innverse.bench.protocol import TestSet
from innverse.bench.report import (
    json_text,
    log_stderr,
    machine_line,
    markdown_table,
    output_folder,
    render_markdown,
    render_table,
    write_report,
    write_text,
)
from innverse.errors import UserError

try:
    import matplotlib  # noqa: F401

    HAVE_MPL = True
except ImportError:
    HAVE_MPL = False


def test_markdown_table():
    assert markdown_table(["a", "bb"], [["1", "2"]], pad=False) == "| a | bb |\n|---|---|\n| 1 | 2 |"
    padded = markdown_table(["a", "bb"], [["long", "2"]]).splitlines()
    assert padded == ["| a    | bb |", "|------|----|", "| long | 2  |"]


def test_json_and_files(tmp_path):
    assert json.loads(json_text({"x": float("inf"), "y": [float("nan"), 1.5]})) == {
        "x": None,
        "y": [None, 1.5],
    }
    f = write_text(tmp_path / "sub" / "a.md", "one\n")
    assert f.read_text() == "one\n"
    write_text(f, "two\n")  # replaced
    assert f.read_text() == "two\n" and [p.name for p in f.parent.iterdir()] == ["a.md"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        output_folder(tmp_path / "file")


def test_denoise_report(tmp_path):
    import torch

    g = torch.Generator().manual_seed(0)
    ts = TestSet("T", "/t", [("a.png", torch.rand(1, 1, 32, 32, generator=g))])
    report = benchmark_denoise([ts], [25.0], [], baselines=["bayes"], crop_figure=True)
    table = render_table(report)
    assert table.splitlines()[0].split("|")[1].strip() == "method" and "T sigma=25" in table
    md = render_markdown(report)
    assert md.startswith("# Gaussian denoising") and "manual_seed(i)" in md and "torch" in md
    env = report.data["environment"]
    assert env["threads"] == torch.get_num_threads() and "cpu" in env
    files = write_report(report, tmp_path / "out")
    names = sorted(f.name for f in files)
    assert "denoise.md" in names and "denoise.json" in names
    assert json.loads((tmp_path / "out" / "denoise.json").read_text())["benchmark"] == "denoise"
    if HAVE_MPL:
        assert {"psnr_vs_sigma.png", "crops_sigma25.png"} <= set(names)
        assert (tmp_path / "out" / "crops_sigma25.png").read_bytes()[:4] == b"\x89PNG"


def test_machine_line_and_log(capsys):
    env = {"cpu": "Some CPU", "torch": "2.0", "threads": 1, "device": "cpu"}
    assert machine_line(env, "T") == "Machine: Some CPU, torch 2.0, 1 thread(s), device cpu; created T."
    assert machine_line(env, "T", device=False) == "Machine: Some CPU, torch 2.0, 1 thread(s); created T."
    assert machine_line({}, "T") == "Machine: ?, torch ?, ? thread(s), device ?; created T."
    log_stderr("hello")
    out = capsys.readouterr()
    assert out.err == "hello\n" and out.out == ""
