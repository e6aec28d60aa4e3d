"""Invertible composition of blocks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, cast

from torch import Tensor, nn

from .base import InvertibleModule, zero_logdet

__all__ = ["Sequential"]


class _Invertible(Protocol):
    def __call__(self, x: Tensor, **cond: Any) -> tuple[Tensor, Tensor]: ...

    def inverse(self, y: Tensor, **cond: Any) -> Tensor: ...


def _check_invertible(module: nn.Module) -> None:
    if not isinstance(module, nn.Module) or not callable(getattr(module, "inverse", None)):
        raise TypeError(
            "Sequential needs invertible modules (an nn.Module with an inverse method); "
            f"got {type(module).__name__}"
        )


class Sequential(InvertibleModule):
    """Invertible composition ``f_n o ... o f_1``.

    ``forward(x, **cond) -> (y, log_det)`` applies the blocks in order and returns the *sum* of their
    log-dets (``log|det dy/dx|`` of the whole composition, shape ``(B,)``).  ``inverse(y, **cond)`` applies
    the blocks' inverses in reverse order.  The same conditioning keywords are passed to every block (blocks
    that do not use them ignore them).  Indexing, slicing, ``len`` and iteration work like
    :class:`torch.nn.Sequential`; a slice is again a :class:`Sequential` sharing the same blocks.
    """

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            _check_invertible(module)
            self.add_module(str(i), module)

    def append(self, module: nn.Module) -> Sequential:
        """Append a block at the end (in the forward direction) and return ``self``."""
        _check_invertible(module)
        self.add_module(str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def _blocks(self) -> list[nn.Module]:
        return [m for m in self._modules.values() if m is not None]

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self._blocks())

    def __getitem__(self, idx: int | slice) -> nn.Module:
        blocks = self._blocks()
        if isinstance(idx, slice):
            return Sequential(*blocks[idx])
        return blocks[idx]

    def forward(self, x: Tensor, **cond: Any) -> tuple[Tensor, Tensor]:
        """Data -> latent; ``(y, log_det)`` with ``log_det = sum_k log|det J_k|`` of shape ``(B,)``."""
        log_det = zero_logdet(x)
        for block in self._blocks():
            x, ld = cast(_Invertible, block)(x, **cond)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, y: Tensor, **cond: Any) -> Tensor:
        """Latent -> data: the blocks' inverses in reverse order (log-det of this map is ``-log_det``)."""
        for block in reversed(self._blocks()):
            y = cast(_Invertible, block).inverse(y, **cond)
        return y
