"""The sampling loop: start from seeded noise and apply a sampler's steps with a model.

``model(x_t, t)`` is any callable returning the model output (ε or v) for a batch ``x_t`` and a
``(B,)`` int64 tensor of timesteps: our :class:`~innverse.diffusion.unet.UNet`, a wrapped diffusers
``UNet2DModel`` (:mod:`innverse.diffusion.diffusers_io`), or a closed-form oracle.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from innverse.diffusion.sampler import Sampler, randn_like

__all__ = ["sample"]


@torch.no_grad()
def sample(
    model: Callable[[Tensor, Tensor], Tensor],
    sampler: Sampler,
    shape: tuple[int, ...],
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    x_T: Tensor | None = None,
    callback: Callable[[int, int, Tensor, Tensor], None] | None = None,
) -> Tensor:
    """Draw ``shape[0]`` samples; returns ``x_0`` (data scale, not clamped beyond the sampler's clip).

    The initial noise ``x_T`` (unless given) and every noise draw of the sampler come from
    ``generator`` on the generator's device, so a seeded CPU generator gives the same noise for CPU
    and CUDA runs.  ``callback(i, t, x_t, x0_hat)`` is called after each of the steps.
    """
    dev = (
        torch.device(device)
        if device is not None
        else (x_T.device if x_T is not None else torch.device("cpu"))
    )
    if x_T is None:
        x = randn_like(torch.empty(shape, device=dev, dtype=dtype), generator)
    else:
        x = x_T.to(device=dev, dtype=dtype)
    for i, t in enumerate(sampler.timesteps.tolist()):
        tt = torch.full((x.shape[0],), t, device=dev, dtype=torch.int64)
        out = model(x, tt)
        x, x0 = sampler.step(out.to(dtype), t, x, generator)
        if callback is not None:
            callback(i, t, x, x0)
    return x
