"""Gaussian denoising: denoisers at the true (or estimated) sigma against classical baselines.

``innverse benchmark denoise``; the README's table of every shipped denoiser against BayesShrink,
VisuShrink and BM3D on Set12 is ``innverse benchmark denoise --data Set12 --sigma 15,25,50
--baselines bayes,visu,bm3d``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from innverse.bench.evaluate import Condition, check_sizes, evaluate, min_size, sigma_label
from innverse.bench.methods import BM3D_MISSING, Method, baseline_method, identity_method, model_method
from innverse.bench.protocol import TestSet, add_seeded_noise
from innverse.bench.report import Report, report_header

__all__ = ["DENOISE_SIGMAS", "benchmark_denoise"]

#: noise levels of ``innverse benchmark denoise`` (0-255 scale)
DENOISE_SIGMAS = (15.0, 25.0, 50.0)


def benchmark_denoise(
    sets: Sequence[TestSet],
    sigmas: Sequence[float],
    models: Sequence[tuple[str, Any]],
    baselines: Sequence[str] = ("bayes", "visu"),
    estimator: Any = None,
    estimator_name: str = "nenet",
    device: torch.device | str = "cpu",
    crop_figure: bool = False,
    log: Callable[[str], Any] | None = None,
) -> Report:
    """Every ``(name, model)`` at the true sigma (blind models get the estimator's sigma-hat
    instead when ``estimator`` is given), the classical ``baselines`` and the noisy input, at each
    noise level of ``sigmas`` (0-255 scale) on the seeded noise of the protocol."""
    methods: list[Method] = [identity_method("noisy input")]
    skipped = []
    for b in baselines:
        m = baseline_method(b)
        if m is None:
            skipped.append(b)
            if log:
                log(BM3D_MISSING)
            continue
        methods.append(m)
    for spec, model in models:
        methods.append(model_method(spec, model, [m.name for m in methods], estimator, estimator_name))
    check_sizes(sets, min_size(*(m for _, m in models), estimator), "models and SSIM window")
    conds = [Condition(sigma_label(s), float(s), float(s)) for s in sigmas]
    records, crops = evaluate(
        sets, conds, methods, add_seeded_noise, device, 0, "crops_" if crop_figure else None, "noisy", log
    )
    data = report_header("denoise", sets, device)
    data.update(
        sigmas=[float(s) for s in sigmas],
        condition="sigma (0-255 scale)",
        methods=[m.describe() for m in methods],
        skipped=[{"name": b, "reason": BM3D_MISSING} for b in skipped],
        results=records,
    )
    return Report("denoise", data, crops)
