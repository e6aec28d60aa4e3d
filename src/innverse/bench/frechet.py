"""Fréchet distance between two sets of images on the features of a network trained here.

``FID (local features)``: the Fréchet distance ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½)``
between Gaussians fitted to the penultimate features of the project's Fashion-MNIST classifier
(``fmnist-classifier`` by default).  The standard FID uses an ImageNet Inception network, which
cannot be had offline, so this number is never comparable with published FIDs; it compares methods
measured here with each other, with the same feature network and sample counts.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["gaussian_stats", "frechet_distance", "extract_features", "fid_local"]


def gaussian_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of ``features`` ``(N, D)``, in float64."""
    f = features.double()
    if f.dim() != 2 or f.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors of shape (N, D); got {tuple(features.shape)}")
    mu = f.mean(0)
    c = f - mu
    return mu, c.T @ c / (f.shape[0] - 1)


def _sqrtm_psd(a: Tensor) -> Tensor:
    w, v = torch.linalg.eigh((a + a.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(mu1: Tensor, s1: Tensor, mu2: Tensor, s2: Tensor) -> float:
    """Fréchet distance between N(mu1, s1) and N(mu2, s2) (float64, symmetric PSD square roots)."""
    r1 = _sqrtm_psd(s1.double())
    cross = _sqrtm_psd(r1 @ s2.double() @ r1)
    d = (mu1.double() - mu2.double()).square().sum() + torch.trace(s1.double() + s2.double() - 2 * cross)
    return float(d.clamp_min(0))


@torch.no_grad()
def extract_features(net: nn.Module, images: Tensor, batch: int = 500) -> Tensor:
    """Penultimate features of ``images`` ``(N, 1, H, W)`` in [0, 1] (32x32 inputs are centre-cropped
    to the classifier's 28x28)."""
    if images.shape[-1] == 32 and images.shape[-2] == 32:
        images = images[..., 2:30, 2:30]
    was = net.training
    net.eval()
    try:
        out = [net.features(images[i : i + batch].float()) for i in range(0, images.shape[0], batch)]
    finally:
        net.train(was)
    return torch.cat(out)


def fid_local(a: Tensor, b: Tensor, net: nn.Module) -> float:
    """FID (local features) between image sets ``a`` and ``b`` ``(N, 1, H, W)`` in [0, 1]."""
    return frechet_distance(
        *gaussian_stats(extract_features(net, a)), *gaussian_stats(extract_features(net, b))
    )
