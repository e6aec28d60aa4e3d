"""Glow (Kingma & Dhariwal, NeurIPS 2018): a multi-scale normalizing flow for images, built from
:mod:`innverse.nn`.

Architecture (data -> latent), for ``levels`` = L and ``steps`` = K:

* the dequantised image ``x`` in [0, 1] is centred, ``x - 1/2`` (log-det 0, ``preprocess="center"``,
  Glow's choice), or mapped by RealNVP's logit ``y = logit(alpha + (1 - 2 alpha) x)``
  (``preprocess="logit"``; log-det ``sum log((1 - 2 alpha) / (p (1 - p)))`` with
  ``p = alpha + (1 - 2 alpha) x``), which widens the saturated black and white bins of images such as
  Fashion-MNIST; both are part of the bijection, so ``log p(x)`` and bits/dim stay those of ``x``;
* each level: squeeze (space-to-depth, :class:`~innverse.nn.PolyphaseSplit`: C x H x W ->
  4C x H/2 x W/2), then K flow steps ``ActNorm -> invertible 1x1 convolution (LU) -> affine
  coupling``; then, on every level but the last, a *split*: the second half of the channels ``z`` is
  factored out and modelled by a learned conditional Gaussian ``N(mu(h), exp(logs(h))^2)`` whose mean
  and log-scale come from a zero-initialised 3x3 convolution of the kept half ``h``;
* the last level's output has a learned per-channel Gaussian prior (Glow's ``learn_top``).

``forward(x) -> (eps, log_det)`` whitens every factored-out part by its prior, ``eps = (z - mu) /
sigma``, and lays the latents out in the image's own shape (each level's ``[eps_kept | eps_z]`` is
un-squeezed back, as in RealNVP), so the whole model is one bijection ``x -> eps`` with
``eps ~ N(0, I)`` under the model and ``log_det = log|det d eps / dx|`` (the flow's log-det minus the
priors' log-scales).  Then ``log p(x) = log N(eps; 0, I) + log_det`` (:meth:`Glow.log_prob`).

Bits per dimension are computed as in the Glow paper: for 8-bit images dequantised as
``x = (x_uint8 + u) / 256`` with ``u ~ U[0, 1)``, ``bpd = (-log p(x) + D log 256) / (D ln 2)`` with ``D``
the number of pixels times channels (:meth:`Glow.bits_per_dim`).

Ablations of the paper are configuration switches: ``coupling="affine"|"additive"`` and
``permutation="1x1"|"shuffle"|"reverse"``.  ``checkpoint=True`` (or setting the attribute) runs each
level's forward through :class:`~innverse.nn.InvertibleCheckpoint` (activations recomputed from the
inverse in backward); it changes neither the results nor the weights' names.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.nn import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    Invertible1x1Conv,
    InvertibleCheckpoint,
    Permute,
    PolyphaseSplit,
    Sequential,
    conv_subnet,
)
from innverse.nn.base import records_graph

__all__ = ["Glow", "glow_step", "check_preprocess", "PREPROCESSINGS", "DEFAULT_ALPHA"]

_LOG_2PI = math.log(2 * math.pi)
#: the input maps of :class:`Glow` (``preprocess``)
PREPROCESSINGS = ("center", "logit")
#: ``alpha`` of a Glow whose config has none (and the constructor's default)
DEFAULT_ALPHA = 0.05


def check_preprocess(preprocess: str, alpha: float) -> None:
    """One-line :class:`~innverse.errors.UserError` unless ``preprocess`` is one of
    :data:`PREPROCESSINGS` and ``alpha`` lies in (0, 0.5)."""
    if preprocess not in PREPROCESSINGS:
        raise UserError(f"unknown Glow preprocess {preprocess!r} (expected center or logit)")
    if not 0.0 < alpha < 0.5:
        raise UserError(f"Glow alpha must be in (0, 0.5); got {alpha}")


def glow_step(
    channels: int, width: int, coupling: str, permutation: str, clamp: float, seed: int
) -> Sequential:
    """One flow step ``ActNorm -> permutation -> coupling`` on ``channels`` channels.

    ``permutation``: ``"1x1"`` (LU 1x1 convolution), ``"shuffle"`` (a fixed random permutation seeded
    with ``seed``) or ``"reverse"``; ``coupling``: ``"affine"`` or ``"additive"``, with a
    conv 3x3 -> ReLU -> conv 1x1 -> ReLU -> zero-initialised conv 3x3 sub-network of ``width`` channels.
    """
    if permutation == "1x1":
        perm: nn.Module = Invertible1x1Conv(channels)
    elif permutation in ("shuffle", "reverse"):
        perm = Permute(channels, mode=permutation, seed=seed)
    else:
        raise UserError(f"unknown Glow permutation {permutation!r} (expected 1x1, shuffle or reverse)")
    sub = conv_subnet(width, channels_last=True)
    if coupling == "affine":
        coup: nn.Module = AffineCoupling(channels, subnet_constructor=sub, clamp=clamp)
    elif coupling == "additive":
        coup = AdditiveCoupling(channels, subnet_constructor=sub)
    else:
        raise UserError(f"unknown Glow coupling {coupling!r} (expected affine or additive)")
    return Sequential(ActNorm(channels), perm, coup)


class Glow(nn.Module):
    """A multi-scale Glow on ``(B, in_channels, H, W)`` images in [0, 1] (see the module docstring).

    ``H`` and ``W`` must be multiples of ``2 ** levels``; ``image_size`` (an int or ``(H, W)``) is only
    the size :meth:`sample` draws by default (Fashion-MNIST: 28 with two levels, 28 -> 14 -> 7).
    """

    kind: ClassVar[str] = "glow"
    conditions: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        in_channels: int = 1,
        levels: int = 2,
        steps: int = 8,
        width: int = 128,
        coupling: str = "affine",
        permutation: str = "1x1",
        clamp: float = 2.0,
        image_size: int | list[int] | tuple[int, int] = 28,
        checkpoint: bool = False,
        seed: int = 0,
        preprocess: str = "center",
        alpha: float = DEFAULT_ALPHA,
    ) -> None:
        super().__init__()
        check_preprocess(preprocess, alpha)
        if in_channels < 1 or levels < 1 or steps < 1 or width < 1:
            raise UserError(
                "Glow needs in_channels, levels, steps and width >= 1; "
                f"got {in_channels}, {levels}, {steps}, {width}"
            )
        sizes = [int(image_size)] * 2 if isinstance(image_size, int) else [int(v) for v in image_size]
        if len(sizes) != 2 or sizes[0] % 2**levels or sizes[1] % 2**levels:
            raise UserError(f"Glow image_size {sizes} must be two multiples of 2**levels = {2**levels}")
        size = (sizes[0], sizes[1])
        self.config: dict[str, Any] = {
            "in_channels": int(in_channels),
            "levels": int(levels),
            "steps": int(steps),
            "width": int(width),
            "coupling": coupling,
            "permutation": permutation,
            "clamp": float(clamp),
            "image_size": list(size),
            "seed": int(seed),
            "preprocess": preprocess,
            "alpha": float(alpha),
        }
        #: train through InvertibleCheckpoint (a training option: not part of the config or the weights)
        self.checkpoint = bool(checkpoint)
        self.image_size = size
        self.blocks = nn.ModuleList()
        self.priors = nn.ModuleList()
        c = int(in_channels)
        for level in range(levels):
            c4 = 4 * c
            steps_ = [
                glow_step(c4, width, coupling, permutation, clamp, seed=seed * 1000 + level * 100 + k)
                for k in range(steps)
            ]
            self.blocks.append(Sequential(PolyphaseSplit(), *steps_))
            if level < levels - 1:
                keep = c4 // 2
                prior = nn.Conv2d(keep, 2 * (c4 - keep), 3, padding=1)
                assert prior.bias is not None
                nn.init.zeros_(prior.weight)
                nn.init.zeros_(prior.bias)
                self.priors.append(prior)
                c = keep
            else:
                c = c4
        #: the last level's learned prior: per-channel mean and log-scale
        self.top = nn.Parameter(torch.zeros(1, 2 * c, 1, 1))
        self._squeeze = PolyphaseSplit()

    # ------------------------------------------------------------------ the bijection x <-> eps
    def _check(self, x: Tensor, name: str) -> None:
        c, m = self.config["in_channels"], 2 ** self.config["levels"]
        if x.dim() != 4 or x.shape[1] != c:
            raise UserError(f"{name} must have shape (B, {c}, H, W); got {tuple(x.shape)}")
        if x.shape[2] % m or x.shape[3] % m:
            raise UserError(f"{name} of shape {tuple(x.shape)}: H and W must be multiples of {m}")

    @staticmethod
    def _gauss(params: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        mean, logs = params.to(dtype).chunk(2, dim=1)
        return mean, logs

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data ``x`` (B, C, H, W) in [0, 1] -> whitened latents ``eps`` of the same shape, and
        ``log_det = log|det d eps / dx|`` of shape ``(B,)``."""
        self._check(x, "Glow input")
        with torch.set_grad_enabled(records_graph(self, x)):
            h, ld0 = self._preprocess(x)
            eps, log_det = self._encode(0, h)
        return eps, log_det + ld0

    def _preprocess(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` in [0, 1] -> the first level's input and its log-det (see the module docstring)."""
        if self.config["preprocess"] == "center":
            return x - 0.5, x.new_zeros(x.shape[0])
        a = self.config["alpha"]
        p = a + (1.0 - 2.0 * a) * x
        lp, l1p = torch.log(p), torch.log1p(-p)
        ld = (math.log(1.0 - 2.0 * a) - lp - l1p).flatten(1).sum(1)
        return lp - l1p, ld

    def _postprocess(self, h: Tensor) -> Tensor:
        """The inverse of :meth:`_preprocess`."""
        if self.config["preprocess"] == "center":
            return h + 0.5
        a = self.config["alpha"]
        return (torch.sigmoid(h) - a) / (1.0 - 2.0 * a)

    def _encode(self, level: int, h: Tensor) -> tuple[Tensor, Tensor]:
        block = self.blocks[level]
        h, log_det = (InvertibleCheckpoint(block) if self.checkpoint else block)(h)
        if level == len(self.blocks) - 1:
            mean, logs = self._gauss(self.top, h.dtype)
            eps = (h - mean) * torch.exp(-logs)
            log_det = log_det - logs.sum() * (h.shape[2] * h.shape[3])
            return self._squeeze.inverse(eps), log_det
        prior: nn.Conv2d = self.priors[level]  # type: ignore[assignment]
        keep = prior.in_channels
        h, z = h[:, :keep], h[:, keep:]
        mean, logs = self._gauss(prior(h), h.dtype)
        eps_z = (z - mean) * torch.exp(-logs)
        log_det = log_det - logs.flatten(1).sum(1)
        eps_h, ld = self._encode(level + 1, h)
        return self._squeeze.inverse(torch.cat((eps_h, eps_z), dim=1)), log_det + ld

    def inverse(self, eps: Tensor, **cond) -> Tensor:
        """Latents ``eps`` (B, C, H, W) -> data ``x`` (the exact inverse of :meth:`forward`; not clipped)."""
        self._check(eps, "Glow.inverse input")
        with torch.set_grad_enabled(records_graph(self, eps)):
            return self._postprocess(self._decode(0, eps))

    def _decode(self, level: int, e: Tensor) -> Tensor:
        s, _ = self._squeeze(e)
        block: Sequential = self.blocks[level]  # type: ignore[assignment]
        if level == len(self.blocks) - 1:
            mean, logs = self._gauss(self.top, s.dtype)
            return block.inverse(mean + torch.exp(logs) * s)
        prior: nn.Conv2d = self.priors[level]  # type: ignore[assignment]
        keep = prior.in_channels
        h = self._decode(level + 1, s[:, :keep])
        mean, logs = self._gauss(prior(h), h.dtype)
        z = mean + torch.exp(logs) * s[:, keep:]
        return block.inverse(torch.cat((h, z), dim=1))

    # ------------------------------------------------------------------ densities and sampling
    def log_prob(self, x: Tensor) -> Tensor:
        """``log p(x)`` in nats per image, shape ``(B,)``, of continuous (dequantised) ``x`` in [0, 1]."""
        eps, log_det = self(x)
        return -0.5 * (eps**2).flatten(1).sum(1) - 0.5 * _LOG_2PI * eps[0].numel() + log_det

    def bits_per_dim(self, images: Tensor, seed: int = 0, samples: int = 1) -> Tensor:
        """Bits per dimension of 8-bit ``images`` (B, C, H, W) ``uint8``, per image, shape ``(B,)``.

        Each image is dequantised ``samples`` times as ``(x + u) / 256`` with ``u ~ U[0, 1)`` from
        ``torch.Generator().manual_seed(seed)`` and ``bpd = (-log p + D log 256) / (D ln 2)`` is
        averaged over the draws (the Glow paper's definition; one draw is its estimate).
        """
        images = torch.as_tensor(images)
        if images.dtype != torch.uint8:
            raise UserError(f"bits_per_dim takes uint8 images; got {images.dtype}")
        self._check(images, "bits_per_dim images")
        if samples < 1:
            raise UserError(f"samples must be >= 1; got {samples}")
        p = next(self.parameters())
        g = torch.Generator().manual_seed(int(seed))
        d = images[0].numel()
        total = torch.zeros(images.shape[0], dtype=torch.float64)
        with torch.no_grad():
            for _ in range(samples):
                u = torch.rand(images.shape, generator=g, dtype=torch.float64)
                x = ((images.double() + u) / 256.0).to(device=p.device, dtype=p.dtype)
                nll = -self.log_prob(x).double().cpu()
                total += (nll + d * math.log(256.0)) / (d * math.log(2.0))
        return total / samples

    @torch.no_grad()
    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        size: tuple[int, int] | None = None,
    ) -> Tensor:
        """``n`` images ``(n, C, H, W)`` in [0, 1] drawn at ``temperature`` (``eps ~ N(0, T^2 I)``).

        The result is clipped to [0, 1]; any non-finite value (none occur for finite weights at
        T <= 1 -- the tests check it) would be replaced by 0.5 before clipping, so the output is always
        finite.  ``size`` defaults to the configured ``image_size``.
        """
        if not (math.isfinite(temperature) and temperature >= 0):
            raise UserError(f"temperature must be a finite number >= 0; got {temperature}")
        h, w = size if size is not None else self.image_size
        p = next(self.parameters())
        eps = torch.randn(n, self.config["in_channels"], h, w, generator=generator, dtype=torch.float32)
        x = self.inverse(temperature * eps.to(device=p.device, dtype=p.dtype))
        return torch.nan_to_num(x, nan=0.5, posinf=1.0, neginf=0.0).clamp(0.0, 1.0)

    @torch.no_grad()
    def raw_sample(
        self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """Like :meth:`sample` but neither clipped nor guarded (to count non-finite values)."""
        h, w = self.image_size
        p = next(self.parameters())
        eps = torch.randn(n, self.config["in_channels"], h, w, generator=generator, dtype=torch.float32)
        return self.inverse(temperature * eps.to(device=p.device, dtype=p.dtype))

    def sample_grid(
        self, n: int = 64, temperature: float = 0.7, seed: int = 0, nrow: int | None = None, pad: int = 2
    ) -> np.ndarray:
        """``n`` samples tiled into one ``float32`` image on [0, 1] (``H x W`` grey or ``H x W x C``),
        ``nrow`` per row (default: a near-square grid), separated by ``pad`` white pixels; seeded."""
        if n < 1:
            raise UserError(f"n must be >= 1; got {n}")
        x = self.sample(n, temperature, generator=torch.Generator().manual_seed(int(seed))).float().cpu()
        cols = nrow or int(math.ceil(math.sqrt(n)))
        rows = int(math.ceil(n / cols))
        c, h, w = x.shape[1:]
        grid = torch.ones(c, rows * (h + pad) + pad, cols * (w + pad) + pad)
        for i in range(n):
            r, k = divmod(i, cols)
            top, left = pad + r * (h + pad), pad + k * (w + pad)
            grid[:, top : top + h, left : left + w] = x[i]
        out = grid.permute(1, 2, 0).numpy()
        return out[..., 0] if c == 1 else out

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        from innverse.models.io import save_model

        return save_model(self, directory, card)
