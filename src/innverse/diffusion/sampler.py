"""What the DDPM and DDIM samplers share: the respaced timesteps, ``x0_hat`` and seeded noise.

A sampler turns a model output at ``(x_t, t)`` into ``x_prev`` at the next (lower) timestep of its
respaced sequence.  The model is not part of the sampler (the diffusers split): call it yourself, or
let :func:`innverse.diffusion.loop.sample` run the loop.
"""

from __future__ import annotations

import torch
from torch import Tensor

from innverse.diffusion.schedules import PREDICTIONS, NoiseSchedule
from innverse.errors import UserError

__all__ = ["Sampler", "randn_like"]


def randn_like(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise shaped like ``x``, drawn float32 on the generator's device, then moved.

    Drawing on the generator's device makes a CPU generator give the same noise whatever the device
    of ``x`` (CPU and CUDA runs of a seeded sampler then start from identical noise).
    """
    dev = generator.device if generator is not None else x.device
    z = torch.randn(x.shape, generator=generator, device=dev, dtype=torch.float32)
    return z.to(device=x.device, dtype=x.dtype)


class Sampler:
    """Base of the samplers (:class:`~innverse.diffusion.ddpm.DDPMSampler`, ``DDIMSampler``).

    ``steps``: sampling steps (``None``: all ``T``), respaced by ``spacing`` (see
    :func:`~innverse.diffusion.schedules.respace`); ``prediction``: what the model outputs
    (``"epsilon"`` or ``"v_prediction"``); ``clip_sample``: clamp ``x0_hat`` to
    ``[-clip_sample, clip_sample]`` (``None`` or 0: no clamp; data are assumed in [-1, 1]).
    """

    def __init__(
        self,
        schedule: NoiseSchedule,
        steps: int | None = None,
        spacing: str = "leading",
        prediction: str = "epsilon",
        clip_sample: float | None = 1.0,
    ) -> None:
        if prediction not in PREDICTIONS:
            raise UserError(
                f"unknown prediction type {prediction!r} (expected one of {', '.join(PREDICTIONS)})"
            )
        self.schedule = schedule
        self.prediction = prediction
        self.clip_sample = float(clip_sample) if clip_sample else None
        #: the sampling timesteps, descending (int64)
        self.timesteps = schedule.timesteps(steps, spacing)
        ts = self.timesteps.tolist()
        self._prev = {t: p for t, p in zip(ts, ts[1:] + [-1], strict=True)}

    @property
    def num_steps(self) -> int:
        """Number of sampling steps (model evaluations)."""
        return len(self.timesteps)

    def prev_timestep(self, t: int) -> int:
        """The timestep after ``t`` in this sampler's sequence (``-1``: the clean data)."""
        try:
            return self._prev[int(t)]
        except KeyError:
            raise UserError(
                f"timestep {int(t)} is not one of this sampler's {self.num_steps} steps"
            ) from None

    def predict_x0(
        self, model_out: Tensor, t: int, x_t: Tensor, clipped_eps: bool = False
    ) -> tuple[Tensor, Tensor]:
        """``(x0_hat, eps_hat)``; ``x0_hat`` is clamped when ``clip_sample`` is set.

        ``eps_hat`` is the model's unless ``clipped_eps``, which re-derives it from the clamped
        ``x0_hat`` (GLIDE's choice; diffusers' ``use_clipped_model_output``).
        """
        x0, eps = self.schedule.split(model_out, x_t, int(t), self.prediction)
        if self.clip_sample is not None:
            x0 = x0.clamp(-self.clip_sample, self.clip_sample)
            if clipped_eps:
                ab = float(self.schedule.alphas_cumprod[int(t)])
                eps = (x_t - ab**0.5 * x0) / (1 - ab) ** 0.5
        return x0, eps

    def step(  # pragma: no cover - abstract
        self, model_out: Tensor, t: int, x_t: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(x_prev, x0_hat)`` from the model's output at ``(x_t, t)``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(steps={self.num_steps}, T={self.schedule.T}, "
            f"schedule={self.schedule.kind!r}, prediction={self.prediction!r})"
        )
