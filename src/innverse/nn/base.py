"""The invertible contract every innverse block follows.

Direction and sign convention (read this once, it holds everywhere in the library):

* ``forward(x, **cond) -> (y, log_det)`` maps the *data* side ``x`` to the *latent/coefficient*
  side ``y``.  ``log_det`` has shape ``(B,)`` and equals ``log |det dy/dx|`` of that forward map,
  per sample, accumulated in ``x``'s dtype and on ``x``'s device.
* ``inverse(y, **cond) -> x`` is the exact inverse of ``forward`` (no log-det is returned; the
  log-det of the inverse map is ``-log_det``).
* Keyword conditioning (for instance ``sigma``, a noise level) passes unchanged through both
  directions; blocks that do not use it ignore it.

Every block in :mod:`innverse.nn` is tested so that ``inverse(forward(x)[0])`` reproduces ``x``
to <= 1e-12 (float64) and ``log_det`` matches ``log|det J|`` of the autograd Jacobian.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["InvertibleModule", "zero_logdet", "check_image"]


def zero_logdet(x: Tensor) -> Tensor:
    """A ``(B,)`` zero log-det in ``x``'s dtype and device."""
    return x.new_zeros(x.shape[0])


def check_image(x: Tensor, multiple: int = 1, name: str = "input") -> None:
    """Validate a (B, C, H, W) tensor whose spatial sizes must be multiples of ``multiple``.

    Raises ``ValueError`` naming the shape instead of silently cropping.
    """
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W); got {tuple(x.shape)}")
    if multiple > 1 and (x.shape[-2] % multiple or x.shape[-1] % multiple):
        raise ValueError(
            f"{name} of shape {tuple(x.shape)} has a spatial size that is not a multiple of {multiple}; "
            f"pad or crop it first"
        )


class InvertibleModule(nn.Module):
    """Base class of invertible blocks.

    Subclasses implement :meth:`forward` returning ``(y, log_det)`` with ``log_det = log|det dy/dx|``
    of shape ``(B,)``, and :meth:`inverse` returning ``x``.  Conditioning keywords are accepted and
    ignored by blocks that do not need them.
    """

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, y: Tensor, **cond) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def roundtrip_error(self, x: Tensor, **cond) -> float:
        """Max absolute error of ``inverse(forward(x))`` (a self-check users can run on their data)."""
        y, _ = self.forward(x, **cond)
        return float((self.inverse(y, **cond) - x).abs().max())
