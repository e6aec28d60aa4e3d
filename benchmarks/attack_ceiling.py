"""Is the attack benchmark's success ceiling the budget's?  Targeted attacks on the images no attack broke.

``innverse benchmark attack`` reports a *budget ceiling*: the share of images that at least one of its
attacks fools inside the L∞ ball.  This script takes the images of such a report that every attack
left standing and attacks each of them, for every other class as the target in turn, with margin-loss
PGD (:func:`innverse.attacks.pgd_margin.pgd_margin`, targeted: ``z_t - max_{j != t} z_j``) for
``--steps`` steps from the clean image and ``--restarts`` seeded random starts.  Success is scored on
the 8-bit rounding, as in the benchmark.  An image that no target breaks is evidence that the
classifier is robust at that point within the budget, which bounds every attack's success rate.

    python benchmarks/attack_ceiling.py --report benchmarks/results/attack.json \\
        --out benchmarks/results/attack_ceiling.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from innverse.attacks.base import Goal, predict, quantize
from innverse.attacks.pgd_margin import margin_loss, pgd_margin
from innverse.bench.attack import select_images
from innverse.bench.environment import environment
from innverse.bench.report import json_text, write_text
from innverse.models import pretrained


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--report", default="benchmarks/results/attack.json", help="an attack.json")
    ap.add_argument("--out", default="benchmarks/results/attack_ceiling.json", help="JSON to write")
    ap.add_argument("--steps", type=int, default=500, help="PGD steps per start (default 500)")
    ap.add_argument("--restarts", type=int, default=5, help="random restarts per target (default 5)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        rep = json.loads(Path(a.report).read_text())
        rows = rep["rows"]
        n = len(rows[0]["per_image"]["success"])
        eps = rep["protocol"]["eps_255"] / 255
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        print(f"attack_ceiling: {a.report} is not an attack benchmark report ({e})", file=sys.stderr)
        return 2
    if rep["protocol"].get("goal") != "untargeted":
        print("attack_ceiling: the report must be of an untargeted run", file=sys.stderr)
        return 2
    standing = [i for i in range(n) if not any(r["per_image"]["success"][i] for r in rows)]
    clf = pretrained(rep["classifier"]).eval()
    x, y, idx = select_images(clf, n)
    if idx.tolist() != rep["protocol"]["test_indices"]:
        print("attack_ceiling: the report's test images differ from this classifier's", file=sys.stderr)
        return 2
    xs, ys = x[standing], y[standing]
    with torch.no_grad():
        p_true = predict(clf, xs).softmax(1).gather(1, ys[:, None])[:, 0]
    broken = torch.zeros(len(standing), dtype=torch.bool)
    margins = torch.full((len(standing), 10), float("nan"))
    t0 = time.perf_counter()
    for t in range(10):
        m = ys != t
        if not bool(m.any()):
            continue
        goal = Goal(torch.full((int(m.sum()),), t), targeted=True)
        r = pgd_margin(clf, xs[m], goal, eps=eps, steps=a.steps, restarts=a.restarts, seed=t)
        with torch.no_grad():
            logits = predict(clf, quantize(r.adversarial))
        where = m.nonzero()[:, 0]
        margins[where, t] = margin_loss(logits, goal).float()
        fooled = logits.argmax(1) != ys[m]
        broken[where[fooled]] = True
        print(f"target {t}: {int(fooled.sum())} of {int(m.sum())} broken", flush=True)
    res = {
        "benchmark": "attack_ceiling",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment("cpu"),
        "report": str(a.report),
        "classifier": rep["classifier"],
        "eps_255": rep["protocol"]["eps_255"],
        "images": n,
        "standing": [
            {
                "index": i,
                "test_index": int(idx[i]),
                "label": int(ys[k]),
                "p_true": float(p_true[k]),
                "best_target_margin": float(margins[k].nan_to_num(float("-inf")).max()),
                "broken": bool(broken[k]),
            }
            for k, i in enumerate(standing)
        ],
        "attack": f"targeted margin PGD to each other class, {a.steps} steps, 1 + {a.restarts} starts, 8-bit",
        "broken": int(broken.sum()),
        "ceiling": (n - len(standing) + int(broken.sum())) / n,
        "seconds": time.perf_counter() - t0,
    }
    write_text(a.out, json_text(res))
    print(
        f"{len(standing)} images left standing by every attack of the report; {res['broken']} broken by "
        f"the targeted attacks; ceiling {100 * res['ceiling']:.1f} % of {n}; wrote {a.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
