"""Low-dimensional inverse problems with known (or reference) posteriors, for posterior INNs.

* :mod:`~innverse.problems.eight_modes`: the 8-modes Gaussian-mixture toy of Ardizzone et al. 2019
  (closed-form posterior);
* :mod:`~innverse.problems.kinematics`: the rail-and-three-joints inverse kinematics of Kruse et al.
  2021 (reference posterior by rejection ABC).

:func:`get_problem` makes one by name (``"8modes"``, ``"kinematics"``).
"""

from __future__ import annotations

from innverse.errors import UserError
from innverse.problems.eight_modes import EightModes
from innverse.problems.kinematics import Kinematics

__all__ = ["EightModes", "Kinematics", "get_problem", "PROBLEMS"]

PROBLEMS = ("8modes", "kinematics")


def get_problem(name: str, **kwargs) -> EightModes | Kinematics:
    """The problem called ``name`` (``"8modes"`` takes ``labels="some"|"all"|"none"``)."""
    if name == "8modes":
        return EightModes(**kwargs)
    if name == "kinematics":
        return Kinematics(**kwargs)
    raise UserError(f"unknown problem {name!r} (expected one of {', '.join(PROBLEMS)})")
