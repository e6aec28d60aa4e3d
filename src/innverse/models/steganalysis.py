"""A small steganalysis CNN: tells stego images from covers (a lite Xu-Net / Ye-Net).

Hidden data lives in the high frequencies, so the network first takes fixed high-pass residuals of
each colour channel (on the 0-255 scale): the 5x5 "KV" kernel of the spatial rich model and the
horizontal and vertical first differences, 9 residual maps for RGB.  Then
``conv 3x3 -> |.| -> BN -> tanh`` (Xu-Net's absolute-value layer), three
``conv 3x3 -> BN -> ReLU -> 2x2 average pool`` stages, a global average and a linear layer give one
logit per image: > 0 says "stego".  Global averaging makes it work at any image size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Steganalyser", "residual_kernels", "high_pass"]


def residual_kernels() -> Tensor:
    """The fixed high-pass kernels ``(3, 1, 5, 5)``: KV (divided by 12) and first differences."""
    kv = (
        torch.tensor(
            [
                [-1, 2, -2, 2, -1],
                [2, -6, 8, -6, 2],
                [-2, 8, -12, 8, -2],
                [2, -6, 8, -6, 2],
                [-1, 2, -2, 2, -1],
            ],
            dtype=torch.float32,
        )
        / 12.0
    )
    dx = torch.zeros(5, 5)
    dx[2, 2], dx[2, 3] = -1.0, 1.0
    dy = torch.zeros(5, 5)
    dy[2, 2], dy[3, 2] = -1.0, 1.0
    return torch.stack([kv, dx, dy])[:, None]


#: the number of fixed high-pass kernels of :func:`residual_kernels`
_KERNELS = 3


def high_pass(x: Tensor, kernels: Tensor | None = None) -> Tensor:
    """The fixed high-pass residuals ``(B, 3C, H, W)`` of ``(B, C, H, W)`` images on their own scale:
    each of the :func:`residual_kernels` (or ``kernels``, already repeated per channel) applied to every
    channel, with replicate padding; ``kernels`` made for another channel count is an error."""
    if kernels is None:
        kernels = residual_kernels().to(device=x.device, dtype=x.dtype).repeat(x.shape[1], 1, 1, 1)
    groups = kernels.shape[0] // _KERNELS
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernels, groups=groups)


class Steganalyser(nn.Module):
    """``model(x) -> logits (B,)`` for images ``(B, channels, H, W)`` on [0, 1]; positive = stego."""

    kernels: Tensor

    def __init__(self, channels: int = 3, width: int = 16) -> None:
        super().__init__()
        self.channels = channels
        k = residual_kernels()
        self.register_buffer("kernels", k.repeat(channels, 1, 1, 1), persistent=False)
        r = k.shape[0] * channels
        self.first = nn.Conv2d(r, width, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(width)
        stages = []
        cin = width
        for cout in (width, 2 * width, 4 * width):
            stages += [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.AvgPool2d(2),
            ]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(cin, 1)

    def residuals(self, x: Tensor) -> Tensor:
        """The fixed high-pass residuals ``(B, 3 channels, H, W)`` on the 0-255 scale."""
        return high_pass(x * 255.0, self.kernels)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.bn0(self.first(self.residuals(x)).abs()))
        h = self.stages(h)
        return self.head(h.mean(dim=(2, 3))).squeeze(1)
