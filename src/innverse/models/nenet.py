"""NENet: learned noise-level estimation by weighted PCA of image patches (WINNet paper, Sec. V).

Every 8x8 patch (stride 1) is read as a length-64 signal and passed through a small 1-D CNN
(no bias, ReLU); its output averaged over positions and squashed by a sigmoid is the patch's
weight ``w_i`` (how "flat", i.e. noise-only, the patch looks).  The noise standard deviation is

    sigma_hat = sqrt( lambda_min( sum_i w_i p_i p_i^T ) / sum_i w_i )

(the smallest eigenvalue of the weighted patch scatter matrix).

Computation.  The CNN has no padding, so on a patch it only sees the patch.  Read row-major, the
patch at (r, c) is the window ``[p*r, p*r + p*p)`` of the column strip ``y[:, c:c+p]`` flattened
row-major, and the patch one row down is the same window shifted by ``p``.  The CNN therefore runs
once along each strip and every patch's output is a window of that run: an average pool of width
``p*p - shrink`` (``shrink`` = the CNN's total size loss, 28 for the released net) at stride ``p``.
This is the official algorithm over every patch at stride 1, exactly (to float rounding), with
``p`` instead of ~``p*p - shrink/2`` CNN positions per patch (6x fewer for the released net).
Strips are processed in chunks of about ``chunk`` patches (default 8192: 4 MB activations, inside
the CPU caches and glibc's mmap ceiling), so memory stays bounded on any image and the result does
not depend on the chunking (to rounding); the scatter is accumulated in float64.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["NENet"]


class NENet(nn.Module):
    """Noise-level estimator.  ``forward(y)`` -> sigma_hat (B,) on the data scale of ``y``."""

    kind = "nenet"

    def __init__(
        self, patch: int = 8, hidden: int = 16, layers: int = 5, ksize: int = 5, chunk: int = 1 << 13
    ) -> None:
        super().__init__()
        self.config = dict(patch=patch, hidden=hidden, layers=layers, ksize=ksize)
        self.patch = patch
        self.chunk = chunk
        self.min_size = patch
        chans = [1] + [hidden] * (layers + 1) + [1]
        self.convs = nn.ParameterList(
            nn.Parameter(torch.empty(co, ci, ksize)) for ci, co in zip(chans[:-1], chans[1:], strict=True)
        )
        for w in self.convs:
            nn.init.kaiming_uniform_(w, a=0.0, nonlinearity="relu")

    def _cnn(self, x: Tensor) -> Tensor:
        """The CNN on (N, 1, L) signals -> (N, 1, L - shrink) (pre-sigmoid, before averaging).

        Each 1-D convolution runs as a (1, k) 2-D convolution on a channels-last (N, C, 1, L) tensor:
        oneDNN's channels-last kernels are ~40x faster on CPU than its NCW ``conv1d`` at 16 channels.
        """
        last = len(self.convs) - 1
        inplace = not torch.is_grad_enabled()
        h = x.unsqueeze(2)
        for i, w in enumerate(self.convs):
            if h.shape[1] == 1 and w.shape[0] > 1:
                # from one channel (where conv2d would answer in slow NCHW): sliding windows times
                # the kernel, (N, L', k) @ (k, C) = (N, L', C), which is channels-last (N, C, 1, L')
                win = h.reshape(h.shape[0], -1).unfold(1, w.shape[-1], 1)
                h = torch.matmul(win, w.reshape(w.shape[0], -1).t()).permute(0, 2, 1).unsqueeze(2)
            else:
                h = F.conv2d(h, w.unsqueeze(2))
            if i < last:
                h = F.relu(h, inplace=inplace)
        return h.reshape(h.shape[0], 1, h.shape[-1])

    @property
    def shrink(self) -> int:
        """Length the CNN removes from a signal (valid convolutions): sum of (kernel - 1)."""
        return sum(int(w.shape[-1]) - 1 for w in self.convs)

    def weights(self, patches: Tensor) -> Tensor:
        """Patch weights in (0, 1) for patches of shape (N, p*p) (each patch on its own)."""
        return torch.sigmoid(self._cnn(patches.unsqueeze(1)).mean(dim=(1, 2)))

    def scatter(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """Weighted scatter matrices (B, p*p, p*p) and weight sums (B,) of every patch of ``y``
        (stride 1), in ``y``'s dtype."""
        scat, wsum = self._scatter64(y)
        return scat.to(y.dtype), wsum.to(y.dtype)

    def _scatter64(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`scatter` accumulated and returned in float64, computed along column strips (see
        the module docstring)."""
        if y.dim() != 4 or y.shape[1] != 1:
            raise ValueError(f"NENet expects a (B, 1, H, W) gray image tensor; got {tuple(y.shape)}")
        if min(y.shape[-2:]) < self.patch:
            raise ValueError(
                f"image of size {tuple(y.shape[-2:])} is smaller than the {self.patch}x{self.patch} patch"
            )
        b, _, h, w = y.shape
        p = self.patch
        pool = p * p - self.shrink
        if pool < 1:
            raise ValueError(f"the NENet CNN shrinks a {p * p}-sample patch by {self.shrink}: nothing left")
        n_rows, n_cols = h - p + 1, w - p + 1
        # chunk: R patch rows (strip length (R + p - 1) * p) times C strips times the batch
        rows = max(1, min(n_rows, self.chunk // b))
        cols = max(1, min(n_cols, self.chunk // (b * rows)))
        # float64 accumulation: the smallest eigenvalue is ~1e-5 of the largest at low noise
        scat = torch.zeros(b, p * p, p * p, dtype=torch.float64, device=y.device)
        wsum = torch.zeros(b, dtype=torch.float64, device=y.device)
        for c0 in range(0, n_cols, cols):
            nc = min(n_cols, c0 + cols) - c0
            strips = y[:, 0, :, c0 : c0 + nc + p - 1].unfold(2, p, 1)  # (B, H, nc, p), a view
            for r0 in range(0, n_rows, rows):
                nr = min(n_rows, r0 + rows) - r0
                sig = strips[:, r0 : r0 + nr + p - 1].permute(0, 2, 1, 3).reshape(b * nc, 1, (nr + p - 1) * p)
                logit = F.avg_pool1d(self._cnn(sig), pool, stride=p)  # (B*nc, 1, nr)
                wts = torch.sigmoid(logit).reshape(b, nc * nr)
                pat = sig.unfold(2, p * p, p).reshape(b, nc * nr, p * p)  # patch (r, c) in row-major order
                # sum_i w_i p_i p_i^T from patches centred on the chunk's mean c (float32 then keeps
                # ~the precision of float64 at low noise):  S = sum_i w_i q_i q_i^T + c (m 1^T + 1 m^T)
                # + c^2 (sum_i w_i) 1 1^T  with  q_i = p_i - c,  m = sum_i w_i q_i
                c = sig.detach().mean(dim=(1, 2)).reshape(b, nc, 1).mean(1, keepdim=True)  # (B, 1, 1)
                q = pat - c
                wq = q * wts.unsqueeze(-1)
                s_w = wts.sum(1, dtype=torch.float64)
                m = wq.sum(1, dtype=torch.float64)  # (B, p*p)
                c64 = c.reshape(b, 1, 1).to(torch.float64)
                scat = scat + torch.matmul(wq.transpose(1, 2), q).to(torch.float64)
                scat = scat + c64 * (m.unsqueeze(2) + m.unsqueeze(1)) + (c64**2) * s_w.reshape(b, 1, 1)
                wsum = wsum + s_w
        return scat, wsum

    def forward(self, y: Tensor) -> Tensor:
        scat, wsum = self._scatter64(y)
        lam = torch.linalg.eigvalsh(scat)[:, 0].clamp_min(0)
        return torch.sqrt(lam / wsum).to(y.dtype)

    @classmethod
    def from_official(cls, path: str | Path, map_location: str | torch.device = "cpu") -> NENet:
        """Load the released ``net_NENet.pth`` (``torch.load(weights_only=True)``)."""
        from innverse.models.official import released_model

        return released_model(cls, "nenet", path, map_location)

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        from innverse.models.io import save_model

        return save_model(self, directory, card)
