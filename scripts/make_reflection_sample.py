"""Make the bundled reflection-removal example of ``innverse dereflect --sample``.

    python scripts/make_reflection_sample.py     # writes src/innverse/data/samples/reflection_sample*.png

Two procedurally drawn 192x128 RGB scenes (no photograph, so nothing with a licence is shipped):

* the transmission ``T``: an outdoor view -- sky gradient, sun, two rows of hills, a house with a
  roof, a door and windows, a fence and seeded grass texture;
* the reflection ``R``: a room behind the camera -- a wall with a lamp, a bookshelf of coloured
  book spines, a window frame and a figure.

They are mixed by ERRNet's synthesis (:func:`innverse.physics.reflection.synthesize_reflection`,
a generator seeded with 7): ``R`` is blurred by a Gaussian of std in [2, 5] and added to ``T``,
overflow handled as ERRNet does.  Written (8-bit PNG): ``reflection_sample.png`` (the mixture, the
input), ``reflection_sample_T.png`` (T) and ``reflection_sample_R.png`` (the effective reflection,
``I = T + R`` where nothing clipped), all rounded to 8 bits.  The output is deterministic.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

W, H = 192, 128
SEED = 7


def _box(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, rgb) -> None:
    """Fill the box of fractional coordinates [x0, x1) x [y0, y1) with ``rgb``."""
    h, w = img.shape[:2]
    img[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)] = rgb


def transmission(rng: np.random.Generator) -> np.ndarray:
    """The outdoor scene, float (H, W, 3) on [0, 1]."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    yy, xx = yy / H, xx / W
    img = np.stack([0.45 + 0.35 * yy, 0.62 + 0.25 * yy, 0.95 - 0.15 * yy], -1)
    sun = np.exp(-(((xx - 0.8) ** 2) * 2.2 + (yy - 0.18) ** 2) / 0.004)[..., None]
    img = img + sun * np.array([0.5, 0.4, -0.25])
    far = yy > 0.5 + 0.06 * np.sin(9 * xx + 0.5) + 0.03 * np.sin(31 * xx)
    img[far] = np.array([0.35, 0.45, 0.55]) + 0.05 * xx[far, None]
    near = yy > 0.66 + 0.05 * np.sin(5 * xx + 2.0)
    grass = np.stack([0.22 + 0.2 * xx, 0.52 - 0.2 * (yy - 0.66), 0.14 + 0.05 * xx], -1)
    img[near] = grass[near]
    tex = np.kron(rng.standard_normal((H // 2 + 1, W // 2 + 1)), np.ones((2, 2)))[:H, :W]
    img = img + 0.05 * (tex * near)[..., None]
    # the house: wall, roof (a triangle), door, two windows
    _box(img, 0.18, 0.52, 0.42, 0.8, (0.86, 0.78, 0.62))
    roof = (yy > 0.34 + 1.5 * np.abs(xx - 0.3)) & (yy < 0.53) & (np.abs(xx - 0.3) < 0.14)
    img[roof] = (0.62, 0.2, 0.15)
    _box(img, 0.27, 0.64, 0.33, 0.8, (0.35, 0.22, 0.12))
    for x0 in (0.2, 0.35):
        _box(img, x0, 0.58, x0 + 0.05, 0.66, (0.2, 0.3, 0.45))
        _box(img, x0 + 0.023, 0.58, x0 + 0.027, 0.66, (0.95, 0.95, 0.95))
    # a fence in front
    for k in range(14):
        x0 = 0.5 + 0.035 * k
        _box(img, x0, 0.7, x0 + 0.012, 0.84, (0.95, 0.93, 0.88))
    _box(img, 0.5, 0.74, 0.99, 0.755, (0.95, 0.93, 0.88))
    return np.clip(img + 0.01 * rng.standard_normal((H, W, 1)), 0, 1)


def reflection(rng: np.random.Generator) -> np.ndarray:
    """The indoor scene, float (H, W, 3) on [0, 1]."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    yy, xx = yy / H, xx / W
    img = np.stack([0.55 - 0.2 * xx, 0.5 - 0.15 * xx, 0.45 - 0.05 * yy], -1)
    # a lamp: shade and glow
    glow = np.exp(-((xx - 0.15) ** 2 * 2.2 + (yy - 0.3) ** 2) / 0.01)[..., None]
    img = img + 0.45 * glow * np.array([1.0, 0.85, 0.5])
    _box(img, 0.1, 0.18, 0.2, 0.3, (0.98, 0.9, 0.7))
    _box(img, 0.145, 0.3, 0.155, 0.75, (0.2, 0.2, 0.2))
    # a bookshelf of coloured spines
    _box(img, 0.55, 0.1, 0.95, 0.9, (0.3, 0.2, 0.12))
    for y0 in (0.14, 0.40, 0.66):
        x = 0.57
        while x < 0.92:
            wdt = 0.012 + 0.018 * rng.random()
            top = y0 + 0.02 + 0.05 * rng.random()
            colour = rng.random(3) * 0.8 + 0.1
            _box(img, x, top, min(x + wdt, 0.93), y0 + 0.23, colour)
            x += wdt + 0.004
        _box(img, 0.55, y0 + 0.23, 0.95, y0 + 0.26, (0.22, 0.14, 0.08))
    # a window frame and a figure
    _box(img, 0.28, 0.12, 0.46, 0.5, (0.8, 0.88, 0.95))
    _box(img, 0.366, 0.12, 0.374, 0.5, (0.3, 0.25, 0.2))
    _box(img, 0.28, 0.305, 0.46, 0.315, (0.3, 0.25, 0.2))
    head = ((xx - 0.4) ** 2 * 2.2 + (yy - 0.6) ** 2) < 0.004
    body = ((xx - 0.4) ** 2 * 2.2 / 0.6 + (yy - 0.9) ** 2 / 1.6) < 0.015
    img[head | body] = (0.15, 0.12, 0.2)
    return np.clip(img, 0, 1)


def make(seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(I, T, R)`` uint8 (H, W, 3): the mixture, the transmission and the effective reflection."""
    import torch

    from innverse.physics.reflection import synthesize_reflection

    rng = np.random.default_rng(seed)
    t8 = (transmission(rng) * 255).round().astype(np.uint8)
    r8 = (reflection(rng) * 255).round().astype(np.uint8)
    t = torch.from_numpy(t8).permute(2, 0, 1).double() / 255
    r = torch.from_numpy(r8).permute(2, 0, 1).double() / 255
    mix, t, r_eff = synthesize_reflection(t, r, generator=torch.Generator().manual_seed(seed))

    def u8(x: torch.Tensor) -> np.ndarray:
        return (x.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)

    return u8(mix), u8(t), u8(r_eff)


def main() -> int:
    here = Path(__file__).resolve().parents[1] / "src" / "innverse" / "data" / "samples"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=here, help=f"folder (default {here})")
    args = ap.parse_args()
    from innverse.data.io import write_image

    mix, t, r = make()
    for tag, a in (("", mix), ("_T", t), ("_R", r)):
        name = f"reflection_sample{tag}.png"
        write_image(args.out / name, a, 8, force=True)
        print(f"wrote {args.out / name} ({a.shape[1]}x{a.shape[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
