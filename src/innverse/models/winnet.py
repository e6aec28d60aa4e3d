"""WINNet and LINN (Huang & Dragotti, IEEE TIP 2022; EUSIPCO 2021), on innverse's exact core.

Structure (as released; see ``WINNet.from_official``):

* **Split** — the stride-1 4x4 DCT frame (:class:`innverse.nn.DCTFrame`, a frame with an exact left
  inverse): DC channel is the coarse part ``c`` (1 channel), the other 15 are the details ``d``.
* **LINN level** — a :class:`innverse.nn.LiftingChain` of ``steps`` :class:`innverse.nn.LiftingStep` s,
  forward ``d <- d - P(c)`` then ``c <- c + U(d)`` (P: 1 -> 15 channels, U: 15 -> 1), each P/U a
  :class:`LiftingNet`, a small sparsity-driven CNN with noise-adaptive soft thresholds built from the
  fused kernels of :mod:`innverse.nn.kernels`.  Exactly invertible whatever P and U are.
* **CLISTA** — per level, an unfolded convolutional ISTA that denoises the 15 detail channels.
* **WINNet** with K levels: level ``k+1`` transforms the coarse part of level ``k``; details are
  denoised by their level's CLISTA; the inverse transform reassembles the image.

Noise-adaptive soft threshold: ``thr = softplus_{beta=20}(theta_c) * sigma255 / 50`` with ``sigma255``
the noise level on the 0-255 scale (the public API takes ``sigma`` on the data scale and converts).

Exactness: the released code pads the frame by replication, which is not invertible at the image
borders.  Here the image is reflect-padded by ``pad`` pixels (default 4), transformed with the
circular (tight) frame, and cropped at the end: ``synthesis(analysis(x))`` is ``x`` to rounding
everywhere (tested to <= 1e-12 in float64), and the released weights keep their accuracy (see
``benchmarks/winnet_official.py`` for the measured numbers).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.models.io import save_model
from innverse.models.official import released_model
from innverse.nn import DCTFrame, LiftingChain, LiftingStep, records_graph
from innverse.nn.kernels import axpy, depthwise_conv2d, head_conv, pointwise_conv2d, shrink, soft_threshold

__all__ = [
    "WINNet",
    "WINNetCoeffs",
    "LiftingNet",
    "CLISTA",
    "soft_threshold",
    "sigma_to_255",
    "count_parameters",
]

_CL = torch.channels_last


def sigma_to_255(sigma: float | Tensor, batch: int, ref: Tensor) -> Tensor:
    """Noise level(s) on the data scale -> (B, 1, 1, 1) tensor on the 0-255 scale."""
    s = torch.as_tensor(sigma, dtype=ref.dtype, device=ref.device)
    if s.dim() == 0:
        s = s.expand(batch)
    s = s.reshape(-1)
    if s.numel() != batch:
        raise ValueError(f"sigma has {s.numel()} values for a batch of {batch}")
    return (s * 255.0).reshape(batch, 1, 1, 1)


def _col(v: Tensor) -> Tensor:
    return v.reshape(-1, 1, 1, 1)


# ---------------------------------------------------------------------------------------------
# Speed: the networks are positively homogeneous.  With no biases and thresholds proportional to
# sigma, ``net(lam * x, lam * sigma) = lam * net(x, sigma)`` for lam > 0, so WINNet evaluates every
# sub-network at the reference level sigma = 50 (threshold = softplus(theta)) on the input scaled
# by 50 / sigma255 and rescales the result.  A per-channel threshold ``a`` is then folded into the
# convolutions around it (see :mod:`innverse.nn.kernels`): ST(x, a) = a * softshrink(x / a, 1), the
# 1/a goes into the conv before, the a into the conv after.  This turns five elementwise passes per
# threshold into one and lets a batch mix noise levels.  Values equal the unfolded network up to
# rounding (tested).
# ---------------------------------------------------------------------------------------------


class _Thresholds(nn.Module):
    """One learned theta per channel; the threshold at the reference level is softplus_20(theta)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.theta = nn.Parameter(-0.1 * torch.rand(channels))

    def unit(self) -> Tensor:
        return F.softplus(self.theta, beta=20)


