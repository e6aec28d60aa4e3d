"""RealNVP/Glow-style coupling layers (additive and affine)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import InvertibleModule, check_image, zero_logdet

__all__ = ["AdditiveCoupling", "AffineCoupling", "coupling_net"]


def coupling_net(in_channels: int, out_channels: int, hidden: int) -> nn.Sequential:
    """3x3 conv -> ReLU -> 1x1 conv -> ReLU -> 3x3 conv, the last conv zero-initialised (identity start)."""
    last = nn.Conv2d(hidden, out_channels, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, hidden, 1),
        nn.ReLU(),
        last,
    )


class _Coupling(InvertibleModule):
    def __init__(self, channels: int, hidden: int, out_factor: int) -> None:
        super().__init__()
        if channels < 2:
            raise ValueError(f"a coupling layer needs at least 2 channels; got {channels}")
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1; got {hidden}")
        self.channels = int(channels)
        self.split = self.channels // 2
        self.net = coupling_net(self.split, out_factor * (self.channels - self.split), hidden)

    def _halves(self, x: Tensor, name: str) -> tuple[Tensor, Tensor]:
        check_image(x, name=name)
        if x.shape[1] != self.channels:
            raise ValueError(f"{name} of shape {tuple(x.shape)} does not have channels={self.channels}")
        return x[:, : self.split], x[:, self.split :]

    def extra_repr(self) -> str:
        return f"channels={self.channels}, split={self.split}"


class AdditiveCoupling(_Coupling):
    """Additive (NICE) coupling: ``[x1 | x2] -> [x1 | x2 + t(x1)]``.

    ``x1`` is the first ``channels // 2`` channels, ``x2`` the remaining ``channels - channels // 2``
    (odd counts allowed); ``t`` is :func:`coupling_net` with a zero-initialised last layer, so the block
    starts as the identity.  Volume preserving: ``log_det = log|det dy/dx| = 0``.
    Conditioning keywords are accepted and ignored.
    """

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__(channels, hidden, out_factor=1)

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> latent; ``log_det = 0`` of shape ``(B,)``."""
        x1, x2 = self._halves(x, "AdditiveCoupling input")
        return torch.cat((x1, x2 + self.net(x1)), dim=1), zero_logdet(x)

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Latent -> data: ``x2 = y2 - t(y1)``."""
        y1, y2 = self._halves(y, "AdditiveCoupling.inverse input")
        return torch.cat((y1, y2 - self.net(y1)), dim=1)


class AffineCoupling(_Coupling):
    """Affine (RealNVP/Glow) coupling: ``[x1 | x2] -> [x1 | x2 * exp(s(x1)) + t(x1)]``.

    The net outputs ``(raw, t)``; the log-scale is soft-clamped, ``s = clamp * tanh(raw / clamp)``, so
    ``|s| < clamp`` and the inverse ``x2 = (y2 - t) * exp(-s)`` never overflows.  Split as in
    :class:`AdditiveCoupling`; starts as the identity (zero-initialised last layer).
    ``log_det = log|det dy/dx| = sum of s over (channel, H, W)`` per sample, shape ``(B,)``.
    Conditioning keywords are accepted and ignored.
    """

    def __init__(self, channels: int, hidden: int, clamp: float = 2.0) -> None:
        super().__init__(channels, hidden, out_factor=2)
        if not clamp > 0:
            raise ValueError(f"clamp must be > 0; got {clamp}")
        self.clamp = float(clamp)

    def _scale_shift(self, x1: Tensor) -> tuple[Tensor, Tensor]:
        raw, t = self.net(x1).chunk(2, dim=1)
        return self.clamp * torch.tanh(raw / self.clamp), t

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> latent; ``log_det = sum(s)`` per sample (positive when the block expands volume)."""
        x1, x2 = self._halves(x, "AffineCoupling input")
        s, t = self._scale_shift(x1)
        y2 = x2 * torch.exp(s) + t
        return torch.cat((x1, y2), dim=1), s.sum(dim=(1, 2, 3)).to(x.dtype)

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Latent -> data: ``x2 = (y2 - t(y1)) * exp(-s(y1))``."""
        y1, y2 = self._halves(y, "AffineCoupling.inverse input")
        s, t = self._scale_shift(y1)
        return torch.cat((y1, (y2 - t) * torch.exp(-s)), dim=1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, clamp={self.clamp}"
