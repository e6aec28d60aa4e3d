"""DURRNet: deep unfolded single-image reflection removal with an invertible wavelet prior
(Huang, Dragotti et al., ICASSP 2024), sized to train on a CPU.

Model ``I ≈ T + R = D_T z_T + D_R z_R`` with feature maps ``z_T, z_R`` (``features`` channels) and
convolutional synthesis dictionaries ``D_T, D_R`` (``features -> 3`` channels, 3x3).  The network
unfolds proximal-gradient steps on

    ½‖I − D_T z_T − D_R z_R‖² + λ_T p(z_T) + λ_R p(z_R) + κ E(D_T z_T, D_R z_R),

where ``E(T, R) = Σ_m ‖(W_m T) ⊙ (W_m R)‖₁`` over the Haar bands ``W_m`` (T and R rarely have edges in
the same place).  One stage, for each branch ``X ∈ {T, R}``::

    g_X = D_Xᵀ (D_T z_T + D_R z_R − I) + κ D_Xᵀ ∂E/∂X          # ∂E/∂T = Wᵀ(sign(W T) |W R|), exactly
    z_X ← prox_X(z_X − η_X g_X)

``D_Xᵀ`` is the exact adjoint (the transposed convolution with the same weights).  The proximal
operator is the *invertible wavelet prior*: ``prox(z) = F⁻¹(shrink(F(z), θ))`` where ``F`` = a Haar
split of every feature channel followed by ``prior_steps`` lifting steps
(:class:`innverse.nn.LiftingStep`, d ← d − P(c); c ← c + U(d)) whose predictors and updaters start
at zero, so that ``F`` starts as the exact Haar wavelet and training "over-parameterises" it; the
detail coefficients are soft-thresholded with learned per-channel thresholds, the coarse band is
kept.  ``F`` is exactly invertible whatever it learns.

Multi-scale: ``scales`` passes from coarse to fine; at each scale the image is average-pooled by
``2**k``, the features of the previous scale are upsampled (nearest) and refined by ``stages``
unfolded stages (the weights of the stages are not shared).  Initial features: ``z_X = E_X(I)``, a
3x3 convolution.

Ablations (constructor flags): ``lifting=False`` freezes the prior at the Haar wavelet (no lifting
steps); ``exclusion=False`` drops the exclusion gradient from the network (set the loss weight to 0 as
well for the paper's "no exclusion prior").  :func:`durrnet_config` gives the ``lite`` and ``full``
sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.nn import HaarSplit, LiftingStep

__all__ = ["DURRNet", "durrnet_config", "exclusion_loss", "haar_bands", "CONFIGS"]

#: documented sizes: ``lite`` trains on this project's CPU, ``full`` is the paper-like width
CONFIGS: dict[str, dict[str, Any]] = {
    "lite": {"features": 16, "stages": 2, "scales": 2, "prior_steps": 1, "prior_hidden": 16},
    "full": {"features": 64, "stages": 4, "scales": 3, "prior_steps": 2, "prior_hidden": 64},
}


def durrnet_config(name: str) -> dict[str, Any]:
    """The constructor keywords of a documented size (``lite`` or ``full``)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown DURRNet size {name!r} (expected one of {', '.join(CONFIGS)})")
    return dict(CONFIGS[name])


def haar_bands(x: Tensor) -> Tensor:
    """One-level orthonormal Haar bands of every channel, ``(B, 4C, H/2, W/2)`` (odd sizes are cropped)."""
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    return HaarSplit()(x[..., :h, :w])[0]


def exclusion_loss(t: Tensor, r: Tensor) -> Tensor:
    """``mean |W_m T ⊙ W_m R|`` over the three Haar detail bands (the exclusion prior as a loss)."""
    bt, br = haar_bands(t), haar_bands(r)
    c = t.shape[1]
    return (bt[:, c:] * br[:, c:]).abs().mean()


