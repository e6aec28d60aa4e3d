"""Blind denoising: sigma estimated per image, against the true sigma, over sigma = 5...145.

The paper's blind table: ``innverse benchmark blind --data Set12 --model winnet-blind --estimator
nenet``; the estimator's mean absolute error (0-255 scale) is reported beside the PSNR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from innverse.bench.evaluate import Condition, check_sizes, evaluate, min_size, sigma_label
from innverse.bench.methods import Method, count_params, identity_method, label, model_method
from innverse.bench.protocol import TestSet, add_seeded_noise
from innverse.bench.report import Report, report_header

__all__ = ["BLIND_SIGMAS", "benchmark_blind"]

#: noise levels of the paper's blind table (0-255 scale)
BLIND_SIGMAS = (5.0, 15.0, 25.0, 35.0, 45.0, 55.0, 65.0, 75.0, 95.0, 125.0, 145.0)


def benchmark_blind(
    sets: Sequence[TestSet],
    sigmas: Sequence[float],
    models: Sequence[tuple[str, Any]],
    estimator: Any,
    estimator_name: str = "nenet",
    device: torch.device | str = "cpu",
    crop_figure: bool = False,
    log: Callable[[str], Any] | None = None,
) -> Report:
    """Each model with sigma estimated per image by ``estimator`` and, as a reference, with the
    true sigma; plus the estimator's mean absolute error (0-255 scale)."""
    methods: list[Method] = [identity_method("noisy input")]
    for spec, model in models:
        for force in (True, False):
            methods.append(
                model_method(spec, model, [m.name for m in methods], estimator, estimator_name, force)
            )
    check_sizes(sets, min_size(*(m for _, m in models), estimator), "models and SSIM window")
    conds = [Condition(sigma_label(s), float(s), float(s)) for s in sigmas]
    records, crops = evaluate(
        sets,
        conds,
        methods,
        add_seeded_noise,
        device,
        0,
        "blind_crops_" if crop_figure else None,
        "noisy",
        log,
    )
    # the estimator's error, from the sigma-hat of the first estimated row (every such row sees the
    # same noisy images, so the estimates are the same)
    est_row = methods[1].name
    errors = []
    for r in records:
        if r["method"] != est_row:
            continue
        est = np.array([p["sigma_used"] for p in r["per_image"]])
        errors.append(
            {
                "dataset": r["dataset"],
                "sigma": r["value"],
                "mae": float(np.mean(np.abs(est - r["value"]))),
                "bias": float(np.mean(est - r["value"])),
                "mean_estimate": float(np.mean(est)),
                "per_image": [{"image": p["image"], "estimate": p["sigma_used"]} for p in r["per_image"]],
            }
        )
        if log:
            log(f"{r['dataset']} {r['condition']} {estimator_name}: MAE {errors[-1]['mae']:.3f} (0-255)")
    data = report_header("blind", sets, device)
    data.update(
        sigmas=[float(s) for s in sigmas],
        condition="sigma (0-255 scale)",
        estimator={
            "name": label(estimator_name),
            "spec": estimator_name,
            "params": count_params(estimator),
            "source": getattr(estimator, "source", None),
        },
        methods=[m.describe() for m in methods],
        results=records,
        estimator_error=errors,
    )
    return Report("blind", data, crops)
