"""Planning the files a command reads and writes, and the overwrite rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from innverse.commands.files import (
    Job,
    check_jobs,
    find_images,
    is_sample_output,
    plan_jobs,
    plan_sample,
    read_reference,
    require_output,
    sample_or_inputs,
    write_sample_outputs,
    write_sample_png,
)
from innverse.errors import UserError

from ._helpers import noisy, put


def test_plan_single_folder_and_companions(tmp_path):
    src = put(tmp_path / "a.png")
    [job] = plan_jobs([str(src)], str(tmp_path / "r.tif"), extras=["compare"])
    assert job.dst == tmp_path / "r.tif" and job.extras == {"compare": tmp_path / "r_compare.png"}
    [job] = plan_jobs([str(src)], str(tmp_path / "out"))
    assert job.dst == tmp_path / "out" / "a.png"
    with pytest.raises(UserError, match="-o/--output is required"):
        plan_jobs([str(src)], None)
    [job] = plan_jobs([str(src)], None, in_place=True)
    assert job.dst == job.src == src


def test_output_folder_inside_input_is_excluded(tmp_path):
    put(tmp_path / "a.png")
    put(tmp_path / "out" / "a.png")
    assert find_images(tmp_path) == [tmp_path / "a.png", tmp_path / "out" / "a.png"]
    assert find_images(tmp_path, exclude=tmp_path / "out") == [tmp_path / "a.png"]
    assert find_images(tmp_path, exclude=tmp_path) == find_images(tmp_path)


def test_check_jobs_rules(tmp_path):
    a, b = put(tmp_path / "a.png"), put(tmp_path / "b.png")
    with pytest.raises(UserError, match="is the input file"):
        check_jobs([Job(a, a)], force=True, skip_existing=False, in_place=False)
    with pytest.raises(UserError, match="is one of the inputs"):  # a companion onto another input
        check_jobs(
            [Job(a, tmp_path / "x.png", {"compare": b}), Job(b, tmp_path / "y.png")], True, False, False
        )
    with pytest.raises(
        UserError, match="is one of the inputs"
    ):  # in place allows only a result onto its own input
        check_jobs([Job(a, a, {"compare": b}), Job(b, b)], False, False, True)
    job = Job(a, a)
    check_jobs([job], force=False, skip_existing=False, in_place=True)
    assert job.replace == {a} and job.force(a, False)
    with pytest.raises(UserError, match="output exists"):
        check_jobs([Job(a, b)], False, False, False)
    job = Job(a, b, {"compare": tmp_path / "c.png"})
    check_jobs([job], False, True, False)
    assert job.keep == {b} and not job.skipped and job.writes(tmp_path / "c.png") and not job.writes(b)
    (tmp_path / "d").mkdir()
    with pytest.raises(UserError, match="is a directory"):
        check_jobs([Job(a, tmp_path / "d")], True, False, False)


def test_duplicate_outputs(tmp_path):
    put(tmp_path / "p" / "x.png")
    put(tmp_path / "q" / "x.png")
    with pytest.raises(UserError, match="would both be written"):
        plan_jobs([str(tmp_path / "p" / "x.png"), str(tmp_path / "q" / "x.png")], str(tmp_path / "o"))


def test_sample_marker(tmp_path):
    p = write_sample_png(tmp_path / "s.png", noisy(), force=False, what="test")
    assert is_sample_output(p)
    assert not is_sample_output(put(tmp_path / "mine.png"))
    assert not is_sample_output(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"junk")
    assert not is_sample_output(tmp_path / "junk.png")
    job = plan_sample(str(tmp_path) + "/", {"result": "s.png", "noisy": "s_noisy.png"}, Path("sample.png"))
    assert job.replace == {tmp_path / "s.png"} and job.extras == {"noisy": tmp_path / "s_noisy.png"}


def test_sample_or_inputs(tmp_path, monkeypatch):
    import argparse

    monkeypatch.chdir(tmp_path)

    def ns(inputs, sample=False, clean=None):
        return argparse.Namespace(inputs=inputs, sample=sample, clean=clean)

    assert sample_or_inputs(ns([], sample=True)) == (True, [])
    assert sample_or_inputs(ns(["sample"])) == (True, ["sample"])  # no file of that name here
    assert sample_or_inputs(ns(["a.png"], clean="c.png")) == (False, ["a.png"])
    assert sample_or_inputs(argparse.Namespace(inputs=["a.png"], sample=False)) == (False, ["a.png"])
    for bad, msg in (
        (ns(["a.png"], sample=True), "--sample takes no INPUT"),
        (ns([]), "no INPUT given"),
        (ns(["a.png", "b.png"], clean="c.png"), "--clean needs exactly one input file"),
        (ns([], sample=True, clean="c.png"), "--clean needs exactly one input file"),
    ):
        with pytest.raises(UserError, match=msg):
            sample_or_inputs(bad)
    (tmp_path / "sample").write_text("x")
    assert sample_or_inputs(ns(["sample"])) == (False, ["sample"])  # an existing file is an input
    with pytest.raises(UserError, match="--sample takes no IMAGE"):
        sample_or_inputs(ns(["a.png"], sample=True), "IMAGE")
    with pytest.raises(UserError, match="no IMAGE given"):
        sample_or_inputs(ns([]), "IMAGE")


def test_require_output():
    import argparse

    assert require_output(argparse.Namespace(output="out/")) == "out/"
    for bad in (None, "", "  "):
        with pytest.raises(UserError, match=r"^-o/--output is required \(a folder\)$"):
            require_output(argparse.Namespace(output=bad), "a folder")


def test_read_reference(tmp_path):
    ref = put(tmp_path / "r.png", noisy(16, 16))
    assert read_reference(None, (1, 16, 16)) is None
    assert read_reference(str(ref), (1, 16, 16)).shape == (1, 16, 16)
    with pytest.raises(UserError, match=r"reference is \(16, 16\), the input is \(8, 8\) × 2 pages"):
        read_reference(str(ref), (2, 8, 8))


def test_write_sample_outputs_writes_what_is_to_be_written(tmp_path):
    class Rep:
        def __init__(self):
            self.lines = []

        def info(self, line):
            self.lines.append(line)

    job = plan_sample(str(tmp_path), {"result": "s.png", "compare": "s_compare.png"}, tmp_path / "src.png")
    img = noisy(12, 12)
    made = []

    def figure():
        made.append(1)
        return img

    rep = Rep()
    outputs = [(job.dst, "test result", img), (job.extras["compare"], "test comparison", figure)]
    write_sample_outputs(job, outputs, False, rep, "summary")
    assert is_sample_output(job.dst) and is_sample_output(job.extras["compare"]) and made == [1]
    assert rep.lines == ["summary", f"wrote {job.dst}, {job.extras['compare']}"]
    job.keep.add(job.extras["compare"])  # kept (--skip-existing): neither made nor written again
    rep = Rep()
    write_sample_outputs(job, outputs, True, rep, "again")
    assert made == [1] and rep.lines == ["again"]
