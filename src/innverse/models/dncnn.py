"""DnCNN (Zhang et al., 2017): a plain residual CNN denoiser, used as a speed/quality baseline.

Loads KAIR's released DnCNN-S checkpoints (keys ``model.N.weight/bias``; 17 conv layers, 64
channels, ReLU, batch norm already merged).  ``forward(y, sigma=None)`` returns ``y - net(y)``;
``sigma`` is ignored (DnCNN-S is trained for one noise level).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.errors import UserError

__all__ = ["DnCNN"]


class DnCNN(nn.Module):
    kind = "dncnn"

    def __init__(self, depth: int = 17, channels: int = 64) -> None:
        super().__init__()
        self.config = dict(depth=depth, channels=channels)
        chans = [1] + [channels] * (depth - 1) + [1]
        pairs = zip(chans[:-1], chans[1:], strict=True)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1, bias=True) for a, b in pairs)
        self.min_size = 3
        self.blind = False

    def forward(self, y: Tensor, sigma: float | Tensor | None = None) -> Tensor:
        h = y.contiguous(memory_format=torch.channels_last)
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < last:
                h = F.relu(h)
        return (y - h).contiguous()

    @classmethod
    def from_kair(cls, path: str | Path, map_location: str | torch.device = "cpu") -> DnCNN:
        try:
            sd = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as e:
            raise UserError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__})") from None
        idx = sorted({int(k.split(".")[1]) for k in sd if k.startswith("model.")})
        if not idx:
            raise UserError(f"{path}: not a KAIR DnCNN checkpoint")
        model = cls(depth=len(idx), channels=sd[f"model.{idx[0]}.weight"].shape[0])
        mapped = {}
        for j, i in enumerate(idx):
            mapped[f"convs.{j}.weight"] = sd[f"model.{i}.weight"]
            mapped[f"convs.{j}.bias"] = sd[f"model.{i}.bias"]
        model.load_state_dict(mapped)
        return model.to(map_location).eval()
