"""Time and peak memory of the paths a user runs: the CLI on gray and colour images (σ given and
blind, tiled and whole), ``estimate_noise`` on a photo, 12-megapixel images, and the library's speed
against DnCNN.

    python benchmarks/real_paths.py                       # every row, writes results/real_paths.*
    python benchmarks/real_paths.py --rows cli_gray512_s25,cli_gray512_s25_whole
    python benchmarks/real_paths.py --skip-large          # without the 12-megapixel rows
    python benchmarks/real_paths.py --src /path/to/other/src --label before   # another source tree
    python benchmarks/real_paths.py --ab /path/to/other/src   # both trees, row by row (before/after)

Every row runs in a fresh process (``innverse.cli.main`` for the CLI rows, this script with ``--row``
for the Python rows): the time is the process's wall time, start-up included, and the memory its peak
resident set (``VmHWM``, reported by the process as it exits).  CLI rows use ``--threads`` (default 2),
the library-vs-DnCNN row one thread in a process that changes no process-wide setting.

Inputs, all with the benchmark noise (image i: ``σ/255 · randn`` from ``manual_seed(i)``, here i = 0):
Set12 ``08.png`` (512², σ 25), the centre 768×512 crop of ``photos/Garden.jpg`` and its luminance
(σ 15), the centre 2048×1536 crop of ``photos/Wood.jpg`` (σ 15), and synthetic 4000×3000 textures
(σ 25).  Results merge into ``--out``/real_paths.json under ``--label``; real_paths.md shows every label.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


# ------------------------------------------------------------------------------------------ inputs


def _noisy(clean: np.ndarray, sigma: float) -> np.ndarray:
    import torch

    g = torch.Generator().manual_seed(0)
    n = (sigma / 255.0) * torch.randn(clean.shape, generator=g, dtype=torch.float32).numpy()
    return (clean + n).astype(np.float32)


def _center(a: np.ndarray, w: int, h: int) -> np.ndarray:
    y0, x0 = (a.shape[0] - h) // 2, (a.shape[1] - w) // 2
    return np.ascontiguousarray(a[y0 : y0 + h, x0 : x0 + w])


def _texture(w: int, h: int, c: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = []
    for k in range(c):
        p = 0.5 + 0.25 * np.sin(xx / (37.0 + 9 * k)) * np.cos(yy / (23.0 + 5 * k))
        planes.append(p + 0.15 * ((xx // (97 + 13 * k) + yy // 61) % 2))
    a = np.stack(planes, axis=-1) if c > 1 else planes[0]
    return np.clip(a, 0, 1).astype(np.float32)


def make_inputs(folder: Path) -> dict[str, Path]:
    """The benchmark's input files (8-bit PNGs, and .npy for the synthetic 12-megapixel images)."""
    from innverse.data.io import read_image, write_image
    from innverse.paths import data_path

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def need(*parts: str) -> Path:
        p = data_path(*parts)
        if p is None:
            sys.exit(f"real_paths: {'/'.join(parts)} not found under the data root (set INNVERSE_DATA)")
        return p

    def save(name: str, clean: np.ndarray, sigma: float) -> None:
        path = folder / f"{name}.png"
        if not path.exists():
            write_image(path, np.clip(_noisy(clean, sigma), 0, 1), 8)
        out[name] = path

    out["gray512_clean"] = need("Set12", "08.png")
    gray512, _ = read_image(out["gray512_clean"])
    save("gray512", gray512, 25)
    garden, _ = read_image(need("photos", "Garden.jpg"))
    crop = _center(garden, 768, 512)
    save("color768", crop, 15)
    save("gray768", crop @ np.array([0.299, 0.587, 0.114], np.float32), 15)
    wood, _ = read_image(need("photos", "Wood.jpg"))
    save("photo2048", _center(wood, 2048, 1536), 15)
    for name, c in (("gray12mp", 1), ("color12mp", 3)):
        path = folder / f"{name}.npy"
        if not path.exists():
            np.save(path, _noisy(_texture(4000, 3000, c), 25))
        out[name] = path
    return out


# ------------------------------------------------------------------------------------- python rows


