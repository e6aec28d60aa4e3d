"""The INN of INDigo (You, Floros & Dragotti, MMSP 2023): a lifting-scheme INN whose coarse part mimics
the degradation.

``f(x) = (c, [d_1, ..., d_L])``: each level splits its input with the orthonormal Haar transform
(:class:`innverse.nn.HaarSplit`), scales the coarse band by 1/2 so that it is on the scale of a 2x2
average, and runs ``steps`` lifting steps (:class:`innverse.nn.LiftingStep`: ``d <- d - P(c)``,
``c <- c + U(d)``) with small residual CNN predictors and updaters; the next level repeats this on the
coarse part only.  After ``L = log2(scale)`` levels the coarse part ``c`` has the size of the
low-resolution observation ``y``, and training makes ``c(x) ≈ A(x)`` (``loss = mean |c(x) - y|^2``)
while the details ``d`` carry what the degradation lost.

Exactly invertible whatever the networks compute: :meth:`inverse` ``(c, details) -> x`` undoes every
step.  :meth:`forward` returns ``(y, log|det dy/dx|)`` on the concatenated coefficients as every
:mod:`innverse.nn` block does; the log-det is the constant ``L * C * (H/2)(W/2)...`` term of the 1/2
coarse scalings (the lifting steps and Haar splits have log-det 0).  With zero-initialised last layers
the untrained INN is the (scaled) Haar wavelet, whose coarse part is exactly the s x s block average.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.nn import HaarSplit, LiftingStep
from innverse.nn.base import records_graph

__all__ = ["INDigoINN", "ResidualNet"]


class ResidualNet(nn.Module):
    """``cin -> cout`` channels: 3x3 conv, ``blocks`` residual blocks (conv-ReLU-conv), 3x3 conv.

    The last convolution starts at zero, so a lifting step built from it starts as the identity."""

    def __init__(self, cin: int, cout: int, hidden: int = 32, blocks: int = 2) -> None:
        super().__init__()
        self.head = nn.Conv2d(cin, hidden, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, hidden, 3, padding=1)
            )
            for _ in range(blocks)
        )
        self.tail = nn.Conv2d(hidden, cout, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        assert self.tail.bias is not None
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.head(x))
        for b in self.blocks:
            h = h + b(h)
        return self.tail(F.relu(h))


class INDigoINN(nn.Module):
    """The INDigo INN for ``scale``-times downsampling of ``channels``-channel images.

    ``analysis(x) -> (c, details)`` with ``c`` of shape ``(B, C, H/scale, W/scale)`` and ``details``
    a list (finest first) of ``(B, 3C, H/2^l, W/2^l)``; ``synthesis(c, details) -> x`` is its exact
    inverse; ``merge(y, x)`` = ``synthesis(y, analysis(x).details)`` (INDigo's x̂0 = f⁻¹(y, d)).
    """

    kind = "indigo-inn"

    def __init__(
        self, channels: int = 1, scale: int = 4, steps: int = 2, hidden: int = 32, blocks: int = 2
    ) -> None:
        super().__init__()
        levels = int(round(math.log2(scale)))
        if scale < 2 or 2**levels != scale:
            raise ValueError(f"scale must be a power of two >= 2; got {scale}")
        if channels < 1 or steps < 1 or hidden < 1 or blocks < 0:
            raise ValueError("channels, steps and hidden must be >= 1 and blocks >= 0")
        self.config: dict[str, Any] = {
            "channels": int(channels),
            "scale": int(scale),
            "steps": int(steps),
            "hidden": int(hidden),
            "blocks": int(blocks),
        }
        self.levels = levels
        self.channels = int(channels)
        self.split = HaarSplit()
        c = self.channels
        self.lifting = nn.ModuleList(
            nn.ModuleList(
                LiftingStep(ResidualNet(c, 3 * c, hidden, blocks), ResidualNet(3 * c, c, hidden, blocks), c)
                for _ in range(steps)
            )
            for _ in range(levels)
        )

    def _levels(self) -> list[list[LiftingStep]]:
        return [
            [s for s in level.children() if isinstance(s, LiftingStep)] for level in self.lifting.children()
        ]

    # ------------------------------------------------------------------------ the two directions
    def analysis(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Data -> ``(coarse, details)``: per level Haar, coarse x 1/2, then the lifting steps."""
        m = 2**self.levels
        if x.dim() != 4 or x.shape[1] != self.channels or x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(
                f"INDigoINN input must be (B, {self.channels}, H, W) with H and W multiples of {m}; "
                f"got {tuple(x.shape)}"
            )
        details = []
        c = x
        for steps in self._levels():
            bands, _ = self.split(c)
            c, d = bands[:, : self.channels] * 0.5, bands[:, self.channels :]
            for s in steps:
                c, d = s.forward_parts(c, d)
            details.append(d)
        return c, details

    def synthesis(self, c: Tensor, details: Sequence[Tensor]) -> Tensor:
        """``(coarse, details)`` -> data: the exact inverse of :meth:`analysis`."""
        if len(details) != self.levels:
            raise ValueError(f"expected {self.levels} detail tensors; got {len(details)}")
        for steps, d in zip(reversed(self._levels()), reversed(list(details)), strict=True):
            for s in reversed(steps):
                c, d = s.inverse_parts(c, d)
            c = self.split.inverse(torch.cat((c * 2.0, d), dim=1))
        return c

    def merge(self, y: Tensor, x: Tensor) -> Tensor:
        """INDigo's consistency step: the image whose coarse part is ``y`` and whose details are ``x``'s."""
        _, details = self.analysis(x)
        return self.synthesis(y, details)

    def coarse(self, x: Tensor) -> Tensor:
        """``c(x)``, the part trained to match the degradation."""
        return self.analysis(x)[0]

    # ------------------------------------------------------------------------ the innverse.nn face
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Data -> all coefficients packed at the coarse resolution ``(B, C s^2, H/s, W/s)``: ``[c | d_L |
        ... | d_1]`` with each finer detail pixel-unshuffled to the coarse grid; and ``log|det dy/dx|``
        ``(B,)``, the constant of the 1/2 coarse scalings (lifting steps and Haar splits add 0)."""
        with torch.set_grad_enabled(records_graph(self, x)):
            return self._pack(x)

    def _pack(self, x: Tensor) -> tuple[Tensor, Tensor]:
        c, details = self.analysis(x)
        top = self.levels - 1
        parts = [c] + [F.pixel_unshuffle(d, 2 ** (top - k)) for k, d in reversed(list(enumerate(details)))]
        n_scaled = sum(x.shape[2] * x.shape[3] // 4 ** (k + 1) for k in range(self.levels)) * self.channels
        return torch.cat(parts, dim=1), x.new_full((x.shape[0],), n_scaled * math.log(0.5))

    def inverse(self, y: Tensor) -> Tensor:
        """The inverse of :meth:`forward`."""
        with torch.set_grad_enabled(records_graph(self, y)):
            return self._unpack(y)

    def _unpack(self, y: Tensor) -> Tensor:
        ch = self.channels
        c, rest = y[:, :ch], y[:, ch:]
        details: list[Tensor] = [torch.empty(0)] * self.levels
        off = 0
        top = self.levels - 1
        for k in reversed(range(self.levels)):
            n = 3 * ch * 4 ** (top - k)
            details[k] = F.pixel_shuffle(rest[:, off : off + n], 2 ** (top - k))
            off += n
        return self.synthesis(c, details)

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` (+ ``card.json``) into ``directory``."""
        from innverse.models.io import save_model

        return save_model(self, directory, card=card)
