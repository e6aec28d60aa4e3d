"""Noise schedules of discrete-time diffusion (DDPM): β_t, ᾱ_t, ``add_noise`` and timestep respacing.

The forward process is ``x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε`` with ``ᾱ_t = prod_{s<=t} (1 - β_s)``
for ``t = 0 .. T-1`` (diffusers' indexing: ``t = 0`` is the first, least noisy step).  Models know
nothing of the schedule; samplers (:mod:`innverse.diffusion.ddpm`, :mod:`innverse.diffusion.ddim`)
combine a model's output with a :class:`NoiseSchedule`.  Schedule arrays are float64; tensors
returned to the caller take the dtype and device of the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from innverse.errors import UserError

__all__ = [
    "SCHEDULES",
    "PREDICTIONS",
    "NoiseSchedule",
    "linear_betas",
    "cosine_betas",
    "respace",
]

#: the β schedules by name
SCHEDULES = ("linear", "cosine")
#: what a model may predict: the noise ε, or the velocity v = sqrt(ᾱ) ε - sqrt(1-ᾱ) x0
PREDICTIONS = ("epsilon", "v_prediction")


def linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """Ho et al.'s linear schedule, β from ``beta_start`` to ``beta_end`` in ``T`` steps (float64)."""
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """Nichol & Dhariwal's cosine schedule: ᾱ(t) = cos²((t/T + s)/(1 + s) π/2), β clipped at ``max_beta``.

    Written as diffusers' ``squaredcos_cap_v2``: ``β_i = min(1 - ᾱ((i+1)/T) / ᾱ(i/T), max_beta)``.
    """
    i = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((i + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


def respace(T: int, steps: int, spacing: str = "leading") -> Tensor:
    """``steps`` timesteps out of ``0 .. T-1`` for sampling, in *descending* order (int64).

    ``"leading"``: ``0, k, 2k, ...`` with ``k = T // steps`` (diffusers' DDIM/DDPM default);
    ``"trailing"``: ``T-1, T-1-k', ...`` with ``k' = T / steps`` (always starts from ``T - 1``);
    ``"linspace"``: ``steps`` points rounded from ``linspace(0, T-1)``.  ``steps = T`` gives every step.
    """
    if not 1 <= steps <= T:
        raise UserError(f"sampling steps must be in 1..{T}, got {steps}")
    if spacing == "leading":
        ts = torch.arange(steps, dtype=torch.int64) * (T // steps)
    elif spacing == "trailing":
        ts = (T - torch.arange(steps, dtype=torch.float64) * (T / steps)).round().to(torch.int64) - 1
        ts = ts.flip(0)
    elif spacing == "linspace":
        ts = torch.linspace(0, T - 1, steps, dtype=torch.float64).round().to(torch.int64)
    else:
        raise UserError(f"unknown timestep spacing {spacing!r} (expected leading, trailing or linspace)")
    return ts.flip(0).contiguous()


def _gather(a: Tensor, t: Tensor | int, like: Tensor) -> Tensor:
    """``a[t]`` shaped to broadcast over ``like`` (B, ...), in ``like`` 's dtype and device."""
    t = torch.as_tensor(t, device=a.device, dtype=torch.int64)
    v = a[t].to(device=like.device, dtype=like.dtype)
    return v.reshape(v.shape + (1,) * (like.ndim - v.ndim))


@dataclass(frozen=True)
class NoiseSchedule:
    """A β schedule with ``T`` steps and what follows from it (ᾱ, its square roots, SNR).

    ``kind`` is ``"linear"`` (``beta_start`` .. ``beta_end``) or ``"cosine"``;
    :attr:`config` round-trips through :meth:`from_config` (and through JSON).
    """

    kind: str = "linear"
    T: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise UserError(f"unknown noise schedule {self.kind!r} (expected one of {', '.join(SCHEDULES)})")
        if not (isinstance(self.T, int) and self.T >= 1):
            raise UserError(f"the number of diffusion steps T must be an integer >= 1, got {self.T!r}")
        if self.kind == "linear" and not 0 < self.beta_start <= self.beta_end < 1:
            raise UserError(f"need 0 < beta_start <= beta_end < 1, got {self.beta_start}, {self.beta_end}")
        betas = (
            linear_betas(self.T, self.beta_start, self.beta_end)
            if self.kind == "linear"
            else (cosine_betas(self.T))
        )
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "alphas_cumprod", torch.cumprod(1 - betas, 0))

    #: β_t, float64, shape (T,) (derived, set in ``__post_init__``)
    betas: Tensor = field(init=False, repr=False, compare=False)
    #: ᾱ_t, float64, shape (T,)
    alphas_cumprod: Tensor = field(init=False, repr=False, compare=False)

    @property
    def config(self) -> dict:
        """The constructor arguments (JSON-able)."""
        return {"kind": self.kind, "T": self.T, "beta_start": self.beta_start, "beta_end": self.beta_end}

    @classmethod
    def from_config(cls, config: dict) -> NoiseSchedule:
        """Inverse of :attr:`config`; unknown keys are an error."""
        allowed = {"kind", "T", "beta_start", "beta_end"}
        extra = set(config) - allowed
        if extra:
            raise UserError(f"unknown noise-schedule settings {sorted(extra)}")
        return cls(**config)

    def alpha_bar(self, t: Tensor | int) -> Tensor:
        """ᾱ_t (float64); ``t = -1`` means the clean data, ᾱ = 1."""
        t = torch.as_tensor(t, dtype=torch.int64)
        ab = self.alphas_cumprod[t.clamp(min=0)]
        return torch.where(t < 0, torch.ones_like(ab), ab)

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor | int) -> Tensor:
        """``x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise``; ``t`` is an int or a (B,) tensor of steps."""
        ab = self.alphas_cumprod
        return _gather(ab.sqrt(), t, x0) * x0 + _gather((1 - ab).sqrt(), t, x0) * noise

    def velocity(self, x0: Tensor, noise: Tensor, t: Tensor | int) -> Tensor:
        """The v-prediction target ``sqrt(ᾱ_t) noise - sqrt(1 - ᾱ_t) x0`` (Salimans & Ho)."""
        ab = self.alphas_cumprod
        return _gather(ab.sqrt(), t, x0) * noise - _gather((1 - ab).sqrt(), t, x0) * x0

    def split(
        self, model_out: Tensor, x_t: Tensor, t: Tensor | int, prediction: str
    ) -> tuple[Tensor, Tensor]:
        """``(x0_hat, eps_hat)`` from a model's output at ``x_t``, step ``t``."""
        ab = self.alphas_cumprod
        a, s = _gather(ab.sqrt(), t, x_t), _gather((1 - ab).sqrt(), t, x_t)
        if prediction == "epsilon":
            eps = model_out
            x0 = (x_t - s * eps) / a
        elif prediction == "v_prediction":
            x0 = a * x_t - s * model_out
            eps = s * x_t + a * model_out
        else:
            raise UserError(f"unknown prediction type {prediction!r} (expected one of {PREDICTIONS})")
        return x0, eps

    def timesteps(self, steps: int | None = None, spacing: str = "leading") -> Tensor:
        """Descending sampling timesteps: all ``T`` of them, or ``steps`` respaced ones."""
        return respace(self.T, self.T if steps is None else int(steps), spacing)
