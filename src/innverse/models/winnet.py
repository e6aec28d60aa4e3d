"""WINNet and LINN (Huang & Dragotti, IEEE TIP 2022; EUSIPCO 2021), on innverse's exact core.

Structure (as released; see ``WINNet.from_official``):

* **Split** — the stride-1 4x4 DCT frame (:class:`~innverse.models.frames.DCTFrame`): DC channel
  is the coarse part ``c`` (1 channel), the other 15 are the details ``d``.
* **LINN level** — ``steps`` learned lifting steps, forward ``d <- d - P(c)`` then ``c <- c + U(d)``
  (P: 1 -> 15 channels, U: 15 -> 1), each P/U a small sparsity-driven CNN with noise-adaptive
  soft thresholds.  Exactly invertible whatever P and U are.
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

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from innverse.models.frames import DCTFrame

__all__ = ["WINNet", "WINNetCoeffs", "LiftingNet", "CLISTA", "soft_threshold", "sigma_to_255"]


def sigma_to_255(sigma: float | Tensor, batch: int, ref: Tensor) -> Tensor:
    """Noise level(s) on the data scale -> (B, 1, 1, 1) tensor on the 0-255 scale."""
    s = torch.as_tensor(sigma, dtype=ref.dtype, device=ref.device)
    if s.dim() == 0:
        s = s.expand(batch)
    s = s.reshape(-1)
    if s.numel() != batch:
        raise ValueError(f"sigma has {s.numel()} values for a batch of {batch}")
    return (s * 255.0).reshape(batch, 1, 1, 1)


def soft_threshold(x: Tensor, thr: Tensor) -> Tensor:
    """Soft thresholding ``sign(x) * max(|x| - thr, 0)`` with a broadcastable non-negative ``thr``
    (reference implementation, used by the tests; the networks use the folded form below)."""
    return x - torch.clamp(x, -thr, thr)


def _shrink(x: Tensor) -> Tensor:
    """Soft threshold at 1 (one vectorised pass; per-channel thresholds are folded into weights)."""
    return F.softshrink(x, 1.0)


def _pointwise(x: Tensor, w: Tensor, pad: int = 0) -> Tensor:
    """1x1 convolution (``pad`` > 0: the released dilated layers' zero ring).  On channels-last
    tensors oneDNN's 1x1 path beats a matmul over channels by 5-10% forward and backward (measured
    in the training step and at inference; see ``benchmarks/train_speed.py``)."""
    return F.conv2d(x, w, padding=pad)


#: batch chunk of the depthwise weight gradient (see _DepthwiseCPU)
_CHUNK = 4


class _DepthwiseCPU(torch.autograd.Function):
    """Depthwise ``conv2d(x, w, padding=pad, groups=C)`` (stride 1, dilation 1) with a faster CPU
    backward for training.  PyTorch's CPU depthwise backward is ~2x slower than the convolutions
    it is made of: here the input gradient is the forward depthwise convolution of the output
    gradient with the flipped kernel, and the weight gradient is, per batch chunk of 4, one
    grouped convolution of the padded input with the output gradient as kernel (cache-resident).
    Both equal the autograd gradients to rounding (tested with gradcheck in float64)."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, pad: int) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, w)
        ctx.pad = pad
        return F.conv2d(x, w, padding=pad, groups=w.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, g: Tensor) -> tuple[Tensor | None, Tensor | None, None]:  # type: ignore[override]
        x, w = ctx.saved_tensors
        p, ch, k = ctx.pad, w.shape[0], w.shape[-1]
        gx = gw = None
        if ctx.needs_input_grad[0]:
            g_cl = g.contiguous(memory_format=torch.channels_last)
            gx = F.conv2d(g_cl, torch.flip(w, (2, 3)), padding=k - 1 - p, groups=ch)
        if ctx.needs_input_grad[1]:
            b_all, _, h, wd = g.shape
            hx, wx = x.shape[-2:]
            acc = torch.zeros(ch, hx + 2 * p - h + 1, wx + 2 * p - wd + 1, dtype=w.dtype, device=w.device)
            for s in range(0, b_all, _CHUNK):
                xs = x[s : s + _CHUNK].contiguous()
                gs = g[s : s + _CHUNK].contiguous()
                b = xs.shape[0]
                out = F.conv2d(
                    xs.reshape(1, b * ch, hx, wx), gs.reshape(b * ch, 1, h, wd), padding=p, groups=b * ch
                )
                acc += out.reshape(b, ch, *out.shape[-2:]).sum(0)
            gw = acc.unsqueeze(1)
        return gx, gw, None


