"""The CLI as a user meets it: 8-bit noisy PNG files in, denoised PNG files out.

    python benchmarks/cli_denoise.py                   # BSD68 (held out from Train400), first 10 images
    python benchmarks/cli_denoise.py --limit 0         # all 68

For each sigma (0-255 scale) the clean images get the seeded noise of innverse.data.testsets, are
rounded and clipped to 8-bit PNGs (what a user has), and go through ``innverse denoise`` twice:
with ``--sigma`` (non-blind) and without it (blind: NENet estimates sigma per image).  PSNR is
measured against the clean 8-bit image.  ``--ensemble`` adds a third pass, ``--sigma S --ensemble``
(8 flips/rotations averaged).  One thread.  Writes ``--out``/cli_denoise.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from innverse.cli import main as cli
from innverse.data.testsets import add_seeded_noise, load_set


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def main() -> None:
    from innverse.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="BSD68")
    ap.add_argument("--sigma", default="15,25,50")
    ap.add_argument("--limit", type=int, default=10, help="first N images (0 = all)")
    ap.add_argument("--out", default="bench_out")
    ap.add_argument("--ensemble", action="store_true", help="also run --sigma S --ensemble")
    args = ap.parse_args()
    torch.set_num_threads(1)
    images = load_set(args.data, limit=args.limit or None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for s in (float(v) for v in args.sigma.split(",")):
            noisy_dir, nb_dir, bl_dir = t / f"noisy{s:g}", t / f"nb{s:g}", t / f"bl{s:g}"
            noisy_dir.mkdir()
            clean8 = {}
            for i, (name, x) in enumerate(images):
                c8 = np.round(x[0, 0].numpy() * 255).astype(np.uint8)
                y = add_seeded_noise(torch.from_numpy(c8 / 255.0).float()[None, None], s, i)
                Image.fromarray(np.clip(np.round(y[0, 0].numpy() * 255), 0, 255).astype(np.uint8)).save(
                    noisy_dir / name)
                clean8[name] = c8
            assert cli(["denoise", str(noisy_dir), "-o", str(nb_dir), "--sigma", f"{s:g}"]) == 0
            assert cli(["denoise", str(noisy_dir), "-o", str(bl_dir)]) == 0
            keys = ["noisy", "nonblind", "blind"]
            dirs = {"noisy": noisy_dir, "nonblind": nb_dir, "blind": bl_dir}
            if args.ensemble:
                dirs["ensemble"] = t / f"ens{s:g}"
                keys.append("ensemble")
                assert cli(["denoise", str(noisy_dir), "-o", str(dirs["ensemble"]), "--sigma", f"{s:g}",
                            "--ensemble"]) == 0
            res = {"sigma": s, **{k: [] for k in keys}}
            for name, c8 in clean8.items():
                for k in keys:
                    res[k].append(psnr8(np.asarray(Image.open(dirs[k] / name)), c8))
            means = {k: float(np.mean(res[k])) for k in keys}
            res["mean"] = means
            rows.append(res)
            print(f"sigma {s:g}: noisy {means['noisy']:.2f} dB, --sigma {means['nonblind']:.2f} dB "
                  f"(+{means['nonblind'] - means['noisy']:.2f}), blind {means['blind']:.2f} dB "
                  f"({means['blind'] - means['nonblind']:+.2f} vs non-blind)"
                  + (f", --ensemble {means['ensemble']:.2f} dB (+{means['ensemble'] - means['noisy']:.2f})"
                     if "ensemble" in means else ""), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cli_denoise.json").write_text(json.dumps({"data": args.data, "images": len(images), "rows": rows},
                                                     indent=2) + "\n")
    ens = args.ensemble
    md = ["| sigma | noisy 8-bit | `--sigma` | gain | blind | blind - non-blind |"
          + (" `--sigma --ensemble` | gain |" if ens else ""),
          "|---|---|---|---|---|---|" + ("---|---|" if ens else "")]
    for r in rows:
        m = r["mean"]
        gain = m["nonblind"] - m["noisy"]
        md.append(f"| {r['sigma']:g} | {m['noisy']:.2f} | {m['nonblind']:.2f} | +{gain:.2f} | "
                  f"{m['blind']:.2f} | {m['blind'] - m['nonblind']:+.2f} |"
                  + (f" {m['ensemble']:.2f} | +{m['ensemble'] - m['noisy']:.2f} |" if ens else ""))
    (out / "cli_denoise.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
