"""Ship the export of any ``innverse train TASK`` run as ``src/innverse/weights/NAME.*``, with its card.

    python scripts/ship_run.py runs/dr-durrnet durrnet-lite \\
        --model "DURRNet-lite: ..." --trained-for "single-image reflection removal" \\
        --data "random 64x64 crops of ..." --losses "|T^-T|^2 + ..." \\
        --command "OMP_NUM_THREADS=1 innverse train durrnet --model durrnet --out runs/dr-durrnet ..." \\
        --measured bench/dereflect/dereflect.json

Copies ``RUN/model/model.safetensors`` and ``config.json`` to ``NAME.safetensors`` and ``NAME.json``
and writes ``NAME.card.json``: what the model is, its data and losses, the hardware, steps, batch and
examples seen, wall-clock seconds and the schedule (from the run's card and ``log.csv``), the recipe,
the commands, every validation row of ``log.csv``, and (``--measured``) the JSON of the benchmark
that scored it.  A run that started from other weights (``--init``) keeps their history:
``--previous-card`` (repeatable, oldest first) puts the earlier cards under ``previous_stages``.
Refuses to replace shipped weights unless ``--force``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from innverse.data.io import atomic_write_bytes

WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "innverse" / "weights"
#: log.csv columns that are not validation scores
_TRAIN_COLUMNS = {"step", "loss", "lr", "seconds"}


def _log(run: Path) -> list[dict[str, str]]:
    f = run / "log.csv"
    return list(csv.DictReader(f.open())) if f.is_file() else []


def _validation(rows: list[dict[str, str]]) -> list[dict[str, float]]:
    """The rows of ``log.csv`` that carry validation scores (``val_*`` columns)."""
    out = []
    for r in rows:
        scores = {k[4:]: float(v) for k, v in r.items() if k.startswith("val_") and v not in ("", None)}
        if scores:
            out.append({"step": int(r["step"]), **scores})
    return out


def _read_json(path: Path, option: str) -> dict:
    """The JSON file given to ``option``; ValueError naming both when it cannot be read."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{option} {path}: {e}") from None


def _schedule(engine: dict) -> str:
    kind = engine.get("lr_schedule", "constant")
    text = f"Adam lr {engine['lr']:g}"
    if kind == "cosine":
        text += f" cosine to x{engine.get('lr_drop', 0):g}"
    elif kind == "step":
        text += f", x{engine.get('lr_drop', 0.1):g} at {100 * engine.get('lr_drop_at', 0.6):.0f} % of the run"
    else:
        text += " constant"
    if engine.get("warmup"):
        text += f" with {engine['warmup']} warm-up steps"
    if engine.get("clip"):
        text += f", gradient-norm clip {engine['clip']:g}"
    if engine.get("ema"):
        text += f", EMA {engine['ema']:g} (exported)"
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the run folder (--out of innverse train)")
    ap.add_argument("name", help="shipped name, e.g. durrnet-lite")
    ap.add_argument("--model", required=True, help="what the model is (one sentence)")
    ap.add_argument("--trained-for", required=True)
    ap.add_argument("--data", required=True, help="the training data")
    ap.add_argument("--losses", default="", help="the training loss")
    ap.add_argument("--hardware", default="this project's 2-core x86-64 CPU (AMD EPYC), one thread, float32")
    ap.add_argument("--command", action="append", default=[], help="command(s) that trained it")
    ap.add_argument("--selection", default="", help="why these weights were chosen")
    ap.add_argument("--status", default="")
    ap.add_argument("--measured", type=Path, help="JSON of the benchmark that scored the model")
    ap.add_argument(
        "--previous-card",
        type=Path,
        action="append",
        default=[],
        help="card of the weights this run was initialised from (--init), repeat in order for a chain; "
        "their stages are kept under previous_stages",
    )
    ap.add_argument(
        "--dest", type=Path, default=WEIGHTS, help="folder to write into (default: the package's)"
    )
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)

    model_dir = args.run / "model"
    files = [model_dir / n for n in ("config.json", "model.safetensors", "card.json")]
    for f in files:
        if not f.is_file():
            print(f"ship_run: error: {f} not found (is {args.run} an innverse train run?)", file=sys.stderr)
            return 2
    dest = args.dest / f"{args.name}.safetensors"
    if dest.exists() and not args.force:
        print(f"ship_run: error: {dest} exists; pass --force to replace it", file=sys.stderr)
        return 2
    try:
        measured = None if args.measured is None else _read_json(args.measured, "--measured")
        earlier = [_read_json(f, "--previous-card") for f in args.previous_card]
    except ValueError as e:
        print(f"ship_run: error: {e}", file=sys.stderr)
        return 2
    previous = []
    for prev in earlier:
        previous += prev.pop("previous_stages", [])
        prev.pop("measured", None)  # the earlier stage's scores belong to its own weights
        previous.append(prev)
    cfg = json.loads(files[0].read_text())
    run_card = json.loads(files[2].read_text())
    recipe = run_card["recipe"]
    engine = recipe["engine"]
    rows = _log(args.run)
    steps = int(run_card["step"])
    card = {
        "name": args.name,
        "kind": cfg.get("kind"),
        "model": args.model,
        "trained_by": f"innverse train {run_card.get('task', recipe.get('task'))} (this project)",
        "trained_for": args.trained_for,
        "data": args.data,
        "hardware": args.hardware,
        "steps": steps,
        "total_steps": int(run_card.get("total_steps", steps)),
        "batch_size": engine["batch_size"],
        "examples_seen": steps * int(engine["batch_size"]),
        "wall_seconds": float(rows[-1]["seconds"]) if rows and rows[-1].get("seconds") else None,
        "schedule": _schedule(engine),
        "losses": args.losses,
        "recipe": recipe,
        "commands": args.command,
        "validation": _validation(rows),
        "selection": args.selection,
        "status": args.status,
    }
    if previous:
        card["previous_stages"] = previous
        card["examples_seen_total"] = card["examples_seen"] + sum(
            int(p.get("examples_seen") or p.get("images_seen") or 0) for p in previous
        )
    if measured is not None:
        card["measured"] = measured
    args.dest.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, files[1].read_bytes(), force=True)
    atomic_write_bytes(
        args.dest / f"{args.name}.json", (json.dumps(cfg, indent=2) + "\n").encode(), force=True
    )
    atomic_write_bytes(
        args.dest / f"{args.name}.card.json", (json.dumps(card, indent=2) + "\n").encode(), force=True
    )
    print(f"shipped {args.name}: {steps} steps x {engine['batch_size']} -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
