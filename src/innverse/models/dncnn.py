"""DnCNN (Zhang et al., 2017): a plain residual CNN denoiser, used as a speed/quality baseline.

Loads KAIR's released DnCNN-S checkpoints (keys ``model.N.weight/bias``; 17 conv layers, 64
channels, ReLU, batch norm already merged) with :meth:`DnCNN.from_official`.  ``forward(y, sigma=None)``
returns ``y - net(y)``; ``sigma`` is ignored (DnCNN-S is trained for one noise level).  Autograd follows
WINNet's rule (:func:`innverse.nn.records_graph`): no graph in eval mode unless the input requires grad.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.models.io import save_model
from innverse.models.official import released_model
from innverse.nn import records_graph

__all__ = ["DnCNN"]


class DnCNN(nn.Module):
    """``depth`` 3x3 convolutions (1 -> channels -> ... -> 1) with biases and ReLU; residual output."""

    kind = "dncnn"

    def __init__(self, depth: int = 17, channels: int = 64) -> None:
        super().__init__()
        if depth < 2 or channels < 1:
            raise ValueError(f"DnCNN needs depth >= 2 and channels >= 1; got {depth} and {channels}")
        self.config: dict[str, Any] = dict(depth=depth, channels=channels)
        chans = [1] + [channels] * (depth - 1) + [1]
        pairs = zip(chans[:-1], chans[1:], strict=True)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1, bias=True) for a, b in pairs)
        self.min_size = 3
        self.blind = False
        self.source: str | None = None

    def forward(self, y: Tensor, sigma: float | Tensor | None = None) -> Tensor:
        """Denoise ``y`` (B, 1, H, W); ``sigma`` is accepted and ignored."""
        with contextlib.nullcontext() if records_graph(self, y) else torch.no_grad():
            h = y.contiguous(memory_format=torch.channels_last)
            last = len(self.convs) - 1
            for i, conv in enumerate(self.convs):
                h = conv(h)
                if i < last:
                    h = F.relu(h)
            return (y - h).contiguous()

    @classmethod
    def from_official(cls, path: str | Path, map_location: str | torch.device = "cpu") -> DnCNN:
        """Load a KAIR DnCNN-S checkpoint (``dncnn_25.pth``; ``torch.load(weights_only=True)``)."""
        return released_model(cls, "dncnn", path, map_location)

    #: the former name of :meth:`from_official`
    from_kair = from_official

    def save(self, directory: str | Path, card: Mapping[str, Any] | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory`` (atomically)."""
        return save_model(self, directory, card)
