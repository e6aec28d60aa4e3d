"""What a measurement records about its machine and code (innverse.bench.environment)."""

from __future__ import annotations

import re

import torch

from innverse.bench.environment import cpu_name, environment, git_commit


def test_environment_fields():
    env = environment()
    assert env["torch"] == torch.__version__ and env["threads"] == torch.get_num_threads()
    assert env["device"] == "cpu" and env["cpu"] == cpu_name() and env["cpu"]
    git = env["git"]
    assert git is None or (re.fullmatch(r"[0-9a-f]{40}", git["commit"]) and isinstance(git["dirty"], bool))


def test_git_commit_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) is None
