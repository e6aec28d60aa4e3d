"""A re-statement of the *released* WINNet inference computation, for comparison only.

It evaluates a released ``net_WINNet.pth`` the way the authors' code does, straight from the
file's own tensors (so it does not depend on how innverse's WINNet is written): NCHW tensors, the
replicate-padded stride-1 4x4 DCT split and merge (not invertible at the borders), a soft
threshold built from ``sign``/``abs``/``repeat``/``permute`` on every call, and CLISTA as the
literal recursion.  The benchmarks use it to time the released computation on the same machine
and weights as innverse's, and to measure the PSNR of the released border handling.

Released layout (jjhuangcs/WINNet, ``utils/networks.py``): level ``l`` has lifting steps
``innnet.l.net.s.{predictor,updator}``, each a head 3x3 conv + soft threshold, residual blocks of
two separable (depthwise 5x5 + 1x1) convolutions with thresholds, and a 3x3 output conv; dilation 1
at level 0 and 2 below; the detail denoiser ``ddnnet.l`` is a CLISTA with 3x3 ``A`` and ``S``.
Thresholds are ``softplus(thre, beta=20) * sigma255 / 50``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["dct_matrix16", "released_soft_threshold", "ReleasedWINNet"]


def dct_matrix16(dtype: torch.dtype = torch.float32) -> Tensor:
    """The released ``dct_matrix(16)``: the orthonormal 16-point DCT-II, built in float64."""
    n = 16
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    f = torch.where(k == 0, math.sqrt(1.0 / (4 * n)), math.sqrt(1.0 / (2 * n)))
    return (2.0 * f * torch.cos(math.pi * k * (2 * i + 1) / (2 * n))).to(dtype)


def released_soft_threshold(x: Tensor, thre: Tensor, sigma255: Tensor | float) -> Tensor:
    """The released ``STnoise``: the threshold ``softplus(thre, 20) * sigma255 / 50`` is materialised
    at the full size of ``x`` and applied in five elementwise passes."""
    sgn = torch.sign(x)
    t = F.softplus(thre, beta=20)
    t = t.repeat(x.size(0), x.size(2), x.size(3), 1).permute(0, 3, 1, 2).contiguous()
    t = t * (sigma255 / 50)
    tmp = torch.abs(x) - t
    return sgn * (tmp + torch.abs(tmp)) / 2


class ReleasedWINNet:
    """The released inference computation on the tensors of a released ``net_WINNet.pth``.

    ``ReleasedWINNet(path)(y, sigma255)`` denoises ``y`` (B, 1, H, W) in [0, 1] at the noise level
    ``sigma255`` (0-255 scale), without padding the image.
    """

    def __init__(self, path: str | Path, device: torch.device | str = "cpu") -> None:
        from innverse.models.official import read_official_state

        self.sd = {k: v.to(device=device, dtype=torch.float32) for k, v in read_official_state(path).items()}
        self.levels = 1 + max(int(k.split(".")[1]) for k in self.sd if k.startswith("innnet."))
        m = dct_matrix16().to(device)
        self.kernel = m.reshape(16, 1, 4, 4)
        self.kernel_t = torch.flip(m, [1]).reshape(1, 16, 4, 4) / 16

    def _steps(self, level: int) -> int:
        return 1 + max(int(k.split(".")[3]) for k in self.sd if k.startswith(f"innnet.{level}.net."))

    def _net(self, prefix: str, x: Tensor, nl: float, d: int) -> Tensor:
        sd = self.sd
        h = released_soft_threshold(
            F.conv2d(x, sd[prefix + "net.0.conv.weight"], padding=d, dilation=d),
            sd[prefix + "net.0.soft.thre"],
            nl,
        )
        blk = 1
        while f"{prefix}net.{blk}.conv1.conv1.weight" in sd:
            p = f"{prefix}net.{blk}."

            def sep(z: Tensor, j: int, p: str = p) -> Tensor:
                dw, pw = sd[f"{p}conv{j}.conv1.weight"], sd[f"{p}conv{j}.conv2.weight"]
                z = F.conv2d(z, dw, padding=dw.shape[-1] // 2 + d - 1, dilation=d, groups=dw.shape[0])
                return F.conv2d(z, pw, padding=d - 1)

            t = released_soft_threshold(sep(h, 1), sd[p + "soft1.thre"], nl)
            h = released_soft_threshold(h + sep(t, 2), sd[p + "soft2.thre"], nl)
            blk += 1
        return F.conv2d(h, sd[prefix + "convOut.weight"], padding=d, dilation=d)

    def _clista(self, level: int, x: Tensor, nl: float) -> Tensor:
        a, s = self.sd[f"ddnnet.{level}.A.weight"], self.sd[f"ddnnet.{level}.S.weight"]
        g = F.conv2d(x, a, padding=1)
        j = 0
        while f"ddnnet.{level}.net.{j}.thre" in self.sd:
            g = released_soft_threshold(
                g + F.conv2d(x - F.conv2d(g, s, padding=1), a, padding=1),
                self.sd[f"ddnnet.{level}.net.{j}.thre"],
                nl,
            )
            j += 1
        return F.conv2d(g, s, padding=1)

    @torch.no_grad()
    def __call__(self, y: Tensor, sigma255: float) -> Tensor:
        def split(x: Tensor) -> tuple[Tensor, Tensor]:
            f = F.conv2d(F.pad(x, (1, 2, 1, 2), mode="replicate"), self.kernel)
            return f[:, :1].contiguous(), f[:, 1:].contiguous()

        def merge(c: Tensor, d: Tensor) -> Tensor:
            return F.conv2d(F.pad(torch.cat([c, d], 1), (2, 1, 2, 1), mode="replicate"), self.kernel_t)

        nl = float(sigma255)
        cs, ds = [], []
        c = y.contiguous()
        for lvl in range(self.levels):
            dil = 1 if lvl == 0 else 2
            c, d = split(c)
            for s in range(self._steps(lvl)):
                d = d - self._net(f"innnet.{lvl}.net.{s}.predictor.", c, nl, dil)
                c = c + self._net(f"innnet.{lvl}.net.{s}.updator.", d, nl, dil)
            cs.append(c)
            ds.append(self._clista(lvl, d, nl))
        for lvl in reversed(range(self.levels)):
            dil = 1 if lvl == 0 else 2
            c = cs[lvl] if lvl == self.levels - 1 else c
            d = ds[lvl]
            for s in reversed(range(self._steps(lvl))):
                c = c - self._net(f"innnet.{lvl}.net.{s}.updator.", d, nl, dil)
                d = d + self._net(f"innnet.{lvl}.net.{s}.predictor.", c, nl, dil)
            c = merge(c, d)
        return c