class _ResSepBlock(nn.Module):
    """``ST2(x + SepConv2(ST1(SepConv1(x))))``, SepConv = depthwise 5x5 then pointwise 1x1, no bias.

    ``dilation`` > 1 reproduces the released layer exactly: the depthwise conv is padded by
    ``dilation + 1`` and the 1x1 conv by ``dilation - 1`` (a zero ring of width ``dilation - 1``).
    """

    def __init__(self, ch: int, ksize: int = 5, dilation: int = 1) -> None:
        super().__init__()
        self.dilation = dilation
        self.pad_dw = ksize // 2 + dilation - 1
        self.pad_pw = dilation - 1
        self.dw1 = nn.Parameter(torch.empty(ch, 1, ksize, ksize))
        self.pw1 = nn.Parameter(torch.empty(ch, ch, 1, 1))
        self.dw2 = nn.Parameter(torch.empty(ch, 1, ksize, ksize))
        self.pw2 = nn.Parameter(torch.empty(ch, ch, 1, 1))
        self.st1 = _Thresholds(ch)
        self.st2 = _Thresholds(ch)
        for w in (self.dw1, self.pw1, self.dw2, self.pw2):
            nn.init.kaiming_uniform_(w, a=0.0, mode="fan_out", nonlinearity="relu")

    def sepconv(self, x: Tensor, dw: Tensor, pw: Tensor) -> Tensor:
        y = depthwise_conv2d(x, dw, self.pad_dw, self.dilation)
        return pointwise_conv2d(y, pw, self.pad_pw)

    def reference(self, x: Tensor, s255: Tensor) -> Tensor:
        """Unfolded evaluation at noise level ``s255`` (the released formulation)."""
        t1 = _col(self.st1.unit()).transpose(0, 1) * (s255 / 50.0)
        t2 = _col(self.st2.unit()).transpose(0, 1) * (s255 / 50.0)
        h = soft_threshold(self.sepconv(x, self.dw1, self.pw1), t1)
        return soft_threshold(x + self.sepconv(h, self.dw2, self.pw2), t2)

    def folded(self, z: Tensor, a_in: Tensor) -> tuple[Tensor, Tensor]:
        """Folded evaluation at the reference level.  ``z`` is the input divided per channel by
        ``a_in``; returns the output divided by this block's output thresholds, and those."""
        a1, a2 = self.st1.unit(), self.st2.unit()
        u = shrink(self.sepconv(z, self.dw1 * _col(a_in), self.pw1 / _col(a1)))
        v = self.sepconv(u, self.dw2 * _col(a1), self.pw2 / _col(a2))
        return shrink(axpy(v, z, a_in / a2)), a2

    def linear_kernel(self) -> Tensor:
        """Kernel of ``I + SepConv2 o SepConv1`` (thresholds taken as identity), shape (C, C, 9, 9)."""
        k1 = self.pw1 * self.dw1.permute(1, 0, 2, 3)  # (C_out, C_in, 5, 5): pw[o, i] * dw[i]
        k2 = self.pw2 * self.dw2.permute(1, 0, 2, 3)
        r = k1.shape[-1] - 1
        # full 2-D convolution of the two kernels: (k2 * k1)[o, i] = sum_m k2[o, m] * k1[m, i]
        comp = F.conv2d(k1.permute(1, 0, 2, 3), torch.flip(k2, (2, 3)), padding=r).permute(1, 0, 2, 3)
        eye = torch.zeros_like(comp)
        idx = torch.arange(comp.shape[0])
        eye[idx, idx, r, r] = 1.0
        return comp + eye


