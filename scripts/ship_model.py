"""Copy a finished ``innverse train`` run into the package's shipped weights, with its model card.

    python scripts/ship_model.py runs/s15 winnet-s15 --hardware "this project's 2-core CPU, 1 thread" \
        --init winnet-s25 --command "innverse train winnet ... --out runs/s15"

Writes ``src/innverse/weights/<name>.safetensors``, ``<name>.json`` (model config, inference pad)
and ``<name>.card.json`` (recipe, steps, patches seen, schedule, commands).  The measured PSNRs are
added afterwards by ``python benchmarks/pretrained_eval.py --names <name>``, which rewrites the
card's ``measured`` and ``psnr`` fields.  Refuses to replace shipped weights unless ``--force``.

A run that continued shipped weights (``--init NAME``) keeps their history: ``--previous-card``
takes the card of the weights it started from (read it before they are replaced, e.g. from
``git show HEAD:src/innverse/weights/NAME.card.json``) and the new card lists every earlier stage
under ``previous_stages``, all the commands in order, and ``patches_seen_total``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from innverse.data.io import atomic_write_bytes

WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "innverse" / "weights"


def _schedule(log: Path, steps: int, total: int, lr0: float, drop_at: float) -> str:
    """Describe the learning-rate schedule from the run's log.csv."""
    rows = list(csv.DictReader(log.open())) if log.is_file() else []
    pairs = zip(rows[1:], rows[:-1], strict=True)
    drops = [int(r["step"]) for r, prev in pairs if float(r["lr"]) < float(prev["lr"])]
    drop = drops[0] if drops else round(drop_at * total)
    return (f"Adam lr {lr0:g} for steps 0-{drop - 1}, x0.1 after (run fitted to {total} steps by "
            f"--time-limit); finished at step {steps}")


def _result(card: dict) -> str:
    """'Set12 29.94 dB, BSD68 28.84 dB at sigma 25' from a card's flat ``psnr`` summary."""
    parts = [f"{name} " + " / ".join(f"{v:.2f}" for v in by_sigma.values()) + " dB at sigma "
             + " / ".join(by_sigma) for name, by_sigma in card.get("psnr", {}).items()]
    return ", ".join(parts) or "not measured"


def _add_lineage(card: dict, prev: dict) -> None:
    """Record ``prev`` (the card of the weights this run started from) and its own earlier stages."""
    stages = list(prev.get("previous_stages", []))
    own = prev.get("commands", [])
    stages.append({
        "name": prev.get("name"),
        "hardware": prev.get("hardware"),
        "steps": prev.get("steps"),
        "batch_size": prev.get("batch_size"),
        "patches_seen": prev.get("patches_seen"),
        "schedule": prev.get("schedule"),
        "commands": own[-1:] if stages else own,
        "result": _result(prev),
    })
    card["previous_stages"] = stages
    card["commands"] = list(own) + [c for c in card["commands"] if c not in own]
    card["patches_seen_total"] = sum(int(s.get("patches_seen") or 0) for s in stages) + card["patches_seen"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the run folder (--out of innverse train)")
    ap.add_argument("name", help="shipped name, e.g. winnet-s15")
    ap.add_argument("--hardware", required=True)
    ap.add_argument("--command", action="append", default=[], help="command(s) that trained it")
    ap.add_argument("--init", help="the weights the run started from (--init)")
    ap.add_argument("--status", default="")
    ap.add_argument("--previous-card", type=Path, help="card of the --init weights (their lineage is kept)")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    prev = None
    if args.previous_card is not None:
        try:
            prev = json.loads(args.previous_card.read_text())
        except (OSError, ValueError) as e:
            print(f"ship_model: error: --previous-card {args.previous_card}: {e}", file=sys.stderr)
            return 2

    model_dir = args.run / "model"
    cfg_f, w_f = model_dir / "config.json", model_dir / "model.safetensors"
    run_card_f = model_dir / "card.json"
    for f in (cfg_f, w_f, run_card_f):
        if not f.is_file():
            print(f"ship_model: error: {f} not found (is {args.run} an innverse train run?)", file=sys.stderr)
            return 2
    dest = WEIGHTS / f"{args.name}.safetensors"
    if dest.exists() and not args.force:
        print(f"ship_model: error: {dest} exists; pass --force to replace it", file=sys.stderr)
        return 2
    cfg = json.loads(cfg_f.read_text())
    run_card = json.loads(run_card_f.read_text())
    parts = None
    if "averaged_from" in run_card:  # a weight average of runs (scripts/average_weights.py)
        parts = [(Path(m), c) for m, c in zip(run_card["averaged_from"], run_card["cards"], strict=True)]
        if any(c is None or "recipe" not in c for _, c in parts):
            print("ship_model: error: an averaged model lacks its runs' cards", file=sys.stderr)
            return 2
        run_card = parts[0][1]
    recipe, steps, total = run_card["recipe"], int(run_card["step"]), int(run_card["total_steps"])
    if "task_config" in recipe:  # the engine's card: task settings and engine settings apart
        recipe = {**recipe["task_config"], **recipe["engine"]}
    mc = cfg["config"]
    blind = recipe.get("sigma_range") is not None
    if blind:
        lo, hi = recipe["sigma_range"]
        noise = f"blind: trained with sigma ~ U[{lo:g}, {hi:g}] per batch"
    else:
        noise = f"non-blind, sigma = {recipe['sigma']:g} (0-255 scale)"
    card = {
        "name": args.name,
        "model": f"WINNet K={mc.get('levels', 1)}, {noise}",
        "trained_by": "innverse train (this project)",
        "data": (f"Train400, patches {recipe['patch_size']}x{recipe['patch_size']} at scales "
                 + "/".join(f"{s:g}" for s in recipe["scales"])
                 + f", stride {recipe['stride']}, {recipe['aug_times']} pass(es) per epoch, "
                 "8 dihedral augmentations"),
        "hardware": args.hardware,
        "steps": steps,
        "batch_size": recipe["batch_size"],
        "patches_seen": steps * recipe["batch_size"],
        "initialised_from": args.init,
        "schedule": _schedule(args.run / "log.csv", steps, total, recipe["lr"], recipe["lr_drop_at"]),
        "recipe": recipe,
        "commands": args.command,
        "status": args.status,
    }
    if parts is not None:
        runs = []
        for model_dir, c in parts:
            st, tot, rc = int(c["step"]), int(c["total_steps"]), c["recipe"]
            runs.append({"run": str(model_dir.parent), "steps": st, "batch_size": rc["batch_size"],
                         "seed": rc.get("seed"), "patches_seen": st * rc["batch_size"],
                         "schedule": _schedule(model_dir.parent / "log.csv", st, tot, rc["lr"],
                                               rc["lr_drop_at"])})
        card["steps"] = sum(r["steps"] for r in runs)
        card["patches_seen"] = sum(r["patches_seen"] for r in runs)
        card["schedule"] = (f"uniform average of the weights of {len(runs)} runs from the same "
                            "initialisation (scripts/average_weights.py); each run's schedule is under "
                            "'averaged_runs'")
        card["averaged_runs"] = runs
    if prev is not None:
        _add_lineage(card, prev)
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, w_f.read_bytes(), force=True)
    atomic_write_bytes(WEIGHTS / f"{args.name}.json", (json.dumps(cfg, indent=2) + "\n").encode(), force=True)
    card_bytes = (json.dumps(card, indent=2) + "\n").encode()
    atomic_write_bytes(WEIGHTS / f"{args.name}.card.json", card_bytes, force=True)
    print(f"shipped {args.name}: {card['steps']} steps x {recipe['batch_size']} -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
