"""Choosing the torch device: one rule for the library, the CLI, training and the benchmarks."""

from __future__ import annotations

import torch

from innverse.errors import UserError

__all__ = ["resolve_device"]


def resolve_device(
    device: str | torch.device | None = None, local_rank: int | None = None, option: str = "device"
) -> torch.device:
    """The device to run on.

    ``None``, ``""`` or ``"auto"``: CUDA when available, else the CPU.  ``"cpu"``, ``"cuda"``,
    ``"cuda:N"``, ``"mps"`` or a :class:`torch.device`: that device, checked to exist.
    ``local_rank`` (a distributed run's rank on this node) turns an index-less CUDA device into
    ``cuda:local_rank``.  Anything unknown or unavailable raises :class:`UserError` with one line
    naming ``option`` (e.g. ``"--device"``).
    """
    if device is None or device == "" or device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(f"{option} {device!r}: unknown device (use cpu or cuda)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"{option} {device!r}: CUDA is not available (use cpu)")
        if dev.index is None and local_rank is not None:
            dev = torch.device("cuda", int(local_rank))
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(f"{option} {device!r}: there are {torch.cuda.device_count()} CUDA devices")
    elif dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise UserError(f"{option} {device!r}: MPS is not available (use cpu)")
    elif dev.type != "cpu":
        raise UserError(f"{option} {device!r}: unsupported device (use cpu or cuda)")
    return dev