class LiftingNet(nn.Module):
    """Predictor/updater network of a LINN lifting step (noise-adaptive, bias-free).

    3x3 conv (in -> ch) + ST, ``blocks`` residual separable blocks, 3x3 conv (ch -> out) initialised
    to zero so that every lifting step starts as the identity.  ``forward(x)`` evaluates at the
    reference noise level (sigma = 50 on the 0-255 scale); ``reference(x, s255)`` at any level.
    """

    def __init__(self, cin: int, cout: int, ch: int = 32, blocks: int = 4, dilation: int = 1) -> None:
        super().__init__()
        self.dilation = dilation
        self.head = nn.Parameter(torch.empty(ch, cin, 3, 3))
        nn.init.kaiming_uniform_(self.head, a=0.0, mode="fan_out", nonlinearity="relu")
        self.head_st = _Thresholds(ch)
        self.blocks = nn.ModuleList(_ResSepBlock(ch, 5, dilation) for _ in range(blocks))
        self.tail = nn.Parameter(torch.zeros(cout, ch, 3, 3))

    def forward(self, x: Tensor) -> Tensor:
        d = self.dilation
        a = self.head_st.unit()
        z = shrink(head_conv(x, self.head / _col(a), d))
        for b in cast("Iterable[_ResSepBlock]", self.blocks):
            z, a = b.folded(z, a)
        return F.conv2d(z, self.tail * a.reshape(1, -1, 1, 1), padding=d, dilation=d)

    def reference(self, x: Tensor, s255: Tensor) -> Tensor:
        d = self.dilation
        t = _col(self.head_st.unit()).transpose(0, 1) * (s255 / 50.0)
        h = soft_threshold(F.conv2d(x, self.head, padding=d, dilation=d), t)
        for b in cast("Iterable[_ResSepBlock]", self.blocks):
            h = b.reference(h, s255)
        return F.conv2d(h, self.tail, padding=d, dilation=d)

    def spectral_norm(self) -> Tensor:
        """Sum over layers of the largest singular value of each (reshaped) linear kernel."""
        total = torch.linalg.matrix_norm(self.head.reshape(self.head.shape[0], -1), ord=2)
        for b in cast("Iterable[_ResSepBlock]", self.blocks):
            k = b.linear_kernel()
            total = total + torch.linalg.matrix_norm(k.reshape(k.shape[0], -1), ord=2)
        return total


class CLISTA(nn.Module):
    """Unfolded convolutional ISTA with shared analysis ``A`` and synthesis ``S`` (3x3, no bias).

    ``g = A x``; ``g = ST_i(g + A(x - S g))`` for ``i = 1..iters``; output ``S g``.
    ``forward(x)`` evaluates at the reference noise level (folded thresholds);
    ``reference(x, s255)`` is the literal recursion at any level.
    """

    def __init__(self, cin: int = 15, ch: int = 64, iters: int = 4) -> None:
        super().__init__()
        self.A = nn.Parameter(torch.empty(ch, cin, 3, 3))
        self.S = nn.Parameter(torch.empty(cin, ch, 3, 3))
        nn.init.kaiming_uniform_(self.A, a=0.0, mode="fan_out", nonlinearity="relu")
        nn.init.kaiming_uniform_(self.S, a=0.0, mode="fan_out", nonlinearity="relu")
        self.st = nn.ModuleList(_Thresholds(ch) for _ in range(iters))

    def forward(self, x: Tensor) -> Tensor:
        A, S = self.A, self.S
        a = [st.unit() for st in cast("Iterable[_Thresholds]", self.st)]
        # first iteration from g0 = A x:  f1 = A x + A(x - S A x) = A(2x - S A x)
        g0 = F.conv2d(x, A, padding=1)
        z = shrink(F.conv2d(2 * x - F.conv2d(g0, S, padding=1), A / _col(a[0]), padding=1))
        for prev, cur in zip(a[:-1], a[1:], strict=True):
            r = F.conv2d(x - F.conv2d(z, S * prev.reshape(1, -1, 1, 1), padding=1), A / _col(cur), padding=1)
            z = shrink(axpy(r, z, prev / cur))
        return F.conv2d(z, S * a[-1].reshape(1, -1, 1, 1), padding=1)

    def reference(self, x: Tensor, s255: Tensor) -> Tensor:
        g = F.conv2d(x, self.A, padding=1)
        for st in cast("Iterable[_Thresholds]", self.st):
            t = _col(st.unit()).transpose(0, 1) * (s255 / 50.0)
            g = soft_threshold(g + F.conv2d(x - F.conv2d(g, self.S, padding=1), self.A, padding=1), t)
        return F.conv2d(g, self.S, padding=1)

    def orthogonality(self) -> Tensor:
        """``|| kernel(S o A) - delta ||_F^2`` (the composed 5x5 kernel should be the identity)."""
        comp = F.conv2d(self.A.permute(1, 0, 2, 3), torch.flip(self.S, (2, 3)), padding=2)
        eye = torch.zeros_like(comp)
        idx = torch.arange(comp.shape[0])
        eye[idx, idx, 2, 2] = 1.0
        return ((comp - eye) ** 2).sum()


