"""Random camera-shake blur kernels in the manner of Boracchi & Foi (2012).

The model ("Modeling the performance of image restoration from motion blur", IEEE TIP 21(8)): the
image-plane position of a point follows a 2-D random walk with inertia, sampled at ``n`` instants of
the exposure.  The velocity ``v`` has a constant speed ``L / (n − 1)`` (so every trajectory of length
``L`` takes the whole exposure); at each step it is perturbed by

* a Gaussian term ``anxiety · g · ξ · L/(n − 1)`` (``ξ`` complex standard normal, ``g ~ U[0, 10]``),
* a centripetal (inertial) pull ``− anxiety · c · x_t · L/(n − 1)`` back toward the start
  (``c ~ U[0, 0.7]``),
* with probability ``anxiety · f`` (``f ~ U[0, 0.2]``) an impulsive shake ``2 v e^{i(π + u − ½)}``
  (``u ~ U[0, 1]``) that roughly reverses the motion,

and then renormalised to that speed.  The starting direction is uniform and the initial speed is
``anxiety`` (or ``L/(n − 1)`` when ``anxiety = 0``, a straight line).  The PSF of an exposure that
lasts the fraction ``T`` of the trajectory is the trajectory up to time ``T·n`` rasterised with
sub-pixel accuracy: each sample spreads its weight over its four neighbouring pixels bilinearly (the
product of triangle functions), the last sample with the fraction of it that falls inside the
exposure.  :func:`shake_kernel` then crops the support, centres the kernel's centroid on the middle
pixel of an odd square and normalises it to sum 1.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["shake_trajectory", "rasterize_trajectory", "shake_kernel"]


def shake_trajectory(
    rng: np.random.Generator,
    length: float = 30.0,
    anxiety: float | None = None,
    samples: int = 2000,
) -> np.ndarray:
    """A random trajectory (complex positions, ``samples`` of them, starting at 0) of total length
    ``length`` pixels; ``anxiety`` in ``[0, 1]`` (default ``0.1 · U[0, 1]``, as in the paper's code)."""
    if samples < 2:
        raise ValueError(f"a trajectory needs at least 2 samples, got {samples}")
    if not length > 0:
        raise ValueError(f"the trajectory length must be > 0, got {length}")
    if anxiety is None:
        anxiety = 0.1 * rng.random()
    if not 0 <= anxiety <= 1:
        raise ValueError(f"anxiety must be in [0, 1], got {anxiety}")
    centripetal = 0.7 * rng.random()
    gaussian = 10.0 * rng.random()
    big_shakes = 0.2 * rng.random()
    step = length / (samples - 1)
    v = np.exp(1j * 2 * math.pi * rng.random())
    v = v * (anxiety if anxiety > 0 else step)
    x = np.zeros(samples, dtype=np.complex128)
    for t in range(samples - 1):
        dv = 0j
        if rng.random() < big_shakes * anxiety:
            dv = 2.0 * v * np.exp(1j * (math.pi + rng.random() - 0.5))
        xi = rng.standard_normal() + 1j * rng.standard_normal()
        dv += anxiety * (gaussian * xi - centripetal * x[t]) * step
        v = v + dv
        v = v / abs(v) * step
        x[t + 1] = x[t] + v
    return x


def rasterize_trajectory(x: np.ndarray, exposure: float = 1.0) -> tuple[np.ndarray, float, float]:
    """Bilinear sub-pixel rasterisation of the first ``exposure`` fraction of trajectory ``x``.

    Returns ``(psf, row0, col0)``: the unnormalised PSF on the smallest pixel grid that holds it, and
    the continuous position of its pixel ``(0, 0)`` (rows follow ``imag``, columns ``real``).
    """
    if not 0 < exposure <= 1:
        raise ValueError(f"exposure must be in (0, 1], got {exposure}")
    n = x.size
    weight = np.clip(exposure * n - np.arange(n), 0.0, 1.0)
    keep = weight > 0
    pts, weight = x[keep], weight[keep]
    row0, col0 = math.floor(pts.imag.min()), math.floor(pts.real.min())
    r, c = pts.imag - row0, pts.real - col0
    ri, ci = np.floor(r).astype(int), np.floor(c).astype(int)
    fr, fc = r - ri, c - ci
    psf = np.zeros((ri.max() + 2, ci.max() + 2))
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            np.add.at(psf, (ri + dr, ci + dc), weight * wr * wc)
    return psf, float(row0), float(col0)


def _centre(psf: np.ndarray) -> np.ndarray:
    """Crop to the non-zero support and place the centroid on the middle pixel of an odd square."""
    rows = np.nonzero(psf.sum(axis=1) > 0)[0]
    cols = np.nonzero(psf.sum(axis=0) > 0)[0]
    psf = psf[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    total = psf.sum()
    cy = int(round(float((psf.sum(axis=1) * np.arange(psf.shape[0])).sum() / total)))
    cx = int(round(float((psf.sum(axis=0) * np.arange(psf.shape[1])).sum() / total)))
    half = max(cy, psf.shape[0] - 1 - cy, cx, psf.shape[1] - 1 - cx)
    out = np.zeros((2 * half + 1, 2 * half + 1))
    out[half - cy : half - cy + psf.shape[0], half - cx : half - cx + psf.shape[1]] = psf
    return out


def shake_kernel(
    seed: int,
    length: float = 30.0,
    anxiety: float | None = None,
    exposure: float = 1.0,
    samples: int = 2000,
) -> np.ndarray:
    """A camera-shake kernel (odd square, sum 1, centroid at the centre) from ``numpy`` seed ``seed``."""
    rng = np.random.default_rng(seed)
    x = shake_trajectory(rng, length=length, anxiety=anxiety, samples=samples)
    psf, _, _ = rasterize_trajectory(x, exposure)
    out = _centre(psf)
    return out / out.sum()
