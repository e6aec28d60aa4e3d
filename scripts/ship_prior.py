"""Ship the diffusion prior of an ``innverse train ddpm`` run as ``src/innverse/weights/NAME.*``.

    python scripts/ship_prior.py runs/ddpm-fmnist ddpm-fmnist \\
        --command "innverse train ddpm --out runs/ddpm-fmnist --val-every 1000 --ckpt-every 250" \\
        --hardware "this project's 2-core x86-64 CPU, 1 thread"

Copies the run's exported ``model/`` (the EMA weights, ``config.json``) to ``NAME.safetensors`` and
``NAME.json`` and writes ``NAME.card.json``: recipe, data, steps and images seen, the validation log
(x0-denoising PSNR at the task's t values, from ``log.csv``) and the commands.  Sample-quality scores
are added afterwards by ``python scripts/ship_prior.py ... --measured results/ddpm/ddpm.json`` (the
JSON of ``innverse benchmark ddpm``).  Refuses to replace shipped weights unless ``--force``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from innverse.data.io import atomic_write_bytes

WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "innverse" / "weights"


def _validation(log: Path) -> list[dict]:
    rows = list(csv.DictReader(log.open())) if log.is_file() else []
    out = []
    for r in rows:
        vals = {k: float(v) for k, v in r.items() if k.startswith("val_") and v}
        if vals:
            out.append({"step": int(r["step"]), "loss": round(float(r["loss"]), 5), **vals})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("name")
    ap.add_argument("--command", action="append", default=[], help="training command (repeat, in order)")
    ap.add_argument("--hardware", default="this project's 2-core x86-64 CPU, 1 thread, float32")
    ap.add_argument("--measured", type=Path, help="ddpm.json of innverse benchmark ddpm to add")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    model = a.run / "model"
    card_path = WEIGHTS / f"{a.name}.card.json"
    if a.measured is not None:
        if not card_path.is_file():
            sys.exit(f"ship_prior: {card_path} does not exist (ship the weights first)")
        card = json.loads(card_path.read_text())
        res = json.loads(a.measured.read_text())
        keep = ("fid_label", "fid_note", "protocol", "criterion", "classifier", "samples", "samples_ddpm",
                "seed", "test_images", "results", "options", "environment", "created")
        card["measured"] = {"benchmark": "innverse benchmark ddpm", **{k: res.get(k) for k in keep}}
        atomic_write_bytes(card_path, (json.dumps(card, indent=2) + "\n").encode(), force=True)
        print(f"ship_prior: scores added to {card_path}")
        return 0
    if not (model / "model.safetensors").is_file() or not (model / "config.json").is_file():
        sys.exit(f"ship_prior: {model} has no exported model (model.safetensors + config.json)")
    targets = [WEIGHTS / f"{a.name}.{ext}" for ext in ("safetensors", "json", "card.json")]
    if any(t.exists() for t in targets) and not a.force:
        sys.exit(f"ship_prior: {a.name} is already shipped (use --force to replace it)")
    run_card = json.loads((model / "card.json").read_text()) if (model / "card.json").is_file() else {}
    cfg = json.loads((model / "config.json").read_text())
    recipe = run_card.get("recipe", {})
    steps = int(run_card.get("step", 0))
    batch = int(recipe.get("engine", {}).get("batch_size", 0))
    card = {
        "name": a.name,
        "model": "time-conditioned UNet (innverse.diffusion.unet.UNet), epsilon prediction, EMA weights",
        "kind": cfg.get("kind"),
        "trained_for": "unconditional diffusion prior, 32x32 gray Fashion-MNIST (28x28 padded by 2), [0, 1]",
        "trained_by": "innverse train ddpm (this project)",
        "data": "Fashion-MNIST training images (../shared/data/fashion-mnist), padded 28 -> 32, random "
        "horizontal flips",
        "hardware": a.hardware,
        "steps": steps,
        "batch_size": batch,
        "images_seen": steps * batch,
        "planned_steps": run_card.get("total_steps"),
        "lineage": f"one run, checkpointed every few hundred steps and resumed with --resume; the shipped "
        f"weights are its EMA (decay {recipe.get('engine', {}).get('ema')}) at step {steps}",
        "recipe": recipe,
        "validation": _validation(a.run / "log.csv"),
        "validation_note": "val_psnr_tN: PSNR of the x0 estimate from x_t at t = N on held-out images",
        "commands": a.command,
    }
    atomic_write_bytes(targets[0], (model / "model.safetensors").read_bytes(), force=a.force)
    atomic_write_bytes(targets[1], (json.dumps(cfg, indent=2) + "\n").encode(), force=a.force)
    atomic_write_bytes(targets[2], (json.dumps(card, indent=2) + "\n").encode(), force=a.force)
    print(f"ship_prior: {a.name} <- {model} (step {steps})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