class _Level(nn.Module):
    """One LINN level: ``steps`` lifting steps on ``[DC (1 channel) | details (15)]`` and the CLISTA
    that denoises the level's details."""

    def __init__(self, steps: int, ch: int, blocks: int, dilation: int, dn_ch: int, dn_iters: int) -> None:
        super().__init__()
        self.steps = LiftingChain(
            *(
                LiftingStep(
                    LiftingNet(1, 15, ch, blocks, dilation),
                    LiftingNet(15, 1, ch, blocks, dilation),
                    coarse_channels=1,
                )
                for _ in range(steps)
            )
        )
        self.denoiser = CLISTA(15, dn_ch, dn_iters)

    def nets(self) -> list[tuple[LiftingNet, LiftingNet]]:
        """(predictor, updater) of every step, in forward order."""
        pairs = [(st.predictor, st.updater) for st in self.steps.steps()]
        return cast("list[tuple[LiftingNet, LiftingNet]]", pairs)


@dataclass
class WINNetCoeffs:
    """Coefficients of :meth:`WINNet.analysis`: ``details[k]`` (B,15,H',W') for level k, the final
    ``coarse`` (B,1,H',W'), and the reflect padding ``pad`` applied before the transform."""

    details: list[Tensor]
    coarse: Tensor
    pad: int


#: noise level (0-255 scale) at which the sub-networks are evaluated (threshold = softplus(theta))
REFERENCE_SIGMA = 50.0
#: smallest noise level used for the homogeneous rescaling (sigma = 0 behaves as sigma -> 0+)
_MIN_SIGMA255 = 1e-4
#: state-dict names of earlier innverse checkpoints: the lifting steps became
#: :class:`innverse.nn.LiftingStep` modules, whose networks are ``predictor`` / ``updater``
_OLD_STEP_KEY = re.compile(r"levels\.(\d+)\.steps\.(\d+)\.(predict|update)\.")
_NEW_NAME = {"predict": "predictor", "update": "updater"}


def _upgrade_state_dict(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
) -> None:
    """Load-state-dict pre-hook: rename the keys of earlier innverse checkpoints in place (once, for
    every loader: our safetensors files, training checkpoints, ``load_state_dict`` by hand)."""
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        m = _OLD_STEP_KEY.match(key, len(prefix))
        if m:
            lvl, step, which = m.groups()
            new = f"{prefix}levels.{lvl}.steps.{step}.{_NEW_NAME[which]}.{key[m.end() :]}"
            state_dict[new] = state_dict.pop(key)