class _SmallNet(nn.Module):
    """conv3x3-ReLU-conv3x3 with the last layer zero-initialised (a lifting step starts as identity)."""

    def __init__(self, cin: int, cout: int, hidden: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(cin, hidden, 3, padding=1)
        self.b = nn.Conv2d(hidden, cout, 3, padding=1)
        nn.init.zeros_(self.b.weight)
        assert self.b.bias is not None
        nn.init.zeros_(self.b.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.b(F.relu(self.a(x)))


class WaveletProx(nn.Module):
    """``F⁻¹(shrink(F(z), θ))`` with ``F`` = Haar split of each channel + lifting steps (exactly invertible).

    ``transform(z) -> (coarse, detail)`` and ``inverse_transform(coarse, detail)`` expose ``F``.
    Odd spatial sizes are handled by replicate-padding one row/column and cropping after.
    """

    def __init__(self, channels: int, steps: int, hidden: int, lifting: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.split = HaarSplit()
        self.steps = nn.ModuleList(
            LiftingStep(
                _SmallNet(channels, 3 * channels, hidden), _SmallNet(3 * channels, channels, hidden), channels
            )
            for _ in range(steps if lifting else 0)
        )
        # thresholds of the detail bands, softplus-parametrised (start near 0.02)
        self.theta = nn.Parameter(torch.full((1, 3 * channels, 1, 1), -3.9))

    def _steps(self) -> list[LiftingStep]:
        return [s for s in self.steps if isinstance(s, LiftingStep)]

    def transform(self, z: Tensor) -> tuple[Tensor, Tensor]:
        bands, _ = self.split(z)
        c, d = bands[:, : self.channels], bands[:, self.channels :]
        for s in self._steps():
            c, d = s.forward_parts(c, d)
        return c, d

    def inverse_transform(self, c: Tensor, d: Tensor) -> Tensor:
        for s in reversed(self._steps()):
            c, d = s.inverse_parts(c, d)
        return self.split.inverse(torch.cat((c, d), dim=1))

    def forward(self, z: Tensor) -> Tensor:
        h, w = z.shape[-2:]
        ph, pw = h % 2, w % 2
        if ph or pw:
            z = F.pad(z, (0, pw, 0, ph), mode="replicate")
        c, d = self.transform(z)
        d = torch.sign(d) * F.relu(d.abs() - F.softplus(self.theta))
        out = self.inverse_transform(c, d)
        return out[..., :h, :w]


class _Stage(nn.Module):
    """One unfolded proximal-gradient stage on (z_T, z_R)."""

    def __init__(
        self, features: int, prior_steps: int, prior_hidden: int, lifting: bool, exclusion: bool
    ) -> None:
        super().__init__()
        self.exclusion = exclusion
        self.eta = nn.Parameter(torch.full((2,), 0.5))
        self.kappa = nn.Parameter(torch.tensor(0.1))
        self.prox_t = WaveletProx(features, prior_steps, prior_hidden, lifting)
        self.prox_r = WaveletProx(features, prior_steps, prior_hidden, lifting)

    def forward(self, img: Tensor, zt: Tensor, zr: Tensor, dt: Tensor, dr: Tensor) -> tuple[Tensor, Tensor]:
        t, r = F.conv2d(zt, dt, padding=1), F.conv2d(zr, dr, padding=1)
        res = t + r - img
        gt, gr = res, res
        if self.exclusion:
            et, er = _exclusion_grads(t, r)
            gt, gr = gt + self.kappa * et, gr + self.kappa * er
        zt = self.prox_t(zt - self.eta[0] * F.conv_transpose2d(gt, dt, padding=1))
        zr = self.prox_r(zr - self.eta[1] * F.conv_transpose2d(gr, dr, padding=1))
        return zt, zr


def _exclusion_grads(t: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
    """``(∂E/∂T, ∂E/∂R)`` of ``E = Σ |W T ⊙ W R|`` over the Haar detail bands (W orthonormal, so the
    gradient maps back with the same Haar inverse); odd sizes: the last row/column gets zero."""
    h, w = t.shape[-2] // 2 * 2, t.shape[-1] // 2 * 2
    split = HaarSplit()
    bt, _ = split(t[..., :h, :w])
    br, _ = split(r[..., :h, :w])
    c = t.shape[1]
    mask = torch.ones_like(bt)
    mask[:, :c] = 0  # the coarse band is not part of the prior
    gt = split.inverse(mask * torch.sign(bt) * br.abs())
    gr = split.inverse(mask * torch.sign(br) * bt.abs())
    if (h, w) != tuple(t.shape[-2:]):
        gt = F.pad(gt, (0, t.shape[-1] - w, 0, t.shape[-2] - h))
        gr = F.pad(gr, (0, t.shape[-1] - w, 0, t.shape[-2] - h))
    return gt, gr


class DURRNet(nn.Module):
    """The unfolded separation network: ``forward(I) -> (T_hat, R_hat)``, ``I`` ``(B, 3, H, W)`` in [0, 1]."""

    kind = "durrnet"

    def __init__(
        self,
        features: int = 16,
        stages: int = 2,
        scales: int = 2,
        prior_steps: int = 1,
        prior_hidden: int = 16,
        lifting: bool = True,
        exclusion: bool = True,
        channels: int = 3,
    ) -> None:
        super().__init__()
        if min(features, stages, scales, prior_hidden, channels) < 1 or prior_steps < 0:
            raise ValueError("features, stages, scales, prior_hidden and channels must be >= 1")
        self.config: dict[str, Any] = {
            "features": int(features),
            "stages": int(stages),
            "scales": int(scales),
            "prior_steps": int(prior_steps),
            "prior_hidden": int(prior_hidden),
            "lifting": bool(lifting),
            "exclusion": bool(exclusion),
            "channels": int(channels),
        }
        self.scales = int(scales)
        self.enc_t = nn.Conv2d(channels, features, 3, padding=1)
        self.enc_r = nn.Conv2d(channels, features, 3, padding=1)
        self.dict_t = nn.Parameter(torch.randn(channels, features, 3, 3) * (0.5 / (features * 9) ** 0.5))
        self.dict_r = nn.Parameter(torch.randn(channels, features, 3, 3) * (0.5 / (features * 9) ** 0.5))
        self.stages = nn.ModuleList(
            nn.ModuleList(
                _Stage(features, prior_steps, prior_hidden, lifting, exclusion) for _ in range(stages)
            )
            for _ in range(scales)
        )

    def forward(self, img: Tensor) -> tuple[Tensor, Tensor]:
        if img.dim() != 4 or img.shape[1] != self.config["channels"]:
            raise ValueError(
                f"DURRNet input must be (B, {self.config['channels']}, H, W); got {tuple(img.shape)}"
            )
        zt: Tensor | None = None
        zr: Tensor | None = None
        for k, stages in enumerate(self.stages):
            f = 2 ** (self.scales - 1 - k)
            im = F.avg_pool2d(img, f, ceil_mode=True) if f > 1 else img
            if zt is None or zr is None:
                zt, zr = self.enc_t(im), self.enc_r(im)
            else:
                zt = F.interpolate(zt, size=im.shape[-2:], mode="nearest")
                zr = F.interpolate(zr, size=im.shape[-2:], mode="nearest")
            for st in stages.children():
                zt, zr = st(im, zt, zr, self.dict_t, self.dict_r)
        assert zt is not None and zr is not None
        return F.conv2d(zt, self.dict_t, padding=1), F.conv2d(zr, self.dict_r, padding=1)

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` (+ ``card.json``) into ``directory``."""
        from innverse.models.io import save_model

        return save_model(self, directory, card=card)
