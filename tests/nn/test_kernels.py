"""innverse.nn.kernels: every fast kernel equals its plain PyTorch counterpart and gradchecks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from innverse.nn.kernels import (
    AxpyFn,
    DepthwiseConvFn,
    axpy,
    depthwise_conv2d,
    head_conv,
    pointwise_conv2d,
    shrink,
    soft_threshold,
)


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_depthwise_cpu_backward_gradcheck() -> None:
    g = _g(0)
    for b, pad in ((5, 2), (1, 3)):  # batch not a multiple of the chunk; a wider padding
        x = torch.randn(b, 3, 7, 9, generator=g, dtype=torch.float64).requires_grad_()
        w = torch.randn(3, 1, 5, 5, generator=g, dtype=torch.float64).requires_grad_()
        assert torch.autograd.gradcheck(lambda a, k, p=pad: DepthwiseConvFn.apply(a, k, p), (x, w))
        ref = F.conv2d(x, w, padding=pad, groups=3)
        assert torch.equal(DepthwiseConvFn.apply(x, w, pad), ref)


def test_depthwise_dispatch() -> None:
    """Under autograd on CPU the custom backward is used; dilated or no-grad calls use conv2d."""
    g = _g(1)
    x = torch.randn(2, 4, 8, 8, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y = depthwise_conv2d(x, w, 2)
    assert type(y.grad_fn).__name__.startswith("DepthwiseConvFn")
    y_dil = depthwise_conv2d(x, w, 3, dilation=2)
    assert torch.equal(y_dil, F.conv2d(x, w, padding=3, dilation=2, groups=4))
    with torch.no_grad():
        assert torch.equal(depthwise_conv2d(x, w, 2), y.detach())
    assert torch.autograd.gradcheck(lambda a, k: depthwise_conv2d(a, k, 3, 2), (x, w))


def test_axpy_function_gradcheck_and_inplace_inference() -> None:
    g = _g(2)
    v, z = (torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64).requires_grad_() for _ in range(2))
    f = torch.randn(1, 3, 1, 1, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(AxpyFn.apply, (v, z, f))
    assert torch.equal(AxpyFn.apply(v, z, f), torch.addcmul(v, z, f))
    assert torch.autograd.gradcheck(lambda a, b, c: axpy(a, b, c.reshape(-1)), (v, z, f))
    # broadcasting v (not the shape of z): the generic addcmul path, still exact
    vb = torch.randn(1, 3, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: axpy(a, b, c.reshape(-1)), (vb, z, f))
    with torch.no_grad():
        t = v.detach().clone()
        out = axpy(t, z.detach(), f.detach().reshape(-1))
        assert out.data_ptr() == t.data_ptr()  # in place at inference
        assert torch.equal(out, torch.addcmul(v.detach(), z.detach(), f.detach()))


def test_head_conv_is_channels_last_and_exact() -> None:
    """The lifting networks' first conv returns channels-last for 1- and 15-channel inputs (a
    layout regression costs ~6% of a training step) and equals conv2d to rounding."""
    g = _g(1)
    for cin, dil in ((1, 1), (1, 2), (15, 1), (15, 2)):
        x = torch.randn(3, cin, 11, 13, generator=g, dtype=torch.float64)
        w = torch.randn(6, cin, 3, 3, generator=g, dtype=torch.float64)
        y = head_conv(x, w, dil)
        ref = F.conv2d(x, w, padding=dil, dilation=dil)
        assert y.is_contiguous(memory_format=torch.channels_last)
        assert (y - ref).abs().max() < 1e-12
        xr = x.clone().requires_grad_()
        wr = w.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda a, k, d=dil: head_conv(a, k, d), (xr, wr))


def test_soft_threshold_and_the_folded_shrink() -> None:
    g = _g(3)
    x = torch.randn(2, 4, 6, 6, generator=g, dtype=torch.float64)
    thr = torch.rand(1, 4, 1, 1, generator=g, dtype=torch.float64) + 0.05
    ref = torch.sign(x) * torch.clamp(x.abs() - thr, min=0)
    assert torch.equal(soft_threshold(x, thr), ref)
    assert torch.equal(shrink(x), soft_threshold(x, 1.0))
    # the folding identity the networks rely on: ST(x, a) = a * shrink(x / a)
    torch.testing.assert_close(thr * shrink(x / thr), ref, rtol=0, atol=1e-15)
    tr = thr.clone().requires_grad_()
    x_safe = x.clone()
    near = ((x_safe.abs() - thr).abs() < 1e-3) | ((x_safe.abs() - 1.0).abs() < 1e-3)
    x_safe[near] += 0.01  # gradcheck away from the kinks
    x_safe.requires_grad_()
    assert torch.autograd.gradcheck(soft_threshold, (x_safe, tr))
    assert torch.autograd.gradcheck(shrink, (x_safe,))


def test_pointwise_conv2d() -> None:
    g = _g(4)
    x = torch.randn(2, 5, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 5, 1, 1, generator=g, dtype=torch.float64, requires_grad=True)
    for pad in (0, 1):
        assert torch.equal(pointwise_conv2d(x, w, pad), F.conv2d(x, w, padding=pad))
        assert torch.autograd.gradcheck(lambda a, k, p=pad: pointwise_conv2d(a, k, p), (x, w))
