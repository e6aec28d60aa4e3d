"""Glow building blocks: ActNorm and the LU-parametrised invertible 1x1 convolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import InvertibleModule, check_image

__all__ = ["ActNorm", "Invertible1x1Conv"]


def _check_channels(x: Tensor, channels: int, name: str) -> None:
    check_image(x, name=name)
    if x.shape[1] != channels:
        raise ValueError(f"{name} of shape {tuple(x.shape)} does not have channels={channels}")


class ActNorm(InvertibleModule):
    """Per-channel affine normalisation ``y = (x + bias) * exp(logs)`` (Glow).

    Data-dependent initialisation: the first ``forward`` call in training mode while the ``initialized``
    buffer is false sets ``bias = -mean`` and ``logs = -log(std + eps)`` per channel from that batch, so that
    batch's output has zero mean and unit variance per channel, then sets the buffer.  Because
    ``initialized`` is a registered buffer it travels with ``state_dict``: a loaded checkpoint is never
    re-initialised.  In eval mode (or after initialisation) the stored parameters are used as they are.

    ``log_det = log|det dy/dx| = H * W * sum(logs)`` per sample, shape ``(B,)``.
    """

    initialized: Tensor

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.channels = int(channels)
        self.eps = float(eps)
        self.bias = nn.Parameter(torch.zeros(1, self.channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, self.channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set ``bias``/``logs`` from batch ``x`` (zero-mean, unit-variance output); mark initialised."""
        _check_channels(x, self.channels, "ActNorm input")
        xd = x.detach()
        mean = xd.mean(dim=(0, 2, 3), keepdim=True)
        std = xd.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
        self.bias.copy_(-mean)
        self.logs.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(True)

    def _log_det(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        return (h * w) * self.logs.sum().to(x.dtype) * x.new_ones(x.shape[0])

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> latent; ``log_det = H*W*sum(logs)`` of shape ``(B,)``."""
        _check_channels(x, self.channels, "ActNorm input")
        if self.training and not bool(self.initialized):
            self.initialize(x)
        y = (x + self.bias.to(x.dtype)) * torch.exp(self.logs.to(x.dtype))
        return y, self._log_det(x)

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Latent -> data: ``x = y * exp(-logs) - bias``."""
        _check_channels(y, self.channels, "ActNorm.inverse input")
        return y * torch.exp(-self.logs.to(y.dtype)) - self.bias.to(y.dtype)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class Invertible1x1Conv(InvertibleModule):
    """Invertible 1x1 convolution with an LU-parametrised weight (Glow), ``y[:, i] = sum_j W[i, j] x[:, j]``.

    ``W = P @ L @ (U + diag(sign_s * exp(log_s)))`` with a fixed permutation ``P`` and fixed signs
    ``sign_s`` (buffers), a unit-lower-triangular ``L`` and strictly-upper ``U`` (parameters, only their
    strict triangles are used) and ``log_s`` (parameter).  Initialised from a random orthogonal matrix drawn
    from torch's global RNG (seed it with ``torch.manual_seed`` for reproducibility).

    ``log_det = log|det dy/dx| = H * W * sum(log_s)`` per sample, shape ``(B,)``.  The inverse uses
    ``W^{-1}`` computed in float64 and cast to the input's dtype.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1; got {channels}")
        self.channels = c = int(channels)
        q, _ = torch.linalg.qr(torch.randn(c, c, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        dtype = torch.get_default_dtype()
        self.register_buffer("perm", p.to(dtype))
        self.register_buffer("sign_s", torch.sign(s).to(dtype))
        self.lower = nn.Parameter(torch.tril(lower, -1).to(dtype))
        self.upper = nn.Parameter(torch.triu(upper, 1).to(dtype))
        self.log_s = nn.Parameter(torch.log(s.abs()).to(dtype))

    def weight(self) -> Tensor:
        """The current ``(C, C)`` weight matrix ``P L (U + diag(sign_s exp(log_s)))``."""
        eye = torch.eye(self.channels, dtype=self.lower.dtype, device=self.lower.device)
        lower = torch.tril(self.lower, -1) + eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ lower @ upper

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> latent; ``log_det = H*W*sum(log_s)`` of shape ``(B,)``."""
        _check_channels(x, self.channels, "Invertible1x1Conv input")
        w = self.weight().to(x.dtype)
        y = F.conv2d(x, w.reshape(self.channels, self.channels, 1, 1))
        h, wd = x.shape[-2:]
        log_det = (h * wd) * self.log_s.sum().to(x.dtype) * x.new_ones(x.shape[0])
        return y, log_det

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Latent -> data with ``W^{-1}`` (computed in float64, then cast to ``y``'s dtype)."""
        _check_channels(y, self.channels, "Invertible1x1Conv.inverse input")
        w_inv = torch.linalg.inv(self.weight().to(torch.float64)).to(y.dtype)
        return F.conv2d(y, w_inv.reshape(self.channels, self.channels, 1, 1))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"
