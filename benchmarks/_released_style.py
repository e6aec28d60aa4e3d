"""A re-statement of the *released* WINNet inference path, for comparison only (not library code).

It evaluates the same weights the way the authors' code does: NCHW tensors, replicate-padded DCT
split/merge (not invertible at the borders), a soft threshold built from sign/abs/repeat/permute
per call, and CLISTA as the literal recursion.  Used by the benchmarks to (a) time the released
computation on the same machine and (b) measure the PSNR of the released border handling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from innverse.models.winnet import WINNet


def _st(x: Tensor, theta: Tensor, noise_l: float) -> Tensor:
    sgn = torch.sign(x)
    thre = F.softplus(theta, beta=20)
    thre = thre.repeat(x.size(0), x.size(2), x.size(3), 1).permute(0, 3, 1, 2).contiguous()
    thre = thre * (noise_l / 50)
    tmp = torch.abs(x) - thre
    return sgn * (tmp + torch.abs(tmp)) / 2


def _net(net, x: Tensor, nl: float) -> Tensor:
    d = net.dilation
    h = _st(F.conv2d(x, net.head, padding=d, dilation=d), net.head_st.theta, nl)
    for b in net.blocks:
        def sep(z, dw, pw, b=b):
            z = F.conv2d(z, dw, padding=b.pad_dw, dilation=b.dilation, groups=dw.shape[0])
            return F.conv2d(z, pw, padding=b.pad_pw)
        t = _st(sep(h, b.dw1, b.pw1), b.st1.theta, nl)
        h = _st(h + sep(t, b.dw2, b.pw2), b.st2.theta, nl)
    return F.conv2d(h, net.tail, padding=d, dilation=d)


def _clista(dn, x: Tensor, nl: float) -> Tensor:
    g = F.conv2d(x, dn.A, padding=1)
    for st in dn.st:
        g = _st(g + F.conv2d(x - F.conv2d(g, dn.S, padding=1), dn.A, padding=1), st.theta, nl)
    return F.conv2d(g, dn.S, padding=1)


def released_forward(model: WINNet, y: Tensor, sigma255: float) -> Tensor:
    """Denoise like the released code (replicate-padded split, no image padding)."""
    k, kt = model.frame.kernels(y.dtype, y.device)
    y = y.contiguous()

    def split(x):
        f = F.conv2d(F.pad(x, (1, 2, 1, 2), mode="replicate"), k)
        return f[:, :1].contiguous(), f[:, 1:].contiguous()

    def merge(c, d):
        return F.conv2d(F.pad(torch.cat([c, d], 1), (2, 1, 2, 1), mode="replicate"), kt)

    cs, ds = [], []
    c = y
    for lvl in model.levels:
        c, d = split(c)
        for st in lvl.steps:
            d = d - _net(st.predict, c, sigma255)
            c = c + _net(st.update, d, sigma255)
        cs.append(c)
        ds.append(_clista(lvl.denoiser, d, sigma255))
    for i in reversed(range(len(model.levels))):
        lvl, c, d = model.levels[i], cs[i] if i == len(model.levels) - 1 else c, ds[i]
        for st in reversed(lvl.steps):
            c = c - _net(st.update, d, sigma255)
            d = d + _net(st.predict, c, sigma255)
        c = merge(c, d)
    return c
