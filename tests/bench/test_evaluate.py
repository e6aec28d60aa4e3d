"""Scoring methods over sets and conditions (innverse.bench.evaluate)."""

from __future__ import annotations

import pytest
import torch

from innverse.bench.evaluate import Condition, check_sizes, evaluate, min_size, sigma_label
from innverse.bench.methods import Method, identity_method
from innverse.bench.protocol import TestSet, add_seeded_noise
from innverse.errors import UserError
from innverse.metrics import psnr, ssim


def _set(name: str, n: int = 2, size: int = 40) -> TestSet:
    g = torch.Generator().manual_seed(5)
    return TestSet(
        name, f"/data/{name}", [(f"i{k}.png", torch.rand(1, 1, size, size, generator=g)) for k in range(n)]
    )


def test_records_and_crops():
    sets = [_set("A"), _set("B", 1)]
    halfway = Method("halfway", lambda y, c, i: ((y + sets_clean[i]) / 2, {"k": i}), "model")
    sets_clean = [x for _, x in sets[0].images]
    conds = [Condition(sigma_label(s), s, s) for s in (15.0, 50.0)]
    records, crops = evaluate(sets[:1], conds, [identity_method("noisy"), halfway], add_seeded_noise,
                              crop_figure="c_")  # fmt: skip
    assert [(r["method"], r["condition"]) for r in records] == [
        ("noisy", "sigma=15"), ("halfway", "sigma=15"), ("noisy", "sigma=50"), ("halfway", "sigma=50"),
    ]  # fmt: skip
    for r in records:
        assert r["images"] == 2 and r["dataset"] == "A" and len(r["per_image"]) == 2
    noisy = records[0]["per_image"]
    for i, (_, x) in enumerate(sets[0].images):
        y = add_seeded_noise(x, 15.0, i).clamp(0, 1)
        assert noisy[i]["psnr"] == pytest.approx(float(psnr(y, x)[0]), abs=1e-12)
        assert noisy[i]["ssim"] == pytest.approx(float(ssim(y, x)[0]), abs=1e-12)
        assert noisy[i]["seconds"] == 0.0
    assert records[1]["per_image"][1]["k"] == 1 and records[1]["psnr"] > records[0]["psnr"]
    assert [c.file for c in crops] == ["c_sigma15.png", "c_sigma50.png"]
    assert [t.split("\n")[0] for t, _ in crops[0].panels] == ["clean", "noisy", "halfway"]
    assert crops[0].panels[0][1].shape == (40, 40)


def test_border_and_sizes():
    ts = _set("A", 1, 40)
    (rec,), _ = evaluate([ts], [Condition("sigma=25", 25.0, 25.0)], [identity_method("n")], add_seeded_noise,
                         border=5)  # fmt: skip
    x = ts.images[0][1]
    y = add_seeded_noise(x, 25.0, 0).clamp(0, 1)
    assert rec["psnr"] == pytest.approx(float(psnr(y, x, crop=5)[0]), abs=1e-12)
    with pytest.raises(UserError, match="A/i0.png: image 40x40 is smaller than 64x64"):
        check_sizes([ts], 64, "model")

    class M:
        min_size = 20

    assert min_size(M(), None) == 20 and min_size() == 11
