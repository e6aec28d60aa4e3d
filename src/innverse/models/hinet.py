"""Invertible image hiding (HiNet, Jing et al., ICCV 2021; several secrets as in InvMIHNet, Chen et al.,
ICASSP 2024), sized to train on a CPU.

Both images are taken to the wavelet domain by the orthonormal Haar transform
(:class:`innverse.nn.HaarSplit`): ``C = W(cover)`` (12 channels for RGB) and ``S = [W(s_1) | ... |
W(s_N)]`` (12 N channels).  ``blocks`` invertible blocks update each branch from the other::

    C <- C + phi(S)                                      # the cover branch absorbs the secrets
    S <- S * exp(clamp * tanh(rho(C))) + eta(C)          # affine coupling of the secret branch

Forward (hiding): ``(cover, secrets) -> (stego = W⁻¹(C), r = S)``; ``r`` is the information the stego
image cannot carry, modelled as ``N(0, I)``.  Inverse (revealing): ``(stego, z ~ N(0, I)) -> (cover',
secrets')`` by undoing the blocks last to first; with ``z = r`` it is exact (tested to 1e-12 in
float64).  Several secrets need no extra machinery: the secret branch simply has ``12 N`` channels and
``r`` carries ``12 N`` channels of lost information; every block stays a pair of exactly invertible
couplings whatever the branch widths.

The log-determinant of the hiding map with respect to ``(C, S)`` is ``Σ clamp·tanh(rho/clamp)`` over
the secret branch (the Haar transforms and the additive step have log-det 0); :meth:`log_det` returns it.

As a bijection (the :class:`~innverse.models.protocols.Flow` contract): ``forward(x) -> (y, log_det)``
with ``x = [cover | secret_1 | ... | secret_N]`` stacked on channels ``(B, 3 (1 + N), H, W)`` and
``y = [stego | W⁻¹(r_1) | ... | W⁻¹(r_N)]`` of the same shape (``r`` taken back to the image domain
per secret, an orthogonal map), ``log_det = log|det ∂y/∂x|``; ``inverse(y) -> x`` exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.nn import HaarSplit
from innverse.nn.base import records_graph

__all__ = ["HiNet", "quantize_8bit"]


def quantize_8bit(x: Tensor) -> Tensor:
    """``round(255 x) / 255`` clipped to [0, 1], with a straight-through gradient (8-bit PNG in the loop)."""
    q = (x.clamp(0, 1) * 255.0).round() / 255.0
    return x + (q - x).detach()


class _Dense(nn.Module):
    """A small dense block (3x3 convs, LeakyReLU, concatenated features); last layer zero-initialised."""

    def __init__(self, cin: int, cout: int, hidden: int, layers: int = 3) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(cin + i * hidden, hidden, 3, padding=1) for i in range(layers))
        self.out = nn.Conv2d(cin + layers * hidden, cout, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        if self.out.bias is not None:
            nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for c in self.convs:
            feats.append(F.leaky_relu(c(torch.cat(feats, 1)), 0.2))
        return self.out(torch.cat(feats, 1))


class _Block(nn.Module):
    def __init__(self, cc: int, cs: int, hidden: int, clamp: float) -> None:
        super().__init__()
        self.phi = _Dense(cs, cc, hidden)
        self.rho = _Dense(cc, cs, hidden)
        self.eta = _Dense(cc, cs, hidden)
        self.clamp = clamp

    def scale(self, c: Tensor) -> Tensor:
        return self.clamp * torch.tanh(self.rho(c) / self.clamp)

    def forward(self, c: Tensor, s: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        c = c + self.phi(s)
        log_s = self.scale(c)
        s = s * torch.exp(log_s) + self.eta(c)
        return c, s, log_s.flatten(1).sum(1)

    def inverse(self, c: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        s = (s - self.eta(c)) * torch.exp(-self.scale(c))
        c = c - self.phi(s)
        return c, s


class HiNet(nn.Module):
    """Hide ``secrets`` images in one cover: ``hide(cover, secrets) -> (stego, r)``,
    ``reveal(stego, z) -> (cover', secrets')``; images ``(B, 3, H, W)`` in [0, 1], ``H, W`` even."""

    kind = "hinet"
    conditions: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, secrets: int = 1, blocks: int = 4, hidden: int = 32, clamp: float = 2.0, channels: int = 3
    ) -> None:
        super().__init__()
        if secrets < 1 or blocks < 1 or hidden < 1 or channels < 1 or not clamp > 0:
            raise ValueError("secrets, blocks, hidden, channels must be >= 1 and clamp > 0")
        self.config: dict[str, Any] = {
            "secrets": int(secrets),
            "blocks": int(blocks),
            "hidden": int(hidden),
            "clamp": float(clamp),
            "channels": int(channels),
        }
        self.secrets, self.channels = int(secrets), int(channels)
        self.split = HaarSplit()
        cc, cs = 4 * channels, 4 * channels * secrets
        self.blocks = nn.ModuleList(_Block(cc, cs, hidden, float(clamp)) for _ in range(blocks))

    def _blocks(self) -> list[_Block]:
        return [cast(_Block, b) for b in self.blocks]

    def _check(self, x: Tensor, what: str) -> None:
        if x.dim() != 4 or x.shape[1] != self.channels or x.shape[-1] % 2 or x.shape[-2] % 2:
            raise ValueError(
                f"{what} must be (B, {self.channels}, H, W) with even H and W; got {tuple(x.shape)}"
            )

    def _secret_bands(self, secrets: Tensor | list[Tensor]) -> Tensor:
        if isinstance(secrets, Tensor):
            secrets = [secrets] if secrets.dim() == 4 else list(secrets.unbind(1))
        if len(secrets) != self.secrets:
            raise ValueError(f"this model hides {self.secrets} secret image(s); got {len(secrets)}")
        for s in secrets:
            self._check(s, "each secret")
        return torch.cat([self.split(s)[0] for s in secrets], dim=1)

    def hide_bands(self, cover: Tensor, secrets: Tensor | list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """``(C, S, log_det)`` after the blocks, in the wavelet domain."""
        self._check(cover, "the cover")
        c = self.split(cover)[0]
        s = self._secret_bands(secrets)
        if s.shape[-2:] != c.shape[-2:]:
            raise ValueError("the cover and the secrets must have the same size")
        ld = c.new_zeros(c.shape[0])
        for b in self._blocks():
            c, s, l_b = b(c, s)
            ld = ld + l_b
        return c, s, ld

    def hide(self, cover: Tensor, secrets: Tensor | list[Tensor]) -> tuple[Tensor, Tensor]:
        """``(stego, r)``: the stego image ``(B, C, H, W)``, the lost information ``(B, 4CN, H/2, W/2)``."""
        c, s, _ = self.hide_bands(cover, secrets)
        return self.split.inverse(c), s

    def log_det(self, cover: Tensor, secrets: Tensor | list[Tensor]) -> Tensor:
        """``log|det ∂(stego, r)/∂(cover, secrets)|`` per sample, ``(B,)``."""
        return self.hide_bands(cover, secrets)[2]

    def reveal(
        self, stego: Tensor, z: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """``(cover', [secret'_1, ...])`` from a stego image; ``z`` (default ``N(0, I)`` from ``generator``)
        stands in for the lost information ``r``."""
        self._check(stego, "the stego image")
        c = self.split(stego)[0]
        shape = (c.shape[0], 4 * self.channels * self.secrets, *c.shape[-2:])
        if z is None:
            z = (
                torch.randn(shape, generator=generator, device=c.device, dtype=c.dtype)
                if generator is None or generator.device == c.device
                else torch.randn(shape, generator=generator).to(c)
            )
        elif tuple(z.shape) != shape:
            raise ValueError(f"z must have shape {shape}; got {tuple(z.shape)}")
        s = z
        for b in reversed(self._blocks()):
            c, s = b.inverse(c, s)
        k = 4 * self.channels
        return self.split.inverse(c), [
            self.split.inverse(s[:, i * k : (i + 1) * k]) for i in range(self.secrets)
        ]

    def _stacked(self, x: Tensor, what: str) -> list[Tensor]:
        c = self.channels * (1 + self.secrets)
        if x.dim() != 4 or x.shape[1] != c:
            raise ValueError(
                f"{what} must be (B, {c}, H, W) (the cover and {self.secrets} secret(s) stacked "
                f"on channels); got {tuple(x.shape)}"
            )
        return list(x.split(self.channels, dim=1))

    def forward(self, x: Tensor, **cond: Any) -> tuple[Tensor, Tensor]:
        """``[cover | secrets] -> ([stego | W⁻¹(r) per secret], log|det ∂y/∂x|)``, shapes kept (the
        hiding map as a bijection; see the module docstring)."""
        cover, *secrets = self._stacked(x, "HiNet input")
        with torch.set_grad_enabled(records_graph(self, x)):
            c, s, ld = self.hide_bands(cover, secrets)
            k = 4 * self.channels
            rs = [self.split.inverse(s[:, i * k : (i + 1) * k]) for i in range(self.secrets)]
            return torch.cat([self.split.inverse(c), *rs], dim=1), ld

    def inverse(self, y: Tensor, **cond: Any) -> Tensor:
        """The exact inverse of :meth:`forward`: ``[stego | W⁻¹(r)] -> [cover | secrets]``."""
        stego, *rs = self._stacked(y, "HiNet.inverse input")
        with torch.set_grad_enabled(records_graph(self, y)):
            r = torch.cat([self.split(t)[0] for t in rs], dim=1)
            self._check(stego, "the stego image")
            cover, secrets = self.reveal(stego, r)
            return torch.cat([cover, *secrets], dim=1)

    def low_frequency(self, x: Tensor) -> Tensor:
        """The LL band of ``x`` (HiNet's low-frequency wavelet loss compares these)."""
        return self.split(x)[0][:, : self.channels]

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` (+ ``card.json``) into ``directory``."""
        from innverse.models.io import save_model

        return save_model(self, directory, card=card)
