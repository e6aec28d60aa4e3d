"""Generate the shipped camera-shake kernels ``shake:1..8`` (src/innverse/data/blur_kernels/shake.npz).

Each kernel is :func:`innverse.data.shake.shake_kernel` of its own seed, with a trajectory length
drawn from U[25, 50] pixels and an anxiety drawn log-uniformly from [0.001, 0.008] (a generator
seeded with 20120801 draws them); a draw is kept when the kernel's side is 13..31 pixels (the range of
Levin et al.'s kernels is 13..27), else the next seed is tried.  The file stores every kernel
(``shake1`` .. ``shake8``, float64, sum 1) and the parameters that regenerate it (``params``: rows of
seed, length, anxiety, exposure).  Rerunning this script reproduces the file's arrays exactly.

    python scripts/make_shake_kernels.py [--out PATH] [--preview PNG]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from innverse.data.shake import shake_kernel

COUNT = 8
MASTER_SEED = 20120801
MIN_SIZE, MAX_SIZE = 13, 31
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "innverse" / "data" / "blur_kernels" / "shake.npz"


def generate() -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(MASTER_SEED)
    kernels: list[np.ndarray] = []
    params: list[tuple[float, float, float, float]] = []
    seed = MASTER_SEED
    while len(kernels) < COUNT:
        seed += 1
        length = float(rng.uniform(25.0, 50.0))
        anxiety = float(math.exp(rng.uniform(math.log(0.001), math.log(0.008))))
        k = shake_kernel(seed, length=length, anxiety=anxiety, exposure=1.0)
        if MIN_SIZE <= k.shape[0] <= MAX_SIZE:
            kernels.append(k)
            params.append((float(seed), length, anxiety, 1.0))
    return kernels, np.asarray(params, dtype=np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--preview", type=Path, default=None, help="also write a PNG strip of the kernels")
    args = ap.parse_args()
    kernels, params = generate()
    arrays = {f"shake{i + 1}": k for i, k in enumerate(kernels)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, params=params, **arrays)
    for i, k in enumerate(kernels):
        seed, length, anxiety, _ = params[i]
        size = f"{k.shape[0]}x{k.shape[1]}"
        print(f"shake:{i + 1}  {size}  seed {int(seed)}  length {length:.1f}  anxiety {anxiety:.4f}")
    if args.preview is not None:
        from PIL import Image

        side = MAX_SIZE + 4
        strip = np.zeros((side, side * COUNT))
        for i, k in enumerate(kernels):
            o = (side - k.shape[0]) // 2
            strip[o : o + k.shape[0], i * side + o : i * side + o + k.shape[1]] = k / k.max()
        img = Image.fromarray((strip * 255).round().astype(np.uint8))
        img.resize((img.width * 4, img.height * 4), Image.NEAREST).save(args.preview)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
