"""Average the weights of several runs of the same model ("model soup", Wortsman et al. 2022).

    python scripts/average_weights.py runs/s25cd runs/s25c/model runs/s25d/model

Runs fine-tuned from the same initialisation on different data orders usually sit in one basin,
where the average of their weights scores at least as well as either (check it: evaluate all of
them).  Every input must be an innverse model folder (``model.safetensors`` + ``config.json``) of
the same kind and configuration.  Writes ``OUT/model/`` (weights, config, and a card listing the
inputs and their run cards) and refuses to replace an existing ``OUT`` unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="output folder (the weights go to OUT/model/)")
    ap.add_argument("models", type=Path, nargs="+", help="model folders to average (two or more)")
    ap.add_argument("--force", action="store_true", help="replace OUT/model if it exists")
    args = ap.parse_args()
    if len(args.models) < 2:
        print("average_weights: error: give at least two model folders", file=sys.stderr)
        return 2
    dest = args.out / "model"
    if dest.exists() and not args.force:
        print(f"average_weights: error: {dest} exists; pass --force to replace it", file=sys.stderr)
        return 2

    import torch

    from innverse.errors import UserError
    from innverse.models.io import load_checkpoint, save_model

    try:
        models = [load_checkpoint(m) for m in args.models]
    except UserError as e:
        print(f"average_weights: error: {e}", file=sys.stderr)
        return 2
    kinds = {(m.kind, json.dumps(getattr(m, "config", {}), sort_keys=True)) for m in models}
    if len(kinds) != 1:
        print("average_weights: error: the models differ in kind or configuration", file=sys.stderr)
        return 2
    states = [m.state_dict() for m in models]
    avg = {}
    for k, v in states[0].items():
        if v.is_floating_point():
            avg[k] = torch.stack([s[k].to(torch.float64) for s in states]).mean(0).to(v.dtype)
        else:
            avg[k] = v
    out = models[0]
    out.load_state_dict(avg)
    cards = []
    for m in args.models:
        f = m / "card.json"
        cards.append(json.loads(f.read_text()) if f.is_file() else None)
    card = {"averaged_from": [str(m) for m in args.models], "cards": cards}
    save_model(out, dest, card)
    print(f"averaged {len(models)} models -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