def _t() -> float:
    return time.perf_counter()


def row_estimate_photo(args: argparse.Namespace) -> dict:
    """estimate_noise on the 2048×1536 colour photo, then one WINNet pass (σ given) on it."""
    import innverse
    from innverse.data.io import read_image

    img, _ = read_image(args.input)
    t = _t()
    s = innverse.estimate_noise(img)
    est = _t() - t
    res = {"estimate_s": est, "sigma_hat": float(s)}
    if args.with_denoise:
        t = _t()
        innverse.denoise(img, 15, model="winnet-blind")
        res["denoise_s"] = _t() - t
        res["nenet_over_winnet"] = est / res["denoise_s"]
    return res


def row_large(args: argparse.Namespace) -> dict:
    """innverse.denoise (σ given or blind) or estimate_noise on a 12-megapixel array."""
    import innverse

    a = np.load(args.input)
    t = _t()
    if args.mode == "estimate":
        r = innverse.estimate_noise(a)
        info = {"sigma_hat": float(r)}
    else:
        _, meta = innverse.denoise(a, None if args.mode == "blind" else 25.0, return_info=True)
        info = {"sigma": meta["sigma"][0]}
    return {"call_s": _t() - t, **info}


def row_library_vs_dncnn(args: argparse.Namespace) -> dict:
    """innverse.denoise(y, 25) against DnCNN (KAIR σ=25) on Set12, one thread, alternating per image,
    in a process that changes no process-wide setting; plus WINNet.forward on whole images."""
    import torch

    import innverse
    from innverse.bench.protocol import load_images, seeded_noise
    from innverse.models import load_model
    from innverse.models.dncnn import DnCNN
    from innverse.paths import data_path

    torch.set_num_threads(1)
    kair = data_path("weights", "dncnn-kair", "dncnn_25.pth")
    if kair is None:
        return {"skipped": "weights/dncnn-kair/dncnn_25.pth not under the data root"}
    dncnn = DnCNN.from_kair(kair)
    winnet = load_model("winnet-s25")
    imgs = [(name, x + seeded_noise(x.shape, 25, i)) for i, (name, x) in enumerate(load_images("Set12"))]
    tot = {"innverse.denoise": 0.0, "dncnn": 0.0, "winnet_forward_whole": 0.0}
    with torch.no_grad():
        innverse.denoise(imgs[0][1][..., :64, :64], 25)  # warm-up (model load, first-call costs)
        dncnn(imgs[0][1][..., :64, :64])
        for _ in range(args.rounds):
            for _, y in imgs:
                t = _t()
                innverse.denoise(y, 25)
                tot["innverse.denoise"] += _t() - t
                t = _t()
                dncnn(y)
                tot["dncnn"] += _t() - t
                t = _t()
                winnet(y, 25 / 255)
                tot["winnet_forward_whole"] += _t() - t
    n = args.rounds * len(imgs)
    per = {k: v / n for k, v in tot.items()}
    return {
        "s_per_image": per,
        "ratio_library_over_dncnn": per["innverse.denoise"] / per["dncnn"],
        "ratio_whole_forward_over_dncnn": per["winnet_forward_whole"] / per["dncnn"],
    }


PY_ROWS = {"estimate_photo": row_estimate_photo, "large": row_large, "library_vs_dncnn": row_library_vs_dncnn}


# -------------------------------------------------------------------------------------------- driver


def peak_rss_mb() -> float:
    """This process's peak resident set since it started (``VmHWM``; ``ru_maxrss`` of a child also
    counts the parent's memory at fork time on Linux, so it is not used)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _report_peak() -> None:
    print(f"PEAK_RSS_MB {peak_rss_mb():.1f}", file=sys.stderr, flush=True)


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code, stdout+stderr) of one fresh process.

    The CPU time (user + system, all threads) is the steadier number on a shared machine."""
    with tempfile.TemporaryFile(mode="w+") as log:
        t = _t()
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        wall = _t() - t
        p.returncode = code = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read()
    peaks = [float(x.split()[1]) for x in text.splitlines() if x.startswith("PEAK_RSS_MB ")]
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, (peaks[-1] if peaks else float("nan")), code, text