class WINNet(nn.Module):
    """Wavelet-inspired invertible network for Gaussian denoising (gray images).

    ``forward(y, sigma)`` takes ``y`` (B, 1, H, W) in [0, 1] and ``sigma`` on the same data scale
    (float or (B,) tensor; e.g. ``25/255``) and returns the denoised image.  The transform part is
    exactly invertible: ``synthesis(analysis(x, s), s) == x`` for any ``x`` (to rounding).

    Autograd: in eval mode (as every loader returns the model) the methods record no graph and return
    tensors that do not require grad, unless an input (the image, its coefficients or a ``sigma``
    tensor) requires grad -- then gradients flow to it and to the weights.  In training mode they
    behave like any module.  (The rule is :func:`innverse.nn.records_graph`.)
    """

    kind = "winnet"
    conditions: ClassVar[tuple[str, ...]] = ("sigma",)

    def __init__(
        self,
        levels: int = 1,
        steps: int = 4,
        blocks: int = 4,
        channels: int = 32,
        dn_channels: int = 64,
        dn_iters: int = 4,
        pad: int = 4,
        blind: bool = False,
    ) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.config: dict[str, Any] = dict(
            levels=levels,
            steps=steps,
            blocks=blocks,
            channels=channels,
            dn_channels=dn_channels,
            dn_iters=dn_iters,
            pad=pad,
            blind=blind,
        )
        self.pad = pad
        self.blind = blind
        self.min_size = max(8, pad + 1)
        self.source: str | None = None
        self.frame = DCTFrame(4)
        # dilation 1 at level 0, 2 at every deeper level (as released)
        self.levels = nn.ModuleList(
            _Level(steps, channels, blocks, 1 if k == 0 else 2, dn_channels, dn_iters) for k in range(levels)
        )
        self.register_load_state_dict_pre_hook(_upgrade_state_dict)

    def _lvls(self) -> list[_Level]:
        return cast("list[_Level]", list(self.levels))

    def _graph(self, *inputs: object) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext() if records_graph(self, *inputs) else torch.no_grad()

    # ----------------------------------------------------------------------------------- transform
    def _check(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"WINNet expects a (B, 1, H, W) gray image tensor; got {tuple(x.shape)}")
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(
                f"image of size {tuple(x.shape[-2:])} is smaller than WINNet's minimum "
                f"{self.min_size}x{self.min_size}"
            )

    def _scale(self, sigma: float | Tensor, ref: Tensor) -> Tensor:
        """Per-sample factor lam = sigma255 / 50 (B,1,1,1): net(x, sigma) = lam * net(x / lam, 50)."""
        s255 = sigma_to_255(sigma, ref.shape[0], ref)
        if not torch.isfinite(s255).all() or (s255 < 0).any():
            raise ValueError("sigma must be finite and non-negative")
        return s255.clamp_min(_MIN_SIGMA255) / REFERENCE_SIGMA

    def _analysis_unit(self, x: Tensor, pad: int | None = None) -> WINNetCoeffs:
        pad = self.pad if pad is None else pad
        c = F.pad(x, (pad,) * 4, mode="reflect") if pad else x
        details = []
        for lvl in self._lvls():
            # channels-last throughout: the 1-channel input makes conv2d pick NCHW otherwise, and
            # mixed layouts cost transposing copies in every lifting step (6% of a training step)
            y = self.frame.analysis(c).contiguous(memory_format=_CL)
            c, d = lvl.steps.forward_parts(y[:, :1], y[:, 1:])
            details.append(d)
        return WINNetCoeffs(details, c, pad)

    def _synthesis_unit(self, coeffs: WINNetCoeffs) -> Tensor:
        c = coeffs.coarse
        for lvl, d in zip(reversed(self._lvls()), reversed(coeffs.details), strict=True):
            c, d = lvl.steps.inverse_parts(c, d)
            c = self.frame.synthesis(torch.cat([c, d], 1))
        p = coeffs.pad
        c = c[..., p:-p, p:-p] if p else c
        return c.contiguous()

    def analysis(self, x: Tensor, sigma: float | Tensor) -> WINNetCoeffs:
        """Forward transform (reflect pad, split and lifting at every level), no denoising."""
        self._check(x)
        with self._graph(x, sigma):
            lam = self._scale(sigma, x)
            co = self._analysis_unit(x / lam)
            return WINNetCoeffs([d * lam for d in co.details], co.coarse * lam, co.pad)

    def synthesis(self, coeffs: WINNetCoeffs, sigma: float | Tensor) -> Tensor:
        """Exact inverse of :meth:`analysis` (also used on denoised coefficients)."""
        with self._graph(coeffs.coarse, *coeffs.details, sigma):
            lam = self._scale(sigma, coeffs.coarse)
            co = WINNetCoeffs([d / lam for d in coeffs.details], coeffs.coarse / lam, coeffs.pad)
            return self._synthesis_unit(co) * lam

    def denoise_coeffs(self, coeffs: WINNetCoeffs, sigma: float | Tensor) -> WINNetCoeffs:
        """Apply each level's CLISTA to its detail coefficients."""
        with self._graph(coeffs.coarse, *coeffs.details, sigma):
            lam = self._scale(sigma, coeffs.coarse)
            details = [
                lvl.denoiser(d / lam) * lam for lvl, d in zip(self._lvls(), coeffs.details, strict=True)
            ]
            return WINNetCoeffs(details, coeffs.coarse, coeffs.pad)

    def forward(self, y: Tensor, sigma: float | Tensor, pad: int | None = None) -> Tensor:
        """Denoise ``y`` (B,1,H,W) at noise level ``sigma`` (data scale).

        ``pad`` overrides the reflect padding for this call (training on small patches uses 0: the
        circular frame alone, as cheap as the released code's 40x40 patches; see ``innverse train
        --train-pad``).  The transform stays exactly invertible for any ``pad``."""
        self._check(y)
        if pad is not None and not (0 <= pad < min(y.shape[-2:])):
            raise ValueError(f"pad {pad} must be >= 0 and smaller than the image ({tuple(y.shape[-2:])})")
        with self._graph(y, sigma):
            lam = self._scale(sigma, y)
            co = self._analysis_unit(y / lam, pad)
            co.details = [lvl.denoiser(d) for lvl, d in zip(self._lvls(), co.details, strict=True)]
            return self._synthesis_unit(co) * lam

    def reference_forward(self, y: Tensor, sigma: float | Tensor) -> Tensor:
        """Literal (unfolded, unscaled) evaluation of the released recursion; slow, for tests."""
        s255 = sigma_to_255(sigma, y.shape[0], y)
        c = F.pad(y, (self.pad,) * 4, mode="reflect") if self.pad else y
        ds = []
        for lvl in self._lvls():
            f = self.frame.analysis(c)
            c, d = f[:, :1], f[:, 1:]
            for p, u in lvl.nets():
                d = d - p.reference(c, s255)
                c = c + u.reference(d, s255)
            ds.append(lvl.denoiser.reference(d, s255))
        for lvl, d in zip(reversed(self._lvls()), reversed(ds), strict=True):
            for p, u in reversed(lvl.nets()):
                c = c - u.reference(d, s255)
                d = d + p.reference(c, s255)
            c = self.frame.synthesis(torch.cat([c, d], 1))
        pad = self.pad
        return c[..., pad:-pad, pad:-pad] if pad else c

    # ---------------------------------------------------------------------------------- training
    def orthogonality_loss(self) -> Tensor:
        """Mean over levels of the CLISTA orthogonality penalty."""
        lvls = self._lvls()
        total = lvls[0].denoiser.orthogonality()
        for lvl in lvls[1:]:
            total = total + lvl.denoiser.orthogonality()
        return total / len(lvls)

    def spectral_norm_loss(self) -> Tensor:
        """Mean over levels and steps of ``(specnorm(P) + specnorm(U)) / 2`` (as in the paper)."""
        total: Tensor | float = 0.0
        for lvl in self._lvls():
            nets = lvl.nets()
            per: Tensor | float = 0
            for p, u in nets:
                per = per + (p.spectral_norm() + u.spectral_norm()) / 2
            total = total + per / len(nets)
        out = total / len(self._lvls())
        assert isinstance(out, Tensor)
        return out

    # ------------------------------------------------------------------------------ checkpoints
    @classmethod
    def from_official(
        cls, path: str | Path, map_location: str | torch.device = "cpu", **kwargs: Any
    ) -> WINNet:
        """Load a checkpoint released with the WINNet paper (``net_WINNet.pth``).

        Handles DataParallel ``module.`` prefixes, infers the number of levels from the keys,
        and reads the file with ``torch.load(weights_only=True)``; ``kwargs`` override the inferred
        configuration (e.g. ``pad``, ``blind``).
        """
        return released_model(cls, "winnet", path, map_location, **kwargs)

    def save(self, directory: str | Path, card: Mapping[str, Any] | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory`` (atomically)."""
        return save_model(self, directory, card)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameter values of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
