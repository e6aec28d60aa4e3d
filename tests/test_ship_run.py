"""``scripts/ship_run.py``: the card of a shipped engine run (recipe, schedule, validation, lineage)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("ship_run", ROOT / "scripts" / "ship_run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(tmp: Path) -> Path:
    run = tmp / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "model.safetensors").write_bytes(b"weights")
    (run / "model" / "config.json").write_text(json.dumps({"kind": "durrnet", "config": {"features": 4}}))
    engine = {
        "batch_size": 8,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "lr_drop": 0.05,
        "warmup": 50,
        "clip": 1.0,
    }
    card = {"task": "durrnet", "step": 20, "total_steps": 20, "recipe": {"task": "durrnet", "engine": engine}}
    (run / "model" / "card.json").write_text(json.dumps(card))
    (run / "log.csv").write_text(
        "step,loss,lr,seconds,val_t_psnr\n10,0.5,0.001,3.0,\n20,0.4,0.0005,6.5,18.2\n"
    )
    return run


def test_card_and_refusals(tmp_path, capsys):
    mod = _script()
    run = _run(tmp_path)
    dest = tmp_path / "w"
    base = [str(run), "m", "--model", "M", "--trained-for", "F", "--data", "D", "--dest", str(dest)]
    assert mod.main([*base, "--command", "c1"]) == 0
    card = json.loads((dest / "m.card.json").read_text())
    assert card["steps"] == 20 and card["examples_seen"] == 160 and card["wall_seconds"] == 6.5
    assert card["validation"] == [{"step": 20, "t_psnr": 18.2}]
    assert card["schedule"].startswith("Adam lr 0.001 cosine to x0.05 with 50 warm-up steps")
    assert (dest / "m.safetensors").read_bytes() == b"weights"
    assert json.loads((dest / "m.json").read_text())["kind"] == "durrnet"
    assert mod.main(base) == 2 and "--force" in capsys.readouterr().err  # never replaced silently
    # a second stage keeps the first under previous_stages
    assert mod.main([*base[:1], "m2", *base[2:], "--previous-card", str(dest / "m.card.json")]) == 0
    card2 = json.loads((dest / "m2.card.json").read_text())
    assert [s["name"] for s in card2["previous_stages"]] == ["m"] and card2["examples_seen_total"] == 320
    assert mod.main([*base, "--force", "--measured", str(tmp_path / "missing.json")]) == 2
