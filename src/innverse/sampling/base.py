"""What the guided diffusion samplers share: the loop, the scales, the noise and the unguided step.

A guided sampler solves ``y = A(x) + n`` with a diffusion prior: it starts from ``x_T ~ N(0, I)`` and
runs the prior's reverse process on the respaced timesteps of a DDPM or DDIM sampler
(:meth:`innverse.diffusion.prior.DiffusionPrior.sampler`), changing each step so that the result agrees
with ``y``.  Each method (:mod:`~innverse.sampling.indigo`, :mod:`~innverse.sampling.dps`,
:mod:`~innverse.sampling.ddrm`, :mod:`~innverse.sampling.ilvr`) overrides one method, :meth:`step`;
one step costs one evaluation of the prior's network (plus one backward pass for the gradient-guided
methods), so methods run with the same ``steps`` make the same number of network evaluations.

**Scales.**  The prior works on ``[-1, 1]``; ``y``, the operator (:mod:`innverse.physics`) and the
returned images are on ``[0, 1]``.  :func:`to_model` is ``2 v - 1``, :func:`to_image` its inverse.

**Noise.**  ``generator`` is ``None``, one :class:`torch.Generator` for the whole batch, or one per
image; with one per image every image gets the same ``x_T`` and step noise whatever the batch it is
in, and methods run with the same generators start from the same ``x_T``.  Noise is drawn float32 on
the generator's device (then moved), so a seeded CPU generator gives the same noise on every device.
:func:`mix_seeds` derives independent seeds (per image, per posterior sample) from one seed.

**The unguided step** (:meth:`GuidedSampler.unguided`) is the sampler's own: DDPM, the posterior
mean of ``q(x_s | x_t, x0_hat)`` plus ``sigma_t z``; DDIM(eta),
``sqrt(ab_s) x0_hat + sqrt(1 - ab_s - sigma^2) eps + sigma z`` -- with ``x0_hat`` clamped as the
prior's ``clip_sample`` says, exactly as :class:`~innverse.diffusion.DDPMSampler` and
:class:`~innverse.diffusion.DDIMSampler` do, but with this module's per-image noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from innverse.diffusion.ddim import DDIMSampler
from innverse.diffusion.ddpm import DDPMSampler
from innverse.diffusion.sampler import Sampler
from innverse.errors import UserError

__all__ = [
    "GuidedSampler",
    "Generators",
    "mix_seeds",
    "generators_for",
    "to_model",
    "to_image",
    "image_shape",
    "per_sample_norm",
    "scale_per_sample",
    "SAMPLER_KINDS",
]

#: the samplers whose steps a guided sampler may follow
SAMPLER_KINDS = ("ddpm", "ddim")

Generators = torch.Generator | Sequence[torch.Generator] | None


def mix_seeds(*keys: int) -> int:
    """A 63-bit seed that depends on every key (numpy's ``SeedSequence``), for independent streams."""
    state = np.random.SeedSequence([int(k) & 0xFFFFFFFFFFFFFFFF for k in keys]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & 0x7FFFFFFFFFFFFFFF


def generators_for(seed: int, n: int, *keys: int) -> list[torch.Generator]:
    """``n`` CPU generators, the ``i``-th seeded with ``mix_seeds(seed, *keys, i)``."""
    return [torch.Generator().manual_seed(mix_seeds(seed, *keys, i)) for i in range(n)]


def to_model(v: Tensor) -> Tensor:
    """An image on ``[0, 1]`` to the prior's ``[-1, 1]``."""
    return 2.0 * v - 1.0


def to_image(x: Tensor) -> Tensor:
    """The prior's ``[-1, 1]`` to ``[0, 1]`` (not clamped)."""
    return (x + 1.0) / 2.0


def per_sample_norm(r: Tensor) -> Tensor:
    """The Euclidean norm of each sample of ``r`` (``(B, ...)`` -> ``(B,)``)."""
    return r.flatten(1).norm(dim=1)


def image_shape(operator: Any, y: Tensor) -> tuple[int, int, int, int]:
    """The shape ``(B, C, H, W)`` of the images ``x`` whose ``A(x)`` has the shape of ``y``: ``y``'s
    size times the operator's ``factor`` (1 when it has none)."""
    f = int(getattr(operator, "factor", 1))
    b, c, h, w = (int(n) for n in y.shape)
    return b, c, h * f, w * f


def _per_image(g: Generators, b: int) -> list[torch.Generator] | torch.Generator | None:
    if g is None or isinstance(g, torch.Generator):
        return g
    gens = list(g)
    if len(gens) != b or not all(isinstance(x, torch.Generator) for x in gens):
        raise UserError(f"expected one torch.Generator per image ({b}), got {len(gens)}")
    return gens


def _bcast(v: Tensor, like: Tensor) -> Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


class GuidedSampler:
    """Base of the guided samplers: ``sample(y, generator) -> x`` on ``[0, 1]``.

    ``prior``: a :class:`~innverse.diffusion.prior.DiffusionPrior` (anything with ``schedule``,
    ``prediction``, ``clip_sample``, a ``sampler(kind, steps, eta, spacing)`` method and
    ``prior(x_t, t)``); ``operator``: the forward operator of ``y`` (:mod:`innverse.physics`, on
    ``[0, 1]`` images); ``steps``: sampling steps (= network evaluations); ``sampler``: ``"ddpm"``
    (ancestral, the default) or ``"ddim"`` (with ``eta``); ``spacing``: the timestep respacing.
    The base class itself is the unguided sampler (a draw from the prior that ignores ``y``).
    """

    #: the method's name (as ``innverse superres --method`` spells it)
    name: ClassVar[str] = "unguided"
    #: whether :meth:`step` backpropagates through the prior's network
    uses_gradient: ClassVar[bool] = False

    def __init__(
        self,
        prior: Any,
        operator: Any,
        steps: int | None = 100,
        sampler: str = "ddpm",
        eta: float = 0.0,
        spacing: str = "leading",
    ) -> None:
        if sampler not in SAMPLER_KINDS:
            raise UserError(f"unknown sampler {sampler!r} (expected one of {', '.join(SAMPLER_KINDS)})")
        if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
            raise UserError(f"the number of sampling steps must be a whole number >= 1, got {steps!r}")
        self.prior = prior
        self.operator = operator
        self.check_operator(operator)
        self.schedule = prior.schedule
        self.prediction = prior.prediction
        self.sampler: Sampler = prior.sampler(sampler, steps, eta, spacing)
        self.kind = sampler
        #: network evaluations made so far (reset by :meth:`sample`)
        self.nfe = 0
        self._gens: list[torch.Generator] | torch.Generator | None = None

    # ------------------------------------------------------------------------------ for subclasses
    def check_operator(self, operator: Any) -> None:
        """Refuse an operator this method cannot use (one-line :class:`UserError`)."""

    def prepare(self, y: Tensor) -> None:
        """Per-call set-up from the observation ``y`` (``[0, 1]``); the base stores ``y``."""
        self.y = y

    def step(self, x_t: Tensor, t: int) -> Tensor:
        """``x_{t-1}`` from ``x_t`` (``[-1, 1]``) at timestep ``t``; the base: the unguided step."""
        with torch.no_grad():
            out, x0, eps = self.denoise(x_t, t)
            return self.unguided(self.clamp(x0), eps, x_t, t)

    # ------------------------------------------------------------------------------ the pieces
    @property
    def num_steps(self) -> int:
        """Sampling steps per call (network evaluations)."""
        return self.sampler.num_steps

    def timestep(self, t: int, like: Tensor) -> Tensor:
        """``t`` as the ``(B,)`` int64 tensor the network takes."""
        return torch.full((like.shape[0],), int(t), dtype=torch.int64, device=like.device)

    def denoise(self, x_t: Tensor, t: int) -> tuple[Tensor, Tensor, Tensor]:
        """``(model_out, x0_hat, eps_hat)`` at ``(x_t, t)``; ``x0_hat`` not clamped (differentiable)."""
        out = self.prior(x_t, self.timestep(t, x_t)).to(x_t.dtype)
        self.nfe += 1
        x0, eps = self.schedule.split(out, x_t, int(t), self.prediction)
        return out, x0, eps

    def clamp(self, x0: Tensor) -> Tensor:
        """``x0_hat`` clamped to ``[-clip, clip]`` as the prior's sampler does (no-op without a clip)."""
        c = self.sampler.clip_sample
        return x0 if c is None else x0.clamp(-c, c)

    def alpha_bar(self, t: int) -> float:
        """ᾱ_t (1 for ``t = -1``)."""
        return float(self.schedule.alpha_bar(int(t)))

    def noise_like(self, x: Tensor) -> Tensor:
        """Standard normal noise shaped like ``x`` from this call's generator(s) (module docstring)."""
        g = self._gens
        if isinstance(g, list):
            dev = g[0].device
            z = torch.stack(
                [torch.randn(tuple(x.shape[1:]), generator=gi, device=dev, dtype=torch.float32) for gi in g]
            )
        else:
            dev = g.device if g is not None else x.device
            z = torch.randn(tuple(x.shape), generator=g, device=dev, dtype=torch.float32)
        return z.to(device=x.device, dtype=x.dtype)

    def unguided(self, x0: Tensor, eps: Tensor, x_t: Tensor, t: int) -> Tensor:
        """The sampler's step from ``x_t`` given ``x0_hat`` (already clamped) and ``eps_hat``."""
        s = self.sampler
        if isinstance(s, DDIMSampler):
            ab_s = self.alpha_bar(s.prev_timestep(t))
            sig = s.sigma(t)
            x = ab_s**0.5 * x0 + max(1.0 - ab_s - sig**2, 0.0) ** 0.5 * eps
            return x + sig * self.noise_like(x_t) if sig > 0 else x
        if not isinstance(s, DDPMSampler):
            raise UserError(f"{self.name}: unsupported sampler {type(s).__name__}")
        mean, var = s.posterior(x0, x_t, int(t))
        return mean + var**0.5 * self.noise_like(x_t) if var > 0 else mean

    def denoise_with_gradient(
        self, x_t: Tensor, t: int, loss: Callable[[Tensor], Tensor]
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(x0_hat, eps_hat, grad, value)``: one network evaluation at ``(x_t, t)`` and
        ``grad = ∇_{x_t} Σ_b loss(x0_hat)_b`` through the network, with ``value`` the per-sample
        ``loss(x0_hat)`` ``(B,)`` (``x0_hat`` unclamped).  Samples do not interact in the network (its
        normalisations are per sample), so ``grad[b]`` is the gradient of sample ``b``'s own loss."""
        with torch.enable_grad():
            x = x_t.detach().requires_grad_(True)
            _, x0, eps = self.denoise(x, t)
            value = loss(x0)
            (grad,) = torch.autograd.grad(value.sum(), x)
        return x0.detach(), eps.detach(), grad, value.detach()

    def image_shape(self, y: Tensor) -> tuple[int, int, int, int]:
        """The shape of the images sampled for ``y``."""
        return image_shape(self.operator, y)

    # ------------------------------------------------------------------------------ the loop
    def sample(
        self,
        y: Tensor,
        generator: Generators = None,
        x_T: Tensor | None = None,
        callback: Callable[[int, int, Tensor], None] | None = None,
        clamp: bool = True,
    ) -> Tensor:
        """Sample ``x`` given ``y`` ``(B, C, h, w)`` on ``[0, 1]``; returns ``(B, C, H, W)`` on ``[0, 1]``.

        ``x_T`` (on ``[-1, 1]``) defaults to noise from ``generator``; ``callback(i, t, x_prev)`` runs
        after each step; ``clamp``: clamp the result to ``[0, 1]``.
        """
        if not isinstance(y, Tensor) or y.dim() != 4 or not y.is_floating_point():
            raise UserError(
                f"{self.name}: y must be a float tensor (B, C, h, w), got {getattr(y, 'shape', y)!r}"
            )
        self.nfe = 0
        self._gens = _per_image(generator, y.shape[0])
        shape = self.image_shape(y)
        if x_T is None:
            x = self.noise_like(torch.empty(shape, dtype=y.dtype, device=y.device))
        else:
            if tuple(x_T.shape) != shape:
                raise UserError(f"{self.name}: x_T has shape {tuple(x_T.shape)}, expected {shape}")
            x = x_T.to(device=y.device, dtype=y.dtype)
        self.prepare(y)
        try:
            for i, t in enumerate(self.sampler.timesteps.tolist()):
                x = self.step(x, int(t)).detach()
                if callback is not None:
                    callback(i, int(t), x)
        finally:
            self._gens = None
        out = to_image(x)
        return out.clamp(0.0, 1.0) if clamp else out

    def describe(self) -> dict:
        """The settings, for reports."""
        return {
            "method": self.name,
            "sampler": self.kind,
            "steps": self.num_steps,
            "eta": getattr(self.sampler, "eta", None),
            "network_evaluations": self.num_steps,
            "backward_passes": self.num_steps if self.uses_gradient else 0,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={self.num_steps}, sampler={self.kind!r})"


#: the smallest residual norm a normalised guidance step divides by: below it the residual (and with
#: it the gradient) is zero to working precision, and dividing by ``finfo.tiny`` would overflow to inf
#: (``4 / tiny = 2**128`` in float32), turning ``0 * inf`` into NaN
NORM_FLOOR = 1e-12


def normalized_step(zeta: float | Tensor, value: Tensor) -> Tensor:
    """``zeta / |r|`` per sample from ``value = |r|^2``, with ``|r|`` floored at :data:`NORM_FLOOR`."""
    return zeta / value.sqrt().clamp_min(NORM_FLOOR)


def scale_per_sample(v: Tensor, like: Tensor) -> Tensor:
    """A ``(B,)`` tensor shaped to multiply ``like`` sample by sample."""
    return _bcast(v, like)