def _depthwise(x: Tensor, w: Tensor, pad: int, dilation: int) -> Tensor:
    """Depthwise convolution; on CPU under autograd (training) with the faster backward above."""
    if (
        dilation == 1
        and x.device.type == "cpu"
        and torch.is_grad_enabled()
        and 2 * pad + 1 >= w.shape[-1]
        and (x.requires_grad or w.requires_grad)
    ):
        return _DepthwiseCPU.apply(x, w, pad)
    return F.conv2d(x, w, padding=pad, dilation=dilation, groups=w.shape[0])


class _AxpyFn(torch.autograd.Function):
    """``v + z * f`` (``f`` per channel, (1, C, 1, 1)) in one pass, with a two-pass backward
    (``addcmul``'s generic backward makes a third full-size pass, ``z * 1``).  Gradients equal
    autograd's to rounding (tested with gradcheck in float64)."""

    @staticmethod
    def forward(ctx, v: Tensor, z: Tensor, f: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(z, f)
        return torch.addcmul(v, z, f)

    @staticmethod
    @once_differentiable
    def backward(ctx, g: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:  # type: ignore[override]
        z, f = ctx.saved_tensors
        gz = g * f if ctx.needs_input_grad[1] else None
        gf = (g * z).sum((0, 2, 3)).reshape(f.shape) if ctx.needs_input_grad[2] else None
        return g, gz, gf


def _axpy(v: Tensor, z: Tensor, f: Tensor) -> Tensor:
    """``v + z * f`` with a per-channel ``f`` (C,).  In place when no gradient is needed (inference);
    out of place under autograd, where an in-place update of a view would make the backward pass
    clone and re-stride the whole gradient."""
    f = f.reshape(1, -1, 1, 1)
    if torch.is_grad_enabled() and (v.requires_grad or z.requires_grad or f.requires_grad):
        if v.shape == z.shape:
            return _AxpyFn.apply(v, z, f)
        return torch.addcmul(v, z, f)
    return v.addcmul_(z, f)


def _col(v: Tensor) -> Tensor:
    return v.reshape(-1, 1, 1, 1)


_CL = torch.channels_last


def _head_conv(x: Tensor, w: Tensor, dilation: int) -> Tensor:
    """``conv2d(x, w, padding=dilation, dilation=dilation)`` (3x3, no bias) with a channels-last
    result.  For a 1-channel input the layouts coincide and ``conv2d`` returns NCHW, which would
    make the whole first residual block run on NCHW tensors (depthwise conv 2x slower, mixed-layout
    elementwise ops, copies before every matmul); there it is an unfold + matmul instead."""
    if x.shape[1] == 1:
        b, _, h, wd = x.shape
        k = w.shape[-1]
        cols = F.unfold(x, k, dilation=dilation, padding=dilation * (k // 2))  # (B, k*k, H*W)
        y = torch.matmul(cols.transpose(1, 2), w.reshape(w.shape[0], -1).t())  # (B, H*W, C)
        return y.reshape(b, h, wd, -1).permute(0, 3, 1, 2)
    return F.conv2d(x, w, padding=dilation, dilation=dilation).contiguous(memory_format=_CL)


# ---------------------------------------------------------------------------------------------
# Speed: the networks are positively homogeneous.  With no biases and thresholds proportional to
# sigma, ``net(lam * x, lam * sigma) = lam * net(x, sigma)`` for lam > 0, so WINNet evaluates every
# sub-network at the reference level sigma = 50 (threshold = softplus(theta)) on the input scaled
# by 50 / sigma255 and rescales the result.  A per-channel threshold ``a`` is then folded into the
# convolutions around it: ST(x, a) = a * softshrink(x / a, 1), the 1/a goes into the conv before,
# the a into the conv after.  This turns five elementwise passes per threshold into one and lets
# a batch mix noise levels.  Values equal the unfolded network up to rounding (tested).
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
        y = _depthwise(x, dw, self.pad_dw, self.dilation)
        return _pointwise(y, pw, self.pad_pw)

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
        u = _shrink(self.sepconv(z, self.dw1 * _col(a_in), self.pw1 / _col(a1)))
        v = self.sepconv(u, self.dw2 * _col(a1), self.pw2 / _col(a2))
        return _shrink(_axpy(v, z, a_in / a2)), a2

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
        z = _shrink(_head_conv(x, self.head / _col(a), d))
        for b in self.blocks:
            z, a = b.folded(z, a)
        return F.conv2d(z, self.tail * a.reshape(1, -1, 1, 1), padding=d, dilation=d)

    def reference(self, x: Tensor, s255: Tensor) -> Tensor:
        d = self.dilation
        t = _col(self.head_st.unit()).transpose(0, 1) * (s255 / 50.0)
        h = soft_threshold(F.conv2d(x, self.head, padding=d, dilation=d), t)
        for b in self.blocks:
            h = b.reference(h, s255)
        return F.conv2d(h, self.tail, padding=d, dilation=d)

    def spectral_norm(self) -> Tensor:
        """Sum over layers of the largest singular value of each (reshaped) linear kernel."""
        total = torch.linalg.matrix_norm(self.head.reshape(self.head.shape[0], -1), ord=2)
        for b in self.blocks:
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
        a = [st.unit() for st in self.st]
        # first iteration from g0 = A x:  f1 = A x + A(x - S A x) = A(2x - S A x)
        g0 = F.conv2d(x, A, padding=1)
        z = _shrink(F.conv2d(2 * x - F.conv2d(g0, S, padding=1), A / _col(a[0]), padding=1))
        for prev, cur in zip(a[:-1], a[1:], strict=True):
            r = F.conv2d(x - F.conv2d(z, S * prev.reshape(1, -1, 1, 1), padding=1), A / _col(cur), padding=1)
            z = _shrink(_axpy(r, z, prev / cur))
        return F.conv2d(z, S * a[-1].reshape(1, -1, 1, 1), padding=1)

    def reference(self, x: Tensor, s255: Tensor) -> Tensor:
        g = F.conv2d(x, self.A, padding=1)
        for st in self.st:
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


class _Step(nn.Module):
    def __init__(self, ch: int, blocks: int, dilation: int) -> None:
        super().__init__()
        self.predict = LiftingNet(1, 15, ch, blocks, dilation)
        self.update = LiftingNet(15, 1, ch, blocks, dilation)


class _Level(nn.Module):
    def __init__(self, steps: int, ch: int, blocks: int, dilation: int, dn_ch: int, dn_iters: int) -> None:
        super().__init__()
        self.steps = nn.ModuleList(_Step(ch, blocks, dilation) for _ in range(steps))
        self.denoiser = CLISTA(15, dn_ch, dn_iters)

    def lift(self, c: Tensor, d: Tensor) -> tuple[Tensor, Tensor]:
        """Forward lifting at the reference level: d <- d - P(c), then c <- c + U(d)."""
        for st in self.steps:
            d = d - st.predict(c)
            c = c + st.update(d)
        return c, d

    def unlift(self, c: Tensor, d: Tensor) -> tuple[Tensor, Tensor]:
        """Exact inverse of :meth:`lift`: c <- c - U(d), then d <- d + P(c), steps reversed."""
        for st in reversed(self.steps):
            c = c - st.update(d)
            d = d + st.predict(c)
        return c, d


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


class WINNet(nn.Module):
    """Wavelet-inspired invertible network for Gaussian denoising (gray images).

    ``forward(y, sigma)`` takes ``y`` (B, 1, H, W) in [0, 1] and ``sigma`` on the same data scale
    (float or (B,) tensor; e.g. ``25/255``) and returns the denoised image.  The transform part is
    exactly invertible: ``synthesis(analysis(x, s), s) == x`` for any ``x`` (to rounding).
    """

    kind = "winnet"

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
        self.config = dict(
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
        self.frame = DCTFrame(4)
        # dilation 1 at level 0, 2 at every deeper level (as released)
        self.levels = nn.ModuleList(
            _Level(steps, channels, blocks, 1 if k == 0 else 2, dn_channels, dn_iters) for k in range(levels)
        )

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
        for lvl in self.levels:
            # channels-last throughout: the 1-channel input makes conv2d pick NCHW otherwise, and
            # mixed layouts cost transposing copies in every lifting step (6% of a training step)
            y = self.frame.analysis(c).contiguous(memory_format=_CL)
            c, d = lvl.lift(y[:, :1], y[:, 1:])
            details.append(d)
        return WINNetCoeffs(details, c, pad)

    def _synthesis_unit(self, coeffs: WINNetCoeffs) -> Tensor:
        c = coeffs.coarse
        for lvl, d in zip(reversed(self.levels), reversed(coeffs.details), strict=True):
            c, d = lvl.unlift(c, d)
            c = self.frame.synthesis(torch.cat([c, d], 1))
        p = coeffs.pad
        c = c[..., p:-p, p:-p] if p else c
        return c.contiguous()

    def analysis(self, x: Tensor, sigma: float | Tensor) -> WINNetCoeffs:
        """Forward transform (reflect pad, split and lifting at every level), no denoising."""
        self._check(x)
        lam = self._scale(sigma, x)
        co = self._analysis_unit(x / lam)
        return WINNetCoeffs([d * lam for d in co.details], co.coarse * lam, co.pad)

    def synthesis(self, coeffs: WINNetCoeffs, sigma: float | Tensor) -> Tensor:
        """Exact inverse of :meth:`analysis` (also used on denoised coefficients)."""
        lam = self._scale(sigma, coeffs.coarse)
        co = WINNetCoeffs([d / lam for d in coeffs.details], coeffs.coarse / lam, coeffs.pad)
        return self._synthesis_unit(co) * lam

    def denoise_coeffs(self, coeffs: WINNetCoeffs, sigma: float | Tensor) -> WINNetCoeffs:
        """Apply each level's CLISTA to its detail coefficients."""
        lam = self._scale(sigma, coeffs.coarse)
        details = [lvl.denoiser(d / lam) * lam for lvl, d in zip(self.levels, coeffs.details, strict=True)]
        return WINNetCoeffs(details, coeffs.coarse, coeffs.pad)

    def forward(self, y: Tensor, sigma: float | Tensor, pad: int | None = None) -> Tensor:
        """Denoise ``y`` (B,1,H,W) at noise level ``sigma`` (data scale).

        ``pad`` overrides the reflect padding for this call (training on small patches uses 0: the
        circular frame alone, as cheap as the released code's 40x40 patches; see ``innverse train
        --train-pad``).  The transform stays exactly invertible for any ``pad``."""
        self._check(y)
        if pad is not None and not (0 <= pad < min(y.shape[-2:])):
            raise ValueError(f"pad {pad} must be >= 0 and smaller than the image ({tuple(y.shape[-2:])})")
        lam = self._scale(sigma, y)
        co = self._analysis_unit(y / lam, pad)
        co.details = [lvl.denoiser(d) for lvl, d in zip(self.levels, co.details, strict=True)]
        return self._synthesis_unit(co) * lam

    def reference_forward(self, y: Tensor, sigma: float | Tensor) -> Tensor:
        """Literal (unfolded, unscaled) evaluation of the released recursion; slow, for tests."""
        s255 = sigma_to_255(sigma, y.shape[0], y)
        c = F.pad(y, (self.pad,) * 4, mode="reflect") if self.pad else y
        ds = []
        for lvl in self.levels:
            f = self.frame.analysis(c)
            c, d = f[:, :1], f[:, 1:]
            for st in lvl.steps:
                d = d - st.predict.reference(c, s255)
                c = c + st.update.reference(d, s255)
            ds.append(lvl.denoiser.reference(d, s255))
        for lvl, d in zip(reversed(self.levels), reversed(ds), strict=True):
            for st in reversed(lvl.steps):
                c = c - st.update.reference(d, s255)
                d = d + st.predict.reference(c, s255)
            c = self.frame.synthesis(torch.cat([c, d], 1))
        p = self.pad
        return c[..., p:-p, p:-p] if p else c

    # ---------------------------------------------------------------------------------- training
    def orthogonality_loss(self) -> Tensor:
        """Mean over levels of the CLISTA orthogonality penalty."""
        return sum(lvl.denoiser.orthogonality() for lvl in self.levels) / len(self.levels)

    def spectral_norm_loss(self) -> Tensor:
        """Mean over levels and steps of ``(specnorm(P) + specnorm(U)) / 2`` (as in the paper)."""
        total = 0.0
        for lvl in self.levels:
            per = sum((s.predict.spectral_norm() + s.update.spectral_norm()) / 2 for s in lvl.steps)
            total = total + per / len(lvl.steps)
        return total / len(self.levels)

    # ------------------------------------------------------------------------------ checkpoints
    @classmethod
    def from_official(cls, path: str | Path, map_location: str | torch.device = "cpu", **kwargs) -> WINNet:
        """Load a checkpoint released with the WINNet paper (``net_WINNet.pth``).

        Handles DataParallel ``module.`` prefixes, infers the number of levels from the keys,
        and reads the file with ``torch.load(weights_only=True)``.
        """
        from innverse.models.official import load_official_winnet

        return load_official_winnet(path, map_location=map_location, **kwargs)

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory`` (atomically)."""
        from innverse.models.io import save_model

        return save_model(self, directory, card)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