def name_ok(rows: dict, name: str) -> bool:
    return name in rows and rows[name].get("exit_code") == 0


def psnr_files(a: Path, b: Path) -> float:
    """PSNR (dB) of image file ``a`` against ``b``."""
    from innverse.data.io import read_image

    x, _ = read_image(a)
    y, _ = read_image(b)
    return float(10 * np.log10(1.0 / max(np.mean((x - y) ** 2), 1e-20)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--label", default="after", help="name of this run in the results (e.g. before/after)")
    ap.add_argument("--src", help="source tree (its src/ folder) to benchmark instead of this checkout")
    ap.add_argument("--ab", metavar="SRC", help="also run every row on this other src/ tree, alternating")
    ap.add_argument("--ab-label", default="before", help="label of the --ab tree (default: before)")
    ap.add_argument("--threads", type=int, default=2, help="threads of the CLI and large rows")
    ap.add_argument("--rows", help="comma-separated row names (default: all)")
    ap.add_argument("--skip-large", action="store_true", help="leave out the 12-megapixel rows")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "innverse_real_paths"))
    ap.add_argument("--rounds", type=int, default=1, help="rounds over Set12 in library_vs_dncnn")
    ap.add_argument("--report", action="store_true", help="only rewrite the tables from real_paths.json")
    ap.add_argument("--repeat", type=int, default=1, help="runs per row (and tree); the fastest is kept")
    # internal: one Python row in this process
    ap.add_argument("--row", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--with-denoise", action="store_true", help=argparse.SUPPRESS)
    argv = sys.argv[1:]
    cli_args: list[str] = []
    if "--" in argv:
        argv, cli_args = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = ap.parse_args(argv)
    args.cli_args = cli_args

    if args.report:
        results_file = Path(args.out) / "real_paths.json"
        store = json.loads(results_file.read_text())
        for run in store.values():
            derive(run)
        results_file.write_text(json.dumps(store, indent=2) + "\n")
        (Path(args.out) / "real_paths.md").write_text(markdown(store) + "\n")
        print(markdown(store))
        return
    if args.row:
        import atexit

        atexit.register(_report_peak)
        if args.row == "cli":  # the innverse command itself, in this process
            from innverse.cli import main as cli_main

            sys.exit(cli_main(args.cli_args))
        import torch

        torch.set_num_threads(args.threads)
        print("RESULT " + json.dumps(PY_ROWS[args.row](args)))
        return

    trees = [(args.label, Path(args.src).resolve() if args.src else SRC)]
    if args.ab:  # each row first on the other tree, then on this checkout, alternating
        trees = [(args.ab_label, Path(args.ab).resolve()), (args.label, SRC)]
    from innverse.paths import data_root

    root = data_root()
    work = Path(args.work)
    inputs = make_inputs(work / "inputs")
    th = ["--threads", str(args.threads)]
    me = [sys.executable, str(Path(__file__).resolve())]

    def rows_for(outdir: Path) -> dict[str, tuple[str, list[str]]]:
        cli = [*me, "--row", "cli", "--", "denoise"]  # ``innverse denoise ...`` with a peak-memory report

        def cli_row(inp: str, name: str, *extra: str) -> list[str]:
            return [*cli, str(inputs[inp]), "-o", str(outdir / f"{name}.png"), "--force", "-q", *th, *extra]

        rows = {
            "cli_gray512_s25": ("512² gray --sigma 25", cli_row("gray512", "g512_s25", "--sigma", "25")),
            "cli_gray512_s25_whole": (
                "512² gray --sigma 25 --tile 0",
                cli_row("gray512", "g512_s25_whole", "--sigma", "25", "--tile", "0"),
            ),
            "cli_gray512_blind": ("512² gray blind", cli_row("gray512", "g512_blind")),
            "cli_gray768_s15": ("768×512 gray --sigma 15", cli_row("gray768", "g768_s15", "--sigma", "15")),
            "cli_color768_s15": (
                "768×512 colour --sigma 15",
                cli_row("color768", "c768_s15", "--sigma", "15"),
            ),
            "cli_color768_blind": ("768×512 colour blind", cli_row("color768", "c768_blind")),
            "py_estimate_photo2048": (
                "estimate_noise, 2048×1536 colour photo (Python)",
                [*me, "--row", "estimate_photo", "--input", str(inputs["photo2048"]), *th, "--with-denoise"],
            ),
            "library_vs_dncnn": (
                "innverse.denoise(y, 25) vs DnCNN, Set12, 1 thread, no process setting",
                [*me, "--row", "library_vs_dncnn", "--threads", "1", "--rounds", str(args.rounds)],
            ),
        }
        for mode in ("sigma", "blind", "estimate"):
            for kind in ("gray", "color"):
                if mode == "estimate" and kind == "gray":
                    continue
                what = {"sigma": "σ 25", "blind": "blind", "estimate": "estimate_noise"}[mode]
                rows[f"large_{kind}_{mode}"] = (
                    f"4000×3000 {'colour' if kind == 'color' else 'gray'} {what} (Python)",
                    [*me, "--row", "large", "--input", str(inputs[f"{kind}12mp"]), "--mode", mode, *th],
                )
        return rows

    names = list(rows_for(work))
    chosen = names if not args.rows else [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in chosen if r not in names]
    if unknown:
        sys.exit(f"real_paths: unknown rows {', '.join(unknown)} (choose from {', '.join(names)})")
    if args.skip_large:
        chosen = [r for r in chosen if not r.startswith("large_")]

    results_file = Path(args.out) / "real_paths.json"
    store = json.loads(results_file.read_text()) if results_file.exists() else {}
    plans = []
    for label, src in trees:
        env = dict(os.environ, PYTHONPATH=str(src))
        env.pop("INNVERSE_TUNE_ALLOCATOR", None)
        if root is not None:  # another source tree finds the data the same way
            env.setdefault("INNVERSE_DATA", str(root))
        outdir = work / f"out_{label}"
        outdir.mkdir(parents=True, exist_ok=True)
        run = store.setdefault(label, {"rows": {}})
        run["environment"] = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()),
            "threads": args.threads,
            "src": str(src),
            "date": time.strftime("%Y-%m-%d %H:%M"),
        }
        plans.append((label, env, outdir, run, rows_for(outdir)))
    for name in chosen:
        for rep in range(args.repeat):
            for label, env, _, run, rows in plans:
                title, cmd = rows[name]
                load = os.getloadavg()[0]
                wall, cpu, rss, code, text = run_child(cmd, env)
                sample: dict = {"seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": rss, "load": load}
                for line in text.splitlines():
                    if line.startswith("RESULT "):
                        sample.update(json.loads(line[len("RESULT ") :]))
                prev = run["rows"].get(name) if rep else None
                samples = (prev or {}).get("samples", []) + [sample]
                # the fastest repetition (wall and CPU separately); the largest peak memory
                entry: dict = dict(min(samples, key=lambda e: e["seconds"]))
                entry.update(title=title, exit_code=code, samples=samples)
                entry["cpu_seconds"] = min(e["cpu_seconds"] for e in samples)
                entry["peak_rss_mb"] = max(e["peak_rss_mb"] for e in samples)
                if code != 0:
                    said = [ln for ln in text.strip().splitlines() if not ln.startswith("PEAK_RSS_MB ")]
                    entry["error"] = said[-1] if said else f"exit code {code}"
                    print(text[-2000:], file=sys.stderr)
                run["rows"][name] = entry
                msg = f"{label:>7} {title:<58} {wall:6.1f} s  CPU {cpu:6.1f} s  {rss:5.0f} MB"
                msg += f" (load {load:.1f})"
                print(msg + (f"  FAILED: {entry['error']}" if code else ""), flush=True)
                results_file.parent.mkdir(parents=True, exist_ok=True)
                results_file.write_text(json.dumps(store, indent=2) + "\n")
    for _, _, outdir, run, _ in plans:
        r = run["rows"]
        a, b = outdir / "g512_s25.png", outdir / "g512_s25_whole.png"
        both = name_ok(r, "cli_gray512_s25") and name_ok(r, "cli_gray512_s25_whole")
        if both and a.exists() and b.exists():
            ref = inputs["gray512_clean"]
            run["tiled_minus_whole_db"] = psnr_files(a, ref) - psnr_files(b, ref)
        derive(run)
    results_file.write_text(json.dumps(store, indent=2) + "\n")
    (Path(args.out) / "real_paths.md").write_text(markdown(store) + "\n")
    print(markdown({label: store[label] for label, *_ in plans}))


