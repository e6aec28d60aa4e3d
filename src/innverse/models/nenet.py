"""NENet: learned noise-level estimation by weighted PCA of image patches (WINNet paper, Sec. V).

Every 8x8 patch (stride 1) is read as a length-64 signal and passed through a small 1-D CNN
(no bias, ReLU); its output averaged over positions and squashed by a sigmoid is the patch's
weight ``w_i`` (how "flat", i.e. noise-only, the patch looks).  The noise standard deviation is

    sigma_hat = sqrt( lambda_min( sum_i w_i p_i p_i^T ) / sum_i w_i )

(the smallest eigenvalue of the weighted patch scatter matrix).  Patches are processed in chunks
so memory stays bounded on large images; the result is identical to processing all at once.
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
        self, patch: int = 8, hidden: int = 16, layers: int = 5, ksize: int = 5, chunk: int = 1 << 16
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

    def weights(self, patches: Tensor) -> Tensor:
        """Patch weights in (0, 1) for patches of shape (N, 64)."""
        h = patches.unsqueeze(1)
        last = len(self.convs) - 1
        for i, w in enumerate(self.convs):
            h = F.conv1d(h, w)
            if i < last:
                h = F.relu(h)
        return torch.sigmoid(h.mean(dim=(1, 2)))

    def scatter(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """Weighted scatter matrices (B, 64, 64) and weight sums (B,) of every patch of ``y``."""
        if y.dim() != 4 or y.shape[1] != 1:
            raise ValueError(f"NENet expects a (B, 1, H, W) gray image tensor; got {tuple(y.shape)}")
        if min(y.shape[-2:]) < self.patch:
            raise ValueError(
                f"image of size {tuple(y.shape[-2:])} is smaller than the {self.patch}x{self.patch} patch"
            )
        b, _, h, w = y.shape
        p = self.patch
        n_rows = h - p + 1
        scat = y.new_zeros(b, p * p, p * p)
        wsum = y.new_zeros(b)
        # process bands of patch rows so that at most ~chunk patches are alive at once
        rows = max(1, self.chunk // max(1, w - p + 1))
        for r0 in range(0, n_rows, rows):
            r1 = min(n_rows, r0 + rows)
            band = y[:, :, r0 : r1 + p - 1, :]
            P = F.unfold(band, p).transpose(1, 2)  # (B, L, 64)
            wts = self.weights(P.reshape(-1, p * p)).reshape(b, -1)
            scat = scat + torch.einsum("bli,blj->bij", P * wts.unsqueeze(-1), P)
            wsum = wsum + wts.sum(1)
        return scat, wsum

    def forward(self, y: Tensor) -> Tensor:
        scat, wsum = self.scatter(y)
        lam = torch.linalg.eigvalsh(scat.double())[:, 0].clamp_min(0).to(y.dtype)
        return torch.sqrt(lam / wsum)

    @classmethod
    def from_official(cls, path: str | Path, map_location: str | torch.device = "cpu") -> NENet:
        """Load the released ``net_NENet.pth`` (``torch.load(weights_only=True)``)."""
        from innverse.models.official import load_official_nenet

        return load_official_nenet(path, map_location)

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        from innverse.models.io import save_model

        return save_model(self, directory, card)
