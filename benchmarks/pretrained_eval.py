"""Score innverse's shipped weights against the released (official) WINNet/NENet weights, and write
the model cards (``src/innverse/weights/<name>.card.json``) from the measurement.

    python benchmarks/pretrained_eval.py                     # Set12 + BSD68, sigma 15/25/50
    python benchmarks/pretrained_eval.py --sets Set12 --no-cards
    python benchmarks/pretrained_eval.py --names winnet-blind \
        --official-from benchmarks/results/pretrained.json

Noise: the seeded convention of :mod:`innverse.data.testsets`; outputs clipped to [0, 1]; one
thread.  Non-blind models are scored at their own sigma, blind models at every sigma with the
true sigma given.  NENet: mean |sigma_hat - sigma| on the 0-255 scale.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from innverse.data.testsets import add_seeded_noise, load_set
from innverse.metrics import psnr, ssim
from innverse.models import list_pretrained, load_model, pretrained
from innverse.models.registry import weights_dir
from innverse.paths import data_path

OFFICIAL = {
    "winnet-s15": "WINNet_lvl_1_nlvl_15",
    "winnet-s25": "WINNet_lvl_1_nlvl_25",
    "winnet-s50": "WINNet_lvl_1_nlvl_50",
    "winnet-blind": "WINNet_lvl_1_nlvl_0_55",
}
SIGMAS = (15, 25, 50)


@torch.no_grad()
def score(model, images, sigma: float) -> tuple[float, float]:
    ps, ss = [], []
    for i, (_, x) in enumerate(images):
        out = model(add_seeded_noise(x, sigma, i), sigma / 255).clamp(0, 1)
        ps.append(float(psnr(out, x)))
        ss.append(float(ssim(out, x)))
    return float(np.mean(ps)), float(np.mean(ss))


@torch.no_grad()
def nenet_mae(model, images, sigma: float) -> float:
    est = [float(model(add_seeded_noise(x, sigma, i))) * 255 for i, (_, x) in enumerate(images)]
    return float(np.mean(np.abs(np.array(est) - sigma)))


def read_official(files: list[str]) -> dict:
    """(name, set, sigma) -> the released weights' scores, from earlier ``pretrained*.json`` files."""
    out = {}
    for f in files:
        try:
            rows = json.loads(Path(f).read_text())["rows"]
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"pretrained_eval: error: --official-from {f}: {e}") from None
        for row in rows:
            for r in row["results"]:
                keys = ("official_psnr", "official_ssim", "official_mae")
                keep = {k: r[k] for k in keys if r.get(k) is not None}
                if keep:
                    out[(row["name"], r["set"], r["sigma"])] = dict(keep, official_from=f)
    return out


def official_model(name: str):
    folder = "NENet" if name == "nenet" else OFFICIAL[name]
    f = "net_NENet.pth" if name == "nenet" else "net_WINNet.pth"
    p = data_path("weights", "winnet-official", folder, f)
    return load_model(p) if p is not None else None


def main() -> None:
    from innverse.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="Set12,BSD68")
    ap.add_argument("--names", default=None, help="comma list (default: every shipped model)")
    ap.add_argument("--no-cards", action="store_true", help="do not rewrite the model cards")
    ap.add_argument("--out", default="bench_out")
    ap.add_argument("--official-from", default=None, metavar="JSON[,JSON...]",
                    help="reuse the released weights' scores from earlier runs of this script (same sets, "
                         "sigma and noise: they are deterministic) instead of recomputing them")
    args = ap.parse_args()
    cached = read_official(args.official_from.split(",")) if args.official_from else {}
    torch.set_num_threads(1)
    names = args.names.split(",") if args.names else list(list_pretrained())
    sets = {s: load_set(s) for s in args.sets.split(",")}
    rows, cards = [], {}
    for name in names:
        ours = pretrained(name)
        every = name == "nenet" or getattr(ours, "blind", False)
        sigmas = SIGMAS if every else (int(name.split("-s")[1]),)
        # the released weights are loaded only when some score of theirs is not cached
        ref = None if all((name, sn, s) in cached for sn in sets for s in sigmas) else official_model(name)
        results = []
        for sname, images in sets.items():
            for s in sigmas:
                t = time.perf_counter()
                off = cached.get((name, sname, s))
                if name == "nenet":
                    r = {"set": sname, "sigma": s, "mae": nenet_mae(ours, images, s)}
                    if off is not None:
                        r.update(off)
                    else:
                        r["official_mae"] = nenet_mae(ref, images, s) if ref is not None else None
                else:
                    p, q = score(ours, images, s)
                    r = {"set": sname, "sigma": s, "psnr": p, "ssim": q}
                    if off is not None:
                        r.update(off, delta_db=p - off["official_psnr"])
                    elif ref is not None:
                        rp, rq = score(ref, images, s)
                        r.update(official_psnr=rp, official_ssim=rq, delta_db=p - rp)
                r["seconds"] = time.perf_counter() - t
                results.append(r)
                shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                print(name, json.dumps(shown), flush=True)
        rows.append({"name": name, "results": results})
        cards[name] = results
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.machine(), "torch": torch.__version__, "threads": 1,
            "noise": "innverse.data.testsets seeded convention", "command": " ".join(sys.argv)}
    (out / "pretrained.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    md = ["| model | set | sigma | ours | official | ours - official |", "|---|---|---|---|---|---|"]
    for row in rows:
        for r in row["results"]:
            if "psnr" in r:
                off = r.get("official_psnr")
                md.append(f"| {row['name']} | {r['set']} | {r['sigma']} | {r['psnr']:.2f} dB | "
                          + (f"{off:.2f} dB | {r['delta_db']:+.2f} dB |" if off is not None else "- | - |"))
            else:
                off = r.get("official_mae")
                md.append(f"| {row['name']} | {r['set']} | {r['sigma']} | MAE {r['mae']:.2f} | "
                          + (f"MAE {off:.2f} | {r['mae'] - off:+.2f} |" if off is not None else "- | - |"))
    (out / "pretrained.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    if not args.no_cards:
        for name, results in cards.items():
            f = weights_dir() / f"{name}.card.json"
            card = json.loads(f.read_text()) if f.is_file() else {}
            card["measured"] = {"results": results, **meta}
            key = "mae" if name == "nenet" else "psnr"  # flat summary, shown by `innverse models`
            card[key] = {}
            for r in results:
                card[key].setdefault(r["set"], {})[str(r["sigma"])] = round(r[key], 3)
            f.write_text(json.dumps(card, indent=2) + "\n")
            print(f"updated {f}")


if __name__ == "__main__":
    main()
