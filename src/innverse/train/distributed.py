"""Multi-process (torchrun) support for training.

``innverse train`` run under ``torchrun --nproc_per_node N`` (or any launcher that sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``) trains with :class:`torch.nn.parallel.DistributedDataParallel`:

* backend ``gloo`` on CPU, ``nccl`` on CUDA (each rank takes ``cuda:LOCAL_RANK``);
* the *global* batch is ``--batch-size``: every rank takes a disjoint, equal shard of it
  (``batch_size`` must be divisible by the world size), so a run on N processes follows the
  same recipe as a single-process run (same patches, same noise, same effective batch);
* only rank 0 writes checkpoints, the exported model, logs and the progress bar;
* every rank reads the same checkpoint on ``--resume`` (OUT must be on a filesystem all ranks see).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "env_world", "init_distributed", "shutdown", "barrier", "all_reduce_sum"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when a process group with more than one process is active."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on the process that writes files (rank 0)."""
        return self.rank == 0


def env_world() -> DistInfo:
    """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (set by torchrun); a single process otherwise."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        return DistInfo()
    if world <= 1:
        return DistInfo()
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group described by the environment (no-op for a single process).

    ``device_type`` is ``'cpu'`` (gloo) or ``'cuda'`` (nccl; the rank's device is selected).
    """
    info = env_world()
    if not info.enabled:
        return info
    if not dist.is_available():  # pragma: no cover - builds without distributed
        raise RuntimeError("this PyTorch build has no torch.distributed")
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return info


def shutdown(info: DistInfo) -> None:
    """Leave the process group (safe to call more than once)."""
    if info.enabled and dist.is_initialized():
        if dist.get_backend() == "gloo":
            # every rank reaches this point before any tears gloo down: a rank leaving while its
            # peer still closes connections aborted the peer now and then ("terminate called
            # without an active exception"); bounded, so a dead peer cannot hang the exit
            try:
                dist.monitored_barrier(timeout=timedelta(seconds=60))
            except RuntimeError:
                pass
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op for a single process)."""
    if info.enabled:
        dist.barrier()


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``t`` over ranks in place and return it (unchanged for a single process)."""
    if info.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t
