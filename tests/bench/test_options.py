"""Parsing benchmark lists (innverse.bench.options) and kernel lists (innverse.bench.deblur)."""

from __future__ import annotations

import argparse

import pytest
import torch

from innverse.bench.deblur import kernel_label, parse_kernels
from innverse.bench.methods import BASELINES
from innverse.bench.options import (
    add_runtime_arguments,
    apply_runtime,
    parse_names,
    parse_sigma,
    parse_sigmas,
)
from innverse.errors import UserError


def test_parse_sigmas():
    assert parse_sigmas("5, 15,25.5") == [5.0, 15.0, 25.5]
    assert parse_sigmas([15, 25]) == [15.0, 25.0]
    for bad in ("15,abc", "300", "", "15,,25", "25,25", "-5", "nan"):
        with pytest.raises(UserError, match="--sigma"):
            parse_sigmas(bad)
    assert parse_sigma("2.55", "--noise") == 2.55 and parse_sigma(25) == 25.0
    with pytest.raises(UserError, match="--noise: expected one number"):
        parse_sigma("2,3", "--noise")


def test_parse_names():
    assert parse_names("bayes,BM3D,bayes", BASELINES, "--baselines") == ["bayes", "bm3d"]
    assert parse_names("none", BASELINES, "--baselines") == [] and parse_names(None, BASELINES, "-x") == []
    with pytest.raises(UserError, match="wiener"):
        parse_names("wiener", BASELINES, "--baselines")


def test_parse_kernels():
    assert parse_kernels("levin:1-3,levin:8") == ["levin:1", "levin:2", "levin:3", "levin:8"]
    assert parse_kernels("KERNELS12:2-3, k.npy") == ["kernels12:2", "kernels12:3", "k.npy"]
    for bad in ("levin:5-2", "levin:1,,levin:2", "levin:1-2,levin:2"):
        with pytest.raises(UserError, match="--kernels"):
            parse_kernels(bad)
    assert kernel_label("levin:3") == "levin:3" and kernel_label("/tmp/motion.npy") == "motion"


def test_runtime_arguments():
    p = argparse.ArgumentParser()
    add_runtime_arguments(p)
    args = p.parse_args([])
    assert args.threads == 1 and args.device == "cpu"
    before = torch.get_num_threads()
    try:
        assert apply_runtime(p.parse_args(["--threads", "2"])) == torch.device("cpu")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(UserError, match="--threads must be at least 1, got 0"):
        apply_runtime(p.parse_args(["--threads", "0"]))
    with pytest.raises(UserError, match="--device"):
        apply_runtime(p.parse_args(["--device", "nosuch"]))
    q = argparse.ArgumentParser()
    add_runtime_arguments(q, device=False)
    assert not hasattr(q.parse_args([]), "device") and apply_runtime(q.parse_args([]), device=False) is None
