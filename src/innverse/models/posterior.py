"""Posterior INNs for low-dimensional inverse problems ``y = f(x)``: they return samples of the whole
posterior ``p(x | y)``, not one estimate.

* :class:`PosteriorINN` -- the INN of Ardizzone et al., "Analyzing inverse problems with invertible
  neural networks" (ICLR 2019): one bijection ``[x, 0] <-> [z, 0, y]`` between the parameters
  (zero-padded to ``total_dim``) and the observation together with a latent ``z``.  Trained
  bidirectionally (:mod:`innverse.train.tasks.posterior`); sampled by running the inverse on
  ``[z ~ N(0, I), 0, y]``.
* :class:`ConditionalINN` -- the conditional INN (Ardizzone et al. 2019b; Kruse et al. 2021): a
  bijection ``x <-> z`` whose affine couplings are conditioned on ``y`` (the core's ``cond_channels``),
  trained by maximum likelihood; sampled by inverting ``z ~ N(0, I)`` given ``y``.

Both are stacks of ``blocks`` x [affine coupling updating the second half, affine coupling updating the
first half, fixed random permutation] -- the GLOW-style two-sided coupling block of FrEIA's
``GLOWCouplingBlock`` -- with fully connected sub-networks (:func:`innverse.nn.mlp_subnet`).  ``x`` and
``y`` are standardised by fixed affine maps stored in the config (``x_shift``/``x_scale``,
``y_shift``/``y_scale``).  With ``y_classes = K`` the observation is a class label: :meth:`sample`
then also takes ``(B,)`` integer labels and one-hot encodes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.nn import AffineCoupling, Permute, Sequential, mlp_subnet
from innverse.nn.base import records_graph

__all__ = ["PosteriorINN", "ConditionalINN", "coupling_stack"]

_LOG_2PI = math.log(2 * math.pi)


def coupling_stack(
    dim: int, blocks: int, hidden: int, layers: int, clamp: float, cond_dim: int = 0, seed: int = 0
) -> Sequential:
    """``blocks`` x [affine coupling (2nd half) -> affine coupling (1st half) -> permutation] on vectors
    of ``dim`` values, conditioned on ``cond_dim`` values (keyword ``cond``) when ``cond_dim > 0``."""
    mods: list[nn.Module] = []
    sub = mlp_subnet(hidden, layers)
    for b in range(blocks):
        for update in ("second", "first"):
            mods.append(
                AffineCoupling(
                    dim, subnet_constructor=sub, clamp=clamp, cond_channels=cond_dim, update=update
                )
            )
        mods.append(Permute(dim, seed=seed * 1000 + b))
    return Sequential(*mods)


def _floats(v: Sequence[float] | float | None, n: int, default: float, name: str) -> list[float]:
    if v is None:
        return [default] * n
    out = [float(v)] * n if isinstance(v, int | float) else [float(a) for a in v]
    if len(out) != n:
        raise UserError(f"{name} must hold {n} values; got {len(out)}")
    if name.endswith("scale") and not all(a > 0 for a in out):
        raise UserError(f"{name} must be positive; got {out}")
    return out


class _PosteriorModel(nn.Module):
    """Shared parts: standardisation of x and y, the observation's encoding, save."""

    kind: ClassVar[str] = ""
    conditions: ClassVar[tuple[str, ...]] = ()
    config: dict[str, Any]
    x_shift: Tensor
    x_scale: Tensor
    y_shift: Tensor
    y_scale: Tensor

    def _setup_scaling(self, x_dim: int, y_dim: int, cfg: dict[str, Any]) -> None:
        for name, n in (("x_shift", x_dim), ("x_scale", x_dim), ("y_shift", y_dim), ("y_scale", y_dim)):
            vals = _floats(cfg[name], n, 1.0 if name.endswith("scale") else 0.0, name)
            cfg[name] = vals
            # float64: exact config values (every use casts to the data's dtype)
            self.register_buffer(name, torch.tensor(vals, dtype=torch.float64), persistent=False)

    @property
    def x_dim(self) -> int:
        return int(self.config["x_dim"])

    @property
    def y_dim(self) -> int:
        return int(self.config["y_dim"])

    def _param(self) -> Tensor:
        return next(self.parameters())

    def observation(self, y: Tensor) -> Tensor:
        """``y`` as the network's standardised ``(B, y_dim)`` float tensor: ``(B, y_dim)`` values, or,
        when ``y_classes`` is set, ``(B,)`` integer labels (one-hot encoded).  UserError otherwise."""
        y = torch.as_tensor(y)
        k = int(self.config["y_classes"])
        p = self._param()
        if k and y.dim() == 1 and not y.dtype.is_floating_point:
            if y.numel() and (int(y.min()) < 0 or int(y.max()) >= k):
                raise UserError(f"labels must be in [0, {k - 1}]; got {y.tolist()}")
            y = nn.functional.one_hot(y.long(), k)
        if y.dim() != 2 or y.shape[1] != self.y_dim:
            want = f"(B, {self.y_dim})" + (" or (B,) integer labels" if k else "")
            raise UserError(f"y must have shape {want}; got {tuple(y.shape)}")
        y = y.to(device=p.device, dtype=p.dtype)
        if not bool(torch.isfinite(y).all()):
            raise UserError("y holds non-finite values")
        return (y - self.y_shift.to(p.dtype)) / self.y_scale.to(p.dtype)

    @property
    def _latent_dim(self) -> int:
        """Width of the latent ``z ~ N(0, I)`` that :meth:`sample` draws."""
        raise NotImplementedError

    def _decode(self, z: Tensor, yn: Tensor) -> Tensor:
        """Standardised ``x`` (B, x_dim) of latents ``z`` (B, _latent_dim) and standardised observations
        ``yn`` (B, y_dim), by the bijection's inverse."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(
        self, y: Tensor, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> Tensor:
        """Posterior samples ``(B, n, x_dim)`` for observations ``y`` (see :meth:`observation`): ``n``
        latents ``z ~ temperature * N(0, I)`` per observation (drawn in float32 on the CPU, so that a
        seeded ``generator`` gives the same samples on every device), mapped back to ``x``."""
        yn = self.observation(y)
        b = yn.shape[0]
        p = self._param()
        z = temperature * torch.randn(b * n, self._latent_dim, generator=generator, dtype=torch.float32)
        x = self._decode(z.to(device=p.device, dtype=p.dtype), yn.repeat_interleave(n, dim=0))
        return self.denormalise_x(x).reshape(b, n, self.x_dim)

    def normalise_x(self, x: Tensor) -> Tensor:
        return (x - self.x_shift.to(x.dtype)) / self.x_scale.to(x.dtype)

    def denormalise_x(self, x: Tensor) -> Tensor:
        return x * self.x_scale.to(x.dtype) + self.x_shift.to(x.dtype)

    def denormalise_y(self, y: Tensor) -> Tensor:
        return y * self.y_scale.to(y.dtype) + self.y_shift.to(y.dtype)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        from innverse.models.io import save_model

        return save_model(self, directory, card)


class PosteriorINN(_PosteriorModel):
    """Ardizzone et al.'s INN: ``forward`` maps standardised ``[x, pad]`` (``total_dim`` values) to
    ``[z, pad, y]`` (``z_dim`` latent values first, ``y_dim`` observation values last, zero padding
    between), with ``log_det = log|det d out / d in|`` of shape ``(B,)``; ``inverse`` is exact.

    ``total_dim`` defaults to ``max(x_dim, y_dim + z_dim)``.  :meth:`sample` draws posterior samples,
    :meth:`predict` the forward surrogate ``y(x)``.
    """

    kind: ClassVar[str] = "posterior-inn"

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        z_dim: int,
        total_dim: int | None = None,
        blocks: int = 3,
        hidden: int = 64,
        layers: int = 2,
        clamp: float = 4.0,
        y_classes: int = 0,
        x_shift: Sequence[float] | None = None,
        x_scale: Sequence[float] | None = None,
        y_shift: Sequence[float] | None = None,
        y_scale: Sequence[float] | None = None,
        problem: str = "",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if min(x_dim, y_dim, z_dim, blocks, hidden, layers) < 1:
            raise UserError("x_dim, y_dim, z_dim, blocks, hidden and layers must be >= 1")
        total = max(x_dim, y_dim + z_dim) if total_dim is None else int(total_dim)
        if total < max(x_dim, y_dim + z_dim) or total < 2:
            raise UserError(f"total_dim {total} must be >= max(x_dim, y_dim + z_dim, 2)")
        self.config: dict[str, Any] = {
            "x_dim": int(x_dim), "y_dim": int(y_dim), "z_dim": int(z_dim), "total_dim": total,
            "blocks": int(blocks), "hidden": int(hidden), "layers": int(layers), "clamp": float(clamp),
            "y_classes": int(y_classes), "x_shift": x_shift, "x_scale": x_scale, "y_shift": y_shift,
            "y_scale": y_scale, "problem": str(problem), "seed": int(seed),
        }  # fmt: skip
        self._setup_scaling(x_dim, y_dim, self.config)
        self.flow = coupling_stack(total, blocks, hidden, layers, clamp, seed=seed)

    @property
    def z_dim(self) -> int:
        return int(self.config["z_dim"])

    @property
    def flow_dim(self) -> int:
        """Width of the bijection's input (``total_dim``)."""
        return self.total_dim

    @property
    def total_dim(self) -> int:
        return int(self.config["total_dim"])

    # ------------------------------------------------------------------ layout
    def pad_x(self, x: Tensor, noise: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
        """Standardised ``x`` (B, x_dim) -> the input ``[x, pad]`` (pad ~ ``noise`` * N(0, 1))."""
        pad = x.new_zeros(x.shape[0], self.total_dim - self.x_dim)
        if noise:
            pad = pad + noise * torch.randn(pad.shape, generator=generator, dtype=x.dtype).to(x.device)
        return torch.cat((x, pad), dim=1)

    def join_out(self, z: Tensor, y: Tensor, pad: Tensor | None = None) -> Tensor:
        """``[z, pad, y]`` (the output layout); ``pad`` defaults to zeros."""
        n_pad = self.total_dim - self.z_dim - self.y_dim
        if pad is None:
            pad = z.new_zeros(z.shape[0], n_pad)
        return torch.cat((z, pad, y), dim=1)

    def split_out(self, out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(z, pad, y)`` parts of an output ``[z, pad, y]``."""
        return out[:, : self.z_dim], out[:, self.z_dim : self.total_dim - self.y_dim], out[:, -self.y_dim :]

    # ------------------------------------------------------------------ the bijection
    def forward(self, v: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Input ``[x, pad]`` (B, total_dim), standardised -> ``([z, pad, y], log_det)``."""
        self._check(v)
        with torch.set_grad_enabled(records_graph(self, v)):
            return self.flow(v)

    def inverse(self, out: Tensor, **cond) -> Tensor:
        """``[z, pad, y]`` -> ``[x, pad]`` (exact inverse of :meth:`forward`)."""
        self._check(out)
        with torch.set_grad_enabled(records_graph(self, out)):
            return self.flow.inverse(out)

    def _check(self, v: Tensor) -> None:
        if v.dim() != 2 or v.shape[1] != self.total_dim:
            raise UserError(f"PosteriorINN input must have shape (B, {self.total_dim}); got {tuple(v.shape)}")

    # ------------------------------------------------------------------ use
    @property
    def _latent_dim(self) -> int:
        """Width of the latent ``z`` that :meth:`sample` draws (``z_dim``)."""
        return self.z_dim

    def _decode(self, z: Tensor, yn: Tensor) -> Tensor:
        """Standardised ``x`` of latents ``z`` and standardised observations ``yn``: the inverse of
        ``[z, 0, y]``, its first ``x_dim`` values."""
        return self.flow.inverse(self.join_out(z, yn))[:, : self.x_dim]

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """The learned forward process: ``y`` predicted from ``x`` (B, x_dim), in y's units."""
        p = self._param()
        x = torch.as_tensor(x).to(device=p.device, dtype=p.dtype)
        if x.dim() != 2 or x.shape[1] != self.x_dim:
            raise UserError(f"x must have shape (B, {self.x_dim}); got {tuple(x.shape)}")
        out, _ = self.flow(self.pad_x(self.normalise_x(x)))
        return self.denormalise_y(self.split_out(out)[2])


class ConditionalINN(_PosteriorModel):
    """A conditional INN: ``forward(x, cond=y)`` maps standardised ``x`` (B, x_dim) to ``z`` (B, x_dim)
    with ``log_det = log|det dz/dx|`` of shape ``(B,)``; the couplings see the standardised observation
    ``y`` (B, y_dim) through keyword ``cond``.  ``z ~ N(0, I)`` under the model."""

    kind: ClassVar[str] = "posterior-cinn"
    conditions: ClassVar[tuple[str, ...]] = ("cond",)

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        blocks: int = 4,
        hidden: int = 64,
        layers: int = 2,
        clamp: float = 2.0,
        y_classes: int = 0,
        x_shift: Sequence[float] | None = None,
        x_scale: Sequence[float] | None = None,
        y_shift: Sequence[float] | None = None,
        y_scale: Sequence[float] | None = None,
        problem: str = "",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if min(y_dim, blocks, hidden, layers) < 1 or x_dim < 2:
            raise UserError("x_dim must be >= 2 and y_dim, blocks, hidden and layers >= 1")
        self.config: dict[str, Any] = {
            "x_dim": int(x_dim), "y_dim": int(y_dim), "blocks": int(blocks), "hidden": int(hidden),
            "layers": int(layers), "clamp": float(clamp), "y_classes": int(y_classes), "x_shift": x_shift,
            "x_scale": x_scale, "y_shift": y_shift, "y_scale": y_scale, "problem": str(problem),
            "seed": int(seed),
        }  # fmt: skip
        self._setup_scaling(x_dim, y_dim, self.config)
        self.flow = coupling_stack(x_dim, blocks, hidden, layers, clamp, cond_dim=y_dim, seed=seed)

    @property
    def flow_dim(self) -> int:
        """Width of the bijection's input (``x_dim``)."""
        return self.x_dim

    def forward(self, x: Tensor, cond: Tensor | None = None, **kw) -> tuple[Tensor, Tensor]:
        """Standardised ``x`` -> ``(z, log_det)`` given the standardised observation ``cond``."""
        if cond is None:
            raise UserError("ConditionalINN needs the observation as keyword cond=")
        with torch.set_grad_enabled(records_graph(self, x, cond)):
            return self.flow(x, cond=cond)

    def inverse(self, z: Tensor, cond: Tensor | None = None, **kw) -> Tensor:
        """``z`` -> standardised ``x`` given ``cond`` (exact inverse of :meth:`forward`)."""
        if cond is None:
            raise UserError("ConditionalINN needs the observation as keyword cond=")
        with torch.set_grad_enabled(records_graph(self, z, cond)):
            return self.flow.inverse(z, cond=cond)

    def log_prob(self, x: Tensor, y: Tensor) -> Tensor:
        """``log p(x | y)`` in nats, shape ``(B,)``, for ``x`` (B, x_dim) in its own units."""
        yn = self.observation(y)
        x = torch.as_tensor(x).to(yn)
        z, log_det = self(self.normalise_x(x), cond=yn)
        log_det = log_det - torch.log(self.x_scale.to(z.dtype)).sum()
        return -0.5 * (z**2).sum(1) - 0.5 * _LOG_2PI * self.x_dim + log_det

    @property
    def _latent_dim(self) -> int:
        """Width of the latent ``z`` that :meth:`sample` draws (``x_dim``)."""
        return self.x_dim

    def _decode(self, z: Tensor, yn: Tensor) -> Tensor:
        """Standardised ``x`` of latents ``z`` given standardised observations ``yn`` (the inverse)."""
        return self.flow.inverse(z, cond=yn)
