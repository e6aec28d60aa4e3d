"""The training tasks ``innverse train`` knows: the built-in ones by module path, and any you register.

Kept apart from :mod:`innverse.train.task` (the contract) so that task modules import the contract and
this registry imports task modules only when one is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from innverse.train.task import TrainTask

__all__ = ["BUILTIN_TASKS", "register_task", "task_names", "get_task"]

#: the built-in tasks: name -> "module:class" (imported on first use)
BUILTIN_TASKS: dict[str, str] = {
    "winnet": "innverse.train.tasks.winnet:WINNetTask",
    "nenet": "innverse.train.tasks.nenet:NENetTask",
    "classifier": "innverse.train.tasks.classifier:ClassifierTask",
    "ddpm": "innverse.train.tasks.ddpm:DDPMTask",
    "indigo-inn": "innverse.train.tasks.indigo_inn:INDigoINNTask",
    "durrnet": "innverse.train.tasks.durrnet:DURRNetTask",
    "glow": "innverse.train.tasks.glow:GlowTask",
    "posterior": "innverse.train.tasks.posterior:PosteriorTask",
    "hinet": "innverse.train.tasks.hinet:HiNetTask",
}

_TASKS: dict[str, Callable[[], type[TrainTask]]] = {}


def _builtin(spec: str) -> Callable[[], type[TrainTask]]:
    module, _, cls = spec.partition(":")

    def load() -> type[TrainTask]:
        return getattr(importlib.import_module(module), cls)

    return load


def register_task(name: str, loader: Callable[[], type[TrainTask]]) -> None:
    """Register ``innverse train NAME`` (your own task); ``loader()`` returns the task class."""
    _TASKS[name] = loader


def task_names() -> list[str]:
    """The registered task names (built-in and registered), sorted."""
    return sorted(set(BUILTIN_TASKS) | set(_TASKS))


def get_task(name: str) -> type[TrainTask]:
    """The task class registered as ``name`` (KeyError when unknown)."""
    if name in _TASKS:
        return _TASKS[name]()
    return _builtin(BUILTIN_TASKS[name])()