def derive(run: dict) -> None:
    """The ratios the targets are stated in."""
    r = run["rows"]
    d: dict[str, float] = {}

    def sec(name: str, key: str) -> float | None:
        e = r.get(name)
        return e.get(key) if e and e.get("exit_code") == 0 else None

    pairs = {
        "tiling cost (tiled / whole, 512² σ 25)": ("cli_gray512_s25", "cli_gray512_s25_whole"),
        "colour / gray (768×512 σ 15)": ("cli_color768_s15", "cli_gray768_s15"),
    }
    for key, (a, b) in pairs.items():
        for what, field in (("wall", "seconds"), ("CPU", "cpu_seconds")):
            x, y = sec(a, field), sec(b, field)
            if x and y:
                d[f"{key}, {what}"] = x / y
    e = r.get("py_estimate_photo2048", {})
    if "nenet_over_winnet" in e:
        d["NENet / WINNet pass (2048×1536 colour)"] = e["nenet_over_winnet"]
    e = r.get("library_vs_dncnn", {})
    if "ratio_library_over_dncnn" in e:
        d["innverse.denoise / DnCNN (Set12, 1 thread)"] = e["ratio_library_over_dncnn"]
        d["WINNet.forward whole image / DnCNN"] = e["ratio_whole_forward_over_dncnn"]
    mem = [e["peak_rss_mb"] for k, e in r.items() if k.startswith("large_") and e.get("exit_code") == 0]
    if mem:
        d["max peak memory at 12 MP (MB)"] = max(mem)
    run["derived"] = d


