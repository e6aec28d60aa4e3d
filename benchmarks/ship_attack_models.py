"""Ship the Fashion-MNIST classifiers of the attack tools and the AdvINN guides of the attacked one.

For each ``--run NAME=DIR`` (an ``innverse train classifier`` export): measure the accuracy on the 5,000
Fashion-MNIST test images (used by no training or selection), and write
``src/innverse/weights/NAME.{safetensors,json,card.json}`` with the card (recipe, commands, measured
accuracy).  With ``--guides NAME``, also build the HCT and UAP guides of that classifier from the
held-out tail of the training split (:func:`innverse.attacks.guides.compute_guides`) and write
``NAME.guides.safetensors``.

    python benchmarks/ship_attack_models.py --run fmnist-classifier=runs/fmnist-classifier/model \\
        --run fmnist-classifier-b=runs/fmnist-classifier-b/model --guides fmnist-classifier \\
        --commands-json benchmarks/results/attack_classifier_commands.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from innverse.attacks.base import predict
from innverse.attacks.guides import compute_guides, save_guides
from innverse.data.fashion_mnist import load_fashion_mnist
from innverse.models import load_model
from innverse.models.registry import weights_dir

ABOUT = {
    "classifier-resnet": "pre-activation ResNet (3x3 stem, stages of width {w}/{w2}/{w4}, blocks {b}, global "
    "average pooling, linear head); the attack target",
    "classifier-convnet": "plain VGG-style ConvNet ([conv3x3-ReLU x2, max-pool] x 2 at width {w}/{w2}, "
    "hidden layer of {h} units with dropout 0.3, linear head), no skips, no batch norm; transfer target and "
    "FID-local feature network of the attack benchmark",
}


def test_accuracy(net: torch.nn.Module) -> tuple[float, list[float]]:
    x, y = load_fashion_mnist("test")
    xt = torch.from_numpy(x.astype(np.float32) / np.float32(255.0))[:, None]
    pred = predict(net, xt).argmax(1).numpy()
    per_class = [float((pred[y == c] == c).mean()) for c in range(10)]
    return float((pred == y).mean()), per_class


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--guides", metavar="NAME", help="build the HCT/UAP guides of this shipped name")
    ap.add_argument(
        "--commands-json",
        metavar="FILE",
        help="JSON {name: {commands: [...], hardware: str, notes: str}} to put on the cards",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    extra = json.loads(Path(args.commands_json).read_text()) if args.commands_json else {}
    out = weights_dir()
    for spec in args.run:
        name, _, folder = spec.partition("=")
        src = Path(folder)
        net = load_model(src)
        run_card = json.loads((src / "card.json").read_text()) if (src / "card.json").is_file() else {}
        acc, per_class = test_accuracy(net)
        cfg = net.config
        w = cfg["width"]
        about = ABOUT[net.kind].format(w=w, w2=2 * w, w4=4 * w, b=cfg.get("blocks"), h=cfg.get("hidden"))
        params = sum(p.numel() for p in net.parameters())
        info = extra.get(name, {})
        card = {
            "name": name,
            "model": f"Fashion-MNIST classifier: {about}; {params:,} parameters",
            "kind": net.kind,
            "trained_for": "10-class Fashion-MNIST classification, 28x28 gray input on [0, 1], logits out",
            "trained_by": "innverse train classifier (this project)",
            "data": "Fashion-MNIST training images 0-54,999 (../shared/data/fashion-mnist), random shifts "
            "of up to 2 px and horizontal flips; images 55,000-59,999 held out for validation; the 5,000 "
            "test images used only for the accuracy below",
            "hardware": info.get(
                "hardware", "this project's 2-core x86-64 CPU (shared), one thread, float32"
            ),
            "steps": run_card.get("step"),
            "batch_size": run_card.get("recipe", {}).get("engine", {}).get("batch_size"),
            "recipe": run_card.get("recipe"),
            "commands": info.get("commands", []),
            "notes": info.get("notes", ""),
            "measured": {
                "test_accuracy": round(acc, 6),
                "test_images": 5000,
                "per_class_test_accuracy": [round(v, 4) for v in per_class],
                "validation_accuracy": info.get("validation_accuracy"),
                "command": "python benchmarks/ship_attack_models.py "
                + " ".join(f"--run {r}" for r in args.run),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        }
        from innverse.data.io import atomic_write_bytes
        from innverse.models.io import read_checkpoint

        ck = read_checkpoint(src)
        cfg = {"kind": ck.kind, "config": ck.config}
        atomic_write_bytes(out / f"{name}.safetensors", ck.weights.read_bytes(), force=True)
        atomic_write_bytes(out / f"{name}.json", (json.dumps(cfg, indent=2) + "\n").encode(), force=True)
        card_bytes = (json.dumps(card, indent=2) + "\n").encode()
        atomic_write_bytes(out / f"{name}.card.json", card_bytes, force=True)
        print(f"{name}: test accuracy {100 * acc:.2f} % -> {out / name}.*")
    if args.guides:
        t = time.perf_counter()
        g = compute_guides(load_model(args.guides))
        g.info["built_by"] = "benchmarks/ship_attack_models.py (innverse.attacks.guides.compute_guides)"
        g.info["seconds"] = round(time.perf_counter() - t, 1)
        p = save_guides(g, out / f"{args.guides}.guides.safetensors")
        print(
            f"{args.guides}: guides -> {p} ({g.info['seconds']} s); HCT probabilities "
            f"{g.info['hct_probability']}; UAP fooling rates {g.info['uap_fooling_rate']}"
        )


if __name__ == "__main__":
    main()
