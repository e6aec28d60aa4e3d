"""Where innverse finds third-party data and weights (never shipped in the package).

``INNVERSE_DATA`` names the data root; otherwise ``../shared/data`` next to the current directory
or next to the source checkout is used when present.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_root", "data_path"]


def data_root() -> Path | None:
    """The data root, or None when no data folder can be found."""
    env = os.environ.get("INNVERSE_DATA")
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    here = Path(__file__).resolve()
    candidates = [Path.cwd() / ".." / "shared" / "data"]
    # src/innverse/paths.py -> checkout root is parents[2]
    if len(here.parents) > 2:
        candidates.append(here.parents[2] / ".." / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def data_path(*parts: str) -> Path | None:
    """A path under the data root, or None when the root or the path is missing."""
    root = data_root()
    if root is None:
        return None
    p = root.joinpath(*parts)
    return p if p.exists() else None
