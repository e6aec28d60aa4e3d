"""``innverse benchmark attack`` end to end on a few test images with small classifiers: the report
files, the budget, and scores that agree with the per-image records."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from conftest import require_data
from innverse.bench.attack import add_attack_arguments, run_attack_benchmark
from innverse.models.classifier import ConvNetClassifier, ResNetClassifier
from innverse.nn.testing import randomise_


@pytest.mark.data
@pytest.mark.slow
def test_benchmark_attack_small(tmp_path: Path, capsys):
    require_data("fashion-mnist")
    torch.manual_seed(0)
    a = randomise_(ResNetClassifier(width=4), std=0.2, seed=1).save(tmp_path / "a")
    b = randomise_(ConvNetClassifier(width=4, hidden=8), std=0.2, seed=2).save(tmp_path / "b")
    p = argparse.ArgumentParser()
    add_attack_arguments(p)
    args = p.parse_args(
        [
            "--out",
            str(tmp_path / "r"),
            "--classifier",
            str(a),
            "--transfer",
            str(b),
            "--limit",
            "4",
            "--batch",
            "3",
            "--steps",
            "4",
            "--check",
            "2",
            "--method",
            "fgsm",
            "--method",
            "pgd-2",
            "--method",
            "advinn-cgt",
            "--method",
            "cw",
        ]
    )
    assert run_attack_benchmark(args) == 0
    table = capsys.readouterr().out
    assert "| advinn-cgt" in table and "| pgd-2" in table and "transfer ASR" in table
    res = json.loads((tmp_path / "r" / "attack.json").read_text())
    assert (tmp_path / "r" / "attack.md").is_file() and (tmp_path / "r" / "attack.png").is_file()
    assert len(res["protocol"]["test_indices"]) == 4
    for row in res["rows"]:
        per = row["per_image"]
        assert row["linf_max"] <= 8 + 1e-3
        assert row["asr"] == pytest.approx(sum(per["success"]) / 4)
        ok = [i for i, s in enumerate(per["success"]) if s]
        if ok:
            assert row["l2"] == pytest.approx(sum(per["l2"][i] for i in ok) / len(ok), abs=1e-4)
        assert row["seconds_per_image"] > 0
    chk = res["torchattacks_check"]
    if "skipped" not in chk:
        assert chk["no_random_start"]["max_abs_diff"] < 1e-5
