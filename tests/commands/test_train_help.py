"""``innverse train TASK --help`` shows that task's own examples, and every example parses."""

from __future__ import annotations

import shlex

import pytest

from innverse.commands.train import _task_examples, _task_parser
from innverse.train import get_task, task_names


@pytest.mark.parametrize("name", task_names())
def test_examples_are_the_tasks_own_and_parse(name):
    task_cls = get_task(name)
    assert task_cls.examples, f"{name} has no examples"
    text = _task_examples(name, task_cls)
    parser, _ = _task_parser(name, task_cls)
    for line in text.splitlines()[1:]:
        words = shlex.split(line)
        if words[0] == "torchrun":
            words = words[words.index("-m") + 1 :]
        assert words[:3] == ["innverse", "train", name], line
        args = [w for w in words[3:] if w != "..."]
        parser.parse_args(args)  # raises on an option the task does not have