def markdown(store: dict) -> str:
    labels = list(store)
    names: list[str] = []
    for lab in labels:
        names += [n for n in store[lab]["rows"] if n not in names]
    head = "| path | " + " | ".join(f"{lab}: time | {lab}: peak memory" for lab in labels) + " |"
    lines = [head, "|---|" + "---|---|" * len(labels)]
    for n in names:
        title = next(store[lab]["rows"][n]["title"] for lab in labels if n in store[lab]["rows"])
        cells = []
        for lab in labels:
            e = store[lab]["rows"].get(n)
            if e is None:
                cells += ["", ""]
            elif e.get("exit_code"):
                cells += ["failed", ""]
            else:
                extra = ""
                if "estimate_s" in e:
                    extra = f" (call {e['estimate_s']:.1f} s)"
                if "call_s" in e:
                    extra = f" (call {e['call_s']:.1f} s)"
                if "s_per_image" in e:
                    extra = f" ({e['ratio_library_over_dncnn']:.2f}× DnCNN)"
                cpu = f", CPU {e['cpu_seconds']:.1f} s" if "cpu_seconds" in e else ""
                cells += [f"{e['seconds']:.1f} s{cpu}{extra}", f"{e['peak_rss_mb']:.0f} MB"]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    for lab in labels:
        d = store[lab].get("derived", {})
        if d:
            lines += ["", f"{lab}: " + "; ".join(f"{k} = {v:.3g}" for k, v in d.items())]
        if "tiled_minus_whole_db" in store[lab]:
            lines.append(
                f"{lab}: 512² σ 25 output PSNR, tiled minus whole image: "
                f"{store[lab]['tiled_minus_whole_db']:+.4f} dB"
            )
        env = store[lab].get("environment", {})
        if env:
            lines.append(
                f"{lab}: {env.get('date')}, {env.get('cpus')} CPUs, load average at start "
                f"{env.get('load_average_at_start', [0])[0]:.1f}, {env.get('threads')} threads (CLI rows)"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
