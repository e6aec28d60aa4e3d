"""Faithfulness, exactness and speed of innverse's WINNet/NENet with the released checkpoints.

    python benchmarks/winnet_official.py                 # everything on Set12 (about 15 min on 2 cores)
    python benchmarks/winnet_official.py --only speed    # one part: quality | nenet | exact | speed
    python benchmarks/winnet_official.py --released      # also time the released computation
    python benchmarks/winnet_official.py --released-quality   # and score it (slow)

Noise is the seeded convention of :mod:`innverse.data.testsets`.  Quality runs with
``--threads`` (default 2) threads; speed always with one thread, methods timed one after another
in this process on the same images.  Writes ``--out``/winnet_official.{json,md}.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from innverse.data.testsets import add_seeded_noise, load_set  # noqa: E402
from innverse.metrics import psnr, ssim  # noqa: E402
from innverse.models import NENet, WINNet  # noqa: E402
from innverse.models.dncnn import DnCNN  # noqa: E402
from innverse.models.winnet import count_parameters  # noqa: E402
from innverse.paths import data_path  # noqa: E402

OFFICIAL = "weights/winnet-official"


def official(name: str) -> Path:
    p = data_path(OFFICIAL, name)
    if p is None:
        sys.exit(f"missing {OFFICIAL}/{name} under the data root (set INNVERSE_DATA)")
    return p


@torch.no_grad()
def score(fn, images, sigma: float) -> dict:
    ps, ss = [], []
    for i, (_, x) in enumerate(images):
        y = add_seeded_noise(x, sigma, i)
        out = fn(y).clamp(0, 1)
        ps.append(float(psnr(out, x)))
        ss.append(float(ssim(out, x)))
    return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "per_image": [round(p, 3) for p in ps]}


def quality(images, released: bool) -> list[dict]:
    from _released_style import released_forward

    rows = []
    for sig in (15, 25, 50):
        for lvl in (1, 2):
            m = WINNet.from_official(official(f"WINNet_lvl_{lvl}_nlvl_{sig}") / "net_WINNet.pth")
            r = score(lambda y, m=m, s=sig: m(y, s / 255), images, sig)
            name = f"official K={lvl} s{sig}"
            rows.append({"model": name, "sigma": sig, "params": count_parameters(m), **r})
            print(f"  K={lvl} sigma={sig}: {r['psnr']:.3f} dB  SSIM {r['ssim']:.4f}", flush=True)
            if released and lvl == 1:
                r = score(lambda y, m=m, s=sig: released_forward(m, y, s), images, sig)
                rows.append({"model": f"released code path K=1 s{sig}", "sigma": sig, **r})
                print(f"  released path sigma={sig}: {r['psnr']:.3f} dB", flush=True)
        b = WINNet.from_official(official("WINNet_lvl_1_nlvl_0_55") / "net_WINNet.pth")
        r = score(lambda y, b=b, s=sig: b(y, s / 255), images, sig)
        rows.append({"model": "official blind [0,55] (true sigma)", "sigma": sig, **r})
        print(f"  blind sigma={sig}: {r['psnr']:.3f} dB", flush=True)
    return rows


@torch.no_grad()
def nenet_rows(images) -> list[dict]:
    n = NENet.from_official(official("NENet") / "net_NENet.pth")
    rows = []
    for sig in (5, 15, 25, 50):
        est = [float(n(add_seeded_noise(x, sig, i))) * 255 for i, (_, x) in enumerate(images)]
        mae = float(np.mean(np.abs(np.array(est) - sig)))
        rows.append({"sigma": sig, "mae_255": mae, "mean_estimate": float(np.mean(est))})
        print(f"  NENet sigma={sig}: mean estimate {np.mean(est):.2f}, MAE {mae:.3f} (0-255)", flush=True)
    return rows


@torch.no_grad()
def exactness(images) -> dict:
    m = WINNet.from_official(official("WINNet_lvl_2_nlvl_25") / "net_WINNet.pth")
    worst32 = min(float(psnr(m.synthesis(m.analysis(x, 25 / 255), 25 / 255), x)) for _, x in images)
    md = m.double()
    x = images[0][1].double()
    err64 = float((md.synthesis(md.analysis(x, 25 / 255), 25 / 255) - x).abs().max())
    print(f"  round trip K=2: worst float32 PSNR {worst32:.1f} dB, float64 max error {err64:.2e}", flush=True)
    return {"float32_worst_psnr": worst32, "float64_max_abs_error": err64}


@torch.no_grad()
def speed(images, released: bool, repeats: int) -> dict:
    from _released_style import released_forward

    torch.set_num_threads(1)
    m = WINNet.from_official(official("WINNet_lvl_1_nlvl_25") / "net_WINNet.pth")
    d = DnCNN.from_kair(data_path("weights", "dncnn-kair", "dncnn_25.pth"))
    methods = {"innverse WINNet K=1": lambda y: m(y, 25 / 255), "DnCNN (KAIR, 17 layers)": lambda y: d(y)}
    if released:
        methods["released WINNet code path"] = lambda y: released_forward(m, y, 25.0)
    times = {k: [] for k in methods}
    for i, (_, x) in enumerate(images):
        y = add_seeded_noise(x, 25, i)
        for k, f in methods.items():
            f(y[..., :32, :32])  # warm-up (allocator, kernels)
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                f(y)
                best = min(best, time.perf_counter() - t)
            times[k].append(best)
        print(f"  {images[i][0]} {tuple(x.shape[-2:])}: " +
              ", ".join(f"{k.split(' ')[0]} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    out = {k: {"mean_s": float(np.mean(v)), "per_image_s": [round(t, 3) for t in v]}
           for k, v in times.items()}
    base = out["innverse WINNet K=1"]["mean_s"]
    for k in out:
        out[k]["ratio_to_innverse"] = out[k]["mean_s"] / base
    return out


def main() -> None:
    from innverse.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="Set12")
    ap.add_argument("--only", choices=["quality", "nenet", "exact", "speed"], action="append")
    ap.add_argument("--released", action="store_true", help="also time the released computation (slow)")
    ap.add_argument("--released-quality", action="store_true",
                    help="also score the released computation (replicate-padded split; slow)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="timing repeats per image (best of)")
    ap.add_argument("--out", default="bench_out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    parts = args.only or ["quality", "nenet", "exact", "speed"]
    images = load_set(args.set)
    res: dict = {"set": args.set, "machine": platform.processor() or platform.machine(),
                 "torch": torch.__version__, "threads_quality": args.threads, "threads_speed": 1}
    if "quality" in parts:
        print("quality:")
        res["quality"] = quality(images, args.released_quality)
    if "nenet" in parts:
        print("NENet:")
        res["nenet"] = nenet_rows(images)
    if "exact" in parts:
        print("exactness:")
        res["exactness"] = exactness(images)
    if "speed" in parts:
        print("speed (1 thread):")
        res["speed"] = speed(images, args.released, args.repeats)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "winnet_official.json").write_text(json.dumps(res, indent=2) + "\n")
    md = [f"# WINNet with the released checkpoints on {args.set}", ""]
    if "quality" in res:
        md += ["| model | sigma | PSNR (dB) | SSIM |", "|---|---|---|---|"]
        md += [f"| {r['model']} | {r['sigma']} | {r['psnr']:.2f} | {r['ssim']:.4f} |" for r in res["quality"]]
        md.append("")
    if "nenet" in res:
        md += ["| sigma | NENet mean estimate | MAE (0-255) |", "|---|---|---|"]
        md += [f"| {r['sigma']} | {r['mean_estimate']:.2f} | {r['mae_255']:.3f} |" for r in res["nenet"]]
        md.append("")
    if "exactness" in res:
        e = res["exactness"]
        md += [f"Round trip (K=2): worst float32 PSNR {e['float32_worst_psnr']:.1f} dB; "
               f"float64 max error {e['float64_max_abs_error']:.1e}.", ""]
    if "speed" in res:
        md += ["| method (1 thread) | mean s/image | x innverse |", "|---|---|---|"]
        md += [f"| {k} | {v['mean_s']:.2f} | {v['ratio_to_innverse']:.2f} |" for k, v in res["speed"].items()]
    (out / "winnet_official.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
