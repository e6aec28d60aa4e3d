"""Reflection removal on real photographs, as pictures only (no ground truth exists for them).

    python benchmarks/dereflect_photos.py --photos Aqua.jpg RainDrops.jpg Storm.jpg \\
        --out docs/images/dereflect_photos.png

Each photograph of ``<data root>/photos`` is downscaled to ``--side`` pixels on its longer side and
split by ``--model`` (default: the shipped ``durrnet-lite``); the figure shows, per row, the photo,
``T̂`` and ``R̂`` (``R̂`` also brightened x4, so that what the model takes away is visible).  The
photographs in the data root were not taken through glass: the rows show what the model removes
from a photo with no reflection in it.  The benchmarks with numbers are ``innverse benchmark
dereflect`` (synthetic pairs with ground truth).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    from innverse.api import remove_reflection
    from innverse.errors import UserError
    from innverse.paths import data_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="+", default=["Aqua.jpg", "RainDrops.jpg", "Storm.jpg"])
    ap.add_argument("--model", default="durrnet-lite")
    ap.add_argument("--side", type=int, default=384)
    ap.add_argument("--out", type=Path, default=Path("docs/images/dereflect_photos.png"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = data_path()
    if root is None or not (root / "photos").is_dir():
        print("dereflect_photos: error: no photos/ in the data root (set INNVERSE_DATA)", file=sys.stderr)
        return 2
    rows = []
    try:
        for name in args.photos:
            with Image.open(root / "photos" / name) as im:
                im = im.convert("RGB")
                s = args.side / max(im.size)
                im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.Resampling.LANCZOS)
                rgb = np.asarray(im, dtype=np.uint8)
            t, r = remove_reflection(rgb, model=args.model, device="cpu")
            bright = np.clip(r.astype(np.float32) * 4, 0, 255).astype(np.uint8)
            rows.append((name, [rgb, t, r, bright]))
            mean_r = float(np.abs(r.astype(np.float32)).mean())
            print(f"{name}: {rgb.shape[1]}x{rgb.shape[0]}, mean |R^| {mean_r:.1f}/255")
    except (OSError, UserError) as e:
        print(f"dereflect_photos: error: {e}", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = ["photo", "T^", "R^", "R^ x4"]
    fig, axes = plt.subplots(len(rows), 4, figsize=(12, 2.3 * len(rows)), squeeze=False)
    for i, (name, ims) in enumerate(rows):
        for j, im in enumerate(ims):
            ax = axes[i][j]
            ax.imshow(im)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=10)
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.suptitle(f"{args.model} on photographs without glass (no ground truth)", fontsize=11)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".part.png")
    fig.savefig(tmp, dpi=90)
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
