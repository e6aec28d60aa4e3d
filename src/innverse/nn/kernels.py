"""Fast building kernels of the sparsity-driven lifting networks (WINNet/LINN), CPU first.

* :func:`soft_threshold` / :func:`shrink` -- soft thresholding; :func:`shrink` is the *folded* form,
  a threshold of 1 in one vectorised pass.  A per-channel threshold ``a > 0`` folds into the linear
  maps around it: ``ST(x, a) = a * shrink(x / a)``, so the ``1/a`` goes into the convolution before
  and the ``a`` into the one after (five elementwise passes become one).
* :func:`depthwise_conv2d` -- depthwise convolution whose CPU backward (:class:`DepthwiseConvFn`) is
  about 2x faster than PyTorch's.
* :func:`axpy` -- ``v + z * f`` with a per-channel ``f``: in place at inference, a two-pass backward
  (:class:`AxpyFn`) under autograd.
* :func:`head_conv` -- the 3x3 convolution at a network's input, channels-last even for 1 channel.
* :func:`pointwise_conv2d` -- the 1x1 convolution.

Every function computes exactly what its plain PyTorch counterpart computes (forward values equal, the
gradients equal to rounding; each is gradchecked in float64 in ``tests/nn/test_kernels.py``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = [
    "soft_threshold",
    "shrink",
    "pointwise_conv2d",
    "DepthwiseConvFn",
    "depthwise_conv2d",
    "AxpyFn",
    "axpy",
    "head_conv",
]

_CL = torch.channels_last
#: batch chunk of the depthwise weight gradient (see DepthwiseConvFn)
_CHUNK = 4


def soft_threshold(x: Tensor, thr: Tensor | float) -> Tensor:
    """Soft thresholding ``sign(x) * max(|x| - thr, 0)`` with a broadcastable non-negative ``thr``
    (the reference form; the networks use the folded :func:`shrink`)."""
    t = torch.as_tensor(thr, dtype=x.dtype, device=x.device)
    return x - torch.clamp(x, -t, t)


def shrink(x: Tensor) -> Tensor:
    """Soft threshold at 1 (one vectorised pass; per-channel thresholds are folded into weights)."""
    return F.softshrink(x, 1.0)


def pointwise_conv2d(x: Tensor, w: Tensor, pad: int = 0) -> Tensor:
    """1x1 convolution (``pad`` > 0: the released dilated layers' zero ring).  On channels-last
    tensors oneDNN's 1x1 path beats a matmul over channels by 5-10% forward and backward (measured
    in the training step and at inference; see ``benchmarks/train_speed.py``)."""
    return F.conv2d(x, w, padding=pad)


class DepthwiseConvFn(torch.autograd.Function):
    """Depthwise ``conv2d(x, w, padding=pad, groups=C)`` (stride 1, dilation 1) with a faster CPU
    backward for training.  PyTorch's CPU depthwise backward is ~2x slower than the convolutions
    it is made of: here the input gradient is the forward depthwise convolution of the output
    gradient with the flipped kernel, and the weight gradient is, per batch chunk of 4, one
    grouped convolution of the padded input with the output gradient as kernel (cache-resident).
    Both equal the autograd gradients to rounding (gradchecked in float64).  Needs
    ``2 * pad + 1 >= kernel size``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, w: Tensor, pad: int) -> Tensor:
        ctx.save_for_backward(x, w)
        ctx.pad = pad
        return F.conv2d(x, w, padding=pad, groups=w.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        x, w = ctx.saved_tensors
        p, ch, k = ctx.pad, w.shape[0], w.shape[-1]
        gx = gw = None
        if ctx.needs_input_grad[0]:
            g_cl = g.contiguous(memory_format=_CL)
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


def depthwise_conv2d(x: Tensor, w: Tensor, pad: int, dilation: int = 1) -> Tensor:
    """Depthwise convolution ``conv2d(x, w, padding=pad, dilation=dilation, groups=C)``; on CPU under
    autograd (training) with the faster backward of :class:`DepthwiseConvFn`."""
    if (
        dilation == 1
        and x.device.type == "cpu"
        and torch.is_grad_enabled()
        and 2 * pad + 1 >= w.shape[-1]
        and (x.requires_grad or w.requires_grad)
    ):
        out: Tensor = DepthwiseConvFn.apply(x, w, pad)
        return out
    return F.conv2d(x, w, padding=pad, dilation=dilation, groups=w.shape[0])


class AxpyFn(torch.autograd.Function):
    """``v + z * f`` (``f`` per channel, (1, C, 1, 1)) in one pass, with a two-pass backward
    (``addcmul``'s generic backward makes a third full-size pass, ``z * 1``).  Gradients equal
    autograd's to rounding (gradchecked in float64)."""

    @staticmethod
    def forward(ctx: Any, v: Tensor, z: Tensor, f: Tensor) -> Tensor:
        ctx.save_for_backward(z, f)
        return torch.addcmul(v, z, f)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        z, f = ctx.saved_tensors
        gz = g * f if ctx.needs_input_grad[1] else None
        gf = (g * z).sum((0, 2, 3)).reshape(f.shape) if ctx.needs_input_grad[2] else None
        return g, gz, gf


def axpy(v: Tensor, z: Tensor, f: Tensor) -> Tensor:
    """``v + z * f`` with a per-channel ``f`` (C,).  In place on ``v`` when no gradient is needed
    (inference: ``v`` must be a temporary the caller owns); out of place under autograd, where an
    in-place update of a view would make the backward pass clone and re-stride the whole gradient."""
    f = f.reshape(1, -1, 1, 1)
    if torch.is_grad_enabled() and (v.requires_grad or z.requires_grad or f.requires_grad):
        if v.shape == z.shape:
            out: Tensor = AxpyFn.apply(v, z, f)
            return out
        return torch.addcmul(v, z, f)
    return v.addcmul_(z, f)


def head_conv(x: Tensor, w: Tensor, dilation: int) -> Tensor:
    """``conv2d(x, w, padding=dilation, dilation=dilation)`` (3x3, no bias) with a channels-last
    result.  For a 1-channel input the layouts coincide and ``conv2d`` returns NCHW, which would
    make the whole following residual block run on NCHW tensors (depthwise conv 2x slower, mixed-layout
    elementwise ops, copies before every matmul); there it is an unfold + matmul instead."""
    if x.shape[1] == 1:
        b, _, h, wd = x.shape
        k = w.shape[-1]
        cols = F.unfold(x, k, dilation=dilation, padding=dilation * (k // 2))  # (B, k*k, H*W)
        y = torch.matmul(cols.transpose(1, 2), w.reshape(w.shape[0], -1).t())  # (B, H*W, C)
        return y.reshape(b, h, wd, -1).permute(0, 3, 1, 2)
    return F.conv2d(x, w, padding=dilation, dilation=dilation).contiguous(memory_format=_CL)
