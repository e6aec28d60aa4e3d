"""What a measurement ran on: versions, threads, CPU, device and the git commit of the code."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

__all__ = ["cpu_name", "git_commit", "environment"]


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``'s model name on Linux, else what :mod:`platform` says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(path: str | Path | None = None) -> dict | None:
    """``{"commit": sha, "dirty": bool}`` of the git checkout holding ``path`` (default: this
    package's source), or None when it is not in a checkout or git is not installed.

    ``dirty`` is True when tracked files differ from the commit (untracked files do not count).
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    if where.is_file():
        where = where.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha, "dirty": bool(status.strip())} if sha else None


def environment(device: torch.device | str = "cpu") -> dict:
    """Versions, torch threads, the machine and the code the numbers were measured with."""
    from innverse import __version__

    dev = torch.device(device)
    env: dict = {
        "innverse": __version__,
        "git": git_commit(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": str(dev),
    }
    if hasattr(os, "getloadavg"):
        env["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
    if dev.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(dev)
        env["cuda"] = torch.version.cuda
    return env
