"""Glow building blocks: ActNorm, the LU-parametrised invertible 1x1 convolution and fixed permutations.

Each block works on images ``(B, C, H, W)`` and on vectors ``(B, D)`` ("channels" is ``C`` or ``D``; a
vector behaves like a 1x1 image, so the per-position log-det factor ``H * W`` is 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import InvertibleModule, zero_logdet

__all__ = ["ActNorm", "Invertible1x1Conv", "Permute"]


def _check_channels(x: Tensor, channels: int, name: str) -> None:
    if x.dim() not in (2, 4):
        raise ValueError(f"{name} must have shape (B, C, H, W) or (B, D); got {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise ValueError(f"{name} of shape {tuple(x.shape)} does not have channels={channels}")


def _positions(x: Tensor) -> int:
    """``H * W`` for an image, 1 for a vector."""
    return x.shape[-2] * x.shape[-1] if x.dim() == 4 else 1


def _per_channel(p: Tensor, x: Tensor) -> Tensor:
    """A ``(1, C, 1, 1)`` parameter shaped to broadcast against ``x`` (image or vector), in x's dtype."""
    return (p if x.dim() == 4 else p.reshape(1, -1)).to(x.dtype)


class ActNorm(InvertibleModule):
    """Per-channel affine normalisation ``y = (x + bias) * exp(logs)`` (Glow).

    Data-dependent initialisation: the first ``forward`` call in training mode while the ``initialized``
    buffer is false sets ``bias = -mean`` and ``logs = -log(std + eps)`` per channel from that batch, so that
    batch's output has zero mean and unit variance per channel, then sets the buffer.  Because
    ``initialized`` is a registered buffer it travels with ``state_dict``: a loaded checkpoint is never
    re-initialised.  In eval mode (or after initialisation) the stored parameters are used as they are.

    ``log_det = log|det dy/dx| = H * W * sum(logs)`` per sample, shape ``(B,)`` (``H * W = 1`` for vectors).
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
        dims = (0, 2, 3) if x.dim() == 4 else (0,)
        mean = xd.mean(dim=dims).reshape(self.bias.shape)
        std = xd.std(dim=dims, unbiased=False).reshape(self.logs.shape)
        self.bias.copy_(-mean)
        self.logs.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(True)

    def _log_det(self, x: Tensor) -> Tensor:
        return _positions(x) * self.logs.sum().to(x.dtype) * x.new_ones(x.shape[0])

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> latent; ``log_det = H*W*sum(logs)`` of shape ``(B,)``."""
        _check_channels(x, self.channels, "ActNorm input")
        if self.training and not bool(self.initialized):
            self.initialize(x)
        y = (x + _per_channel(self.bias, x)) * torch.exp(_per_channel(self.logs, x))
        return y, self._log_det(x)

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Latent -> data: ``x = y * exp(-logs) - bias``."""
        _check_channels(y, self.channels, "ActNorm.inverse input")
        return y * torch.exp(-_per_channel(self.logs, y)) - _per_channel(self.bias, y)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class Invertible1x1Conv(InvertibleModule):
    """Invertible 1x1 convolution with an LU-parametrised weight (Glow), ``y[:, i] = sum_j W[i, j] x[:, j]``.

    ``W = P @ L @ (U + diag(sign_s * exp(log_s)))`` with a fixed permutation ``P`` and fixed signs
    ``sign_s`` (buffers), a unit-lower-triangular ``L`` and strictly-upper ``U`` (parameters, only their
    strict triangles are used) and ``log_s`` (parameter).  Initialised from a random orthogonal matrix drawn
    from torch's global RNG (seed it with ``torch.manual_seed`` for reproducibility).

    ``log_det = log|det dy/dx| = H * W * sum(log_s)`` per sample, shape ``(B,)`` (``H * W = 1`` for
    vectors, where the block is the linear map ``y = W x``).  The inverse uses
    ``W^{-1}`` computed in float64 and cast to the input's dtype.
    """

    perm: Tensor
    sign_s: Tensor

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
        y = F.conv2d(x, w.reshape(self.channels, self.channels, 1, 1)) if x.dim() == 4 else x @ w.T
        log_det = _positions(x) * self.log_s.sum().to(x.dtype) * x.new_ones(x.shape[0])
        return y, log_det

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Latent -> data with ``W^{-1}`` (computed in float64, then cast to ``y``'s dtype)."""
        _check_channels(y, self.channels, "Invertible1x1Conv.inverse input")
        w_inv = torch.linalg.inv(self.weight().to(torch.float64)).to(y.dtype)
        if y.dim() == 2:
            return y @ w_inv.T
        return F.conv2d(y, w_inv.reshape(self.channels, self.channels, 1, 1))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class Permute(InvertibleModule):
    """A fixed permutation of the channels, ``y[:, i] = x[:, perm[i]]`` (log-det 0).

    ``mode="shuffle"`` draws a random permutation (from ``torch.Generator().manual_seed(seed)`` when
    ``seed`` is given, else from torch's global RNG); ``mode="reverse"`` reverses the channel order
    (RealNVP's alternation, Glow's "reverse" baseline).  The permutation is a buffer, so it is saved with
    ``state_dict``.  Volume preserving: ``log_det = log|det dy/dx| = 0``, shape ``(B,)``.
    """

    perm: Tensor
    inv_perm: Tensor

    def __init__(self, channels: int, mode: str = "shuffle", seed: int | None = None) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1; got {channels}")
        if mode not in ("shuffle", "reverse"):
            raise ValueError(f"mode must be 'shuffle' or 'reverse'; got {mode!r}")
        self.channels, self.mode = int(channels), mode
        if mode == "reverse":
            perm = torch.arange(self.channels - 1, -1, -1)
        else:
            gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
            perm = torch.randperm(self.channels, generator=gen)
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> latent: ``x[:, perm]``; ``log_det = 0`` of shape ``(B,)``."""
        _check_channels(x, self.channels, "Permute input")
        return x[:, self.perm], zero_logdet(x)

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Latent -> data: ``y[:, argsort(perm)]``."""
        _check_channels(y, self.channels, "Permute.inverse input")
        return y[:, self.inv_perm]

    def extra_repr(self) -> str:
        return f"channels={self.channels}, mode={self.mode!r}"
