"""``innverse models``: header, every measured score, and the --sigma -> model table."""

from __future__ import annotations

import json

import pytest
import torch

from innverse.commands.models import sigma_choices
from innverse.models import NENet, WINNet

from ._helpers import cli


def _ship(tmp_path, monkeypatch, cards: dict[str, dict]):
    """Tiny models named like the shipped ones, with the given cards, as the weights folder."""
    from innverse.models import registry

    torch.manual_seed(0)
    for name, card in cards.items():
        m = (
            NENet(hidden=4, layers=1)
            if name == "nenet"
            else WINNet(
                levels=1, channels=8, blocks=1, dn_channels=8, dn_iters=1, blind=name == "winnet-blind"
            )
        )
        m.save(tmp_path / name)
        (tmp_path / name / "model.safetensors").rename(tmp_path / f"{name}.safetensors")
        (tmp_path / name / "config.json").rename(tmp_path / f"{name}.json")
        (tmp_path / f"{name}.card.json").write_text(json.dumps(card))
    monkeypatch.setattr(registry, "weights_dir", lambda: tmp_path)


def test_models_lists_shipped(capsys):
    from innverse.models import list_pretrained

    shipped = list_pretrained()
    if not shipped:
        pytest.skip("no pretrained weights shipped in this checkout")
    code, out, _ = cli(capsys, "models")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Shipped models")
    header = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["name", "kind"])
    for i, name in enumerate(shipped):
        assert lines[header + 1 + i].split()[0] == name, out
    assert "PSNR dB / SSIM" in out and "Model used by 'innverse denoise --sigma S'" in out
    code, out, _ = cli(capsys, "models", "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list(shipped)
    assert all(r["params"] > 0 for r in rows)
    if "winnet-s25" in shipped:
        s25 = {r["name"]: r for r in rows}["winnet-s25"]
        assert s25["sigma"] == 25.0
        assert any(s["low"] <= 25 <= s["high"] for s in s25["selected_for_sigma"])


def test_every_measured_score_and_header(tmp_path, capsys, monkeypatch):
    results = [
        {
            "set": "Set12",
            "sigma": 15,
            "psnr": 32.27142,
            "ssim": 0.891713,
            "official_psnr": 32.8251,
            "official_ssim": 0.90297,
        },
        {"set": "BSD68", "sigma": 15, "psnr": 31.24513, "ssim": 0.876907},
    ]
    _ship(
        tmp_path,
        monkeypatch,
        {
            "nenet": {"recipe": {"sigma_range": [0, 55]}, "mae": {"Set12": {"25": 0.271}}},
            "winnet-blind": {"recipe": {"sigma_range": [0, 55]}, "psnr": {"Set12": {"25": 29.995}}},
            "winnet-s15": {
                "recipe": {"sigma": 15.0},
                "measured": {"results": results},
                "psnr": {"Set12": {"15": 32.271}},
            },
        },
    )
    code, out, _ = cli(capsys, "models")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Shipped models")
    assert [ln.split()[:2] for ln in lines[2:6]] == [
        ["name", "kind"],
        ["nenet", "nenet"],
        ["winnet-blind", "winnet"],
        ["winnet-s15", "winnet"],
    ]
    nl = lines[3]
    assert (
        "noise estimator" in nl
        and f"{sum(p.numel() for p in NENet(hidden=4, layers=1).parameters()):,}" in nl
    )
    assert "sigma = 15" in lines[5]
    # every score: both result rows with SSIM and the released weights, and the summary entries as stored
    assert any(
        ln.split() == ["winnet-s15", "Set12", "15", "32.271", "/", "0.8917", "32.825", "/", "0.9030"]
        for ln in lines
    ), out
    assert any(ln.split() == ["winnet-s15", "BSD68", "15", "31.245", "/", "0.8769", "-"] for ln in lines), out
    assert any(ln.split()[:6] == ["winnet-blind", "Set12", "25", "29.995", "/", "-"] for ln in lines), out
    assert any(ln.split()[:5] == ["nenet", "Set12", "25", "error", "0.271"] for ln in lines), out


def test_sigma_table(tmp_path, capsys, monkeypatch):
    _ship(
        tmp_path,
        monkeypatch,
        {"winnet-blind": {"recipe": {"sigma_range": [0, 55]}}, "winnet-s15": {}, "winnet-s50": {}},
    )
    choices = sigma_choices()
    names = [c[-1] for c in choices]
    assert names == ["winnet-blind", "winnet-s15", "winnet-blind", "winnet-s50", "winnet-blind"]
    assert choices[0][:2] == (0.0, True) and choices[-1][2:4] == (255.0, True)
    for (_, _, hi, hi_in, _), (lo, lo_in, *_rest) in zip(choices, choices[1:], strict=False):
        assert hi == lo and hi_in != lo_in  # the ranges tile 0..255 without gaps or overlaps
    from innverse.solvers.denoise import default_denoiser_name

    for lo, lo_in, hi, hi_in, name in choices:  # each range agrees with the rule the commands use
        for s in (lo if lo_in else lo + 1e-3, (lo + hi) / 2, hi if hi_in else hi - 1e-3):
            assert default_denoiser_name(s) == name, (s, name)
    assert default_denoiser_name(20) == "winnet-blind"  # the case the table makes visible
    code, out, _ = cli(capsys, "models")
    assert code == 0
    lines = out.splitlines()
    start = max(i for i, ln in enumerate(lines) if ln.endswith("overrides:")) + 1
    rows = [ln for ln in lines[start:] if ln.strip()]
    assert [r.split()[-1] for r in rows[:4]] == ["winnet-blind", "winnet-s15", "winnet-blind", "winnet-s50"]
    assert rows[1].split()[:5] == ["12.5", "<=", "S", "<=", "17.5"]
    assert rows[-1].endswith("winnet-blind  (trained on sigma 0-55)")


def test_no_models(tmp_path, capsys, monkeypatch):
    from innverse.models import registry

    monkeypatch.setattr(registry, "weights_dir", lambda: tmp_path)
    code, out, _ = cli(capsys, "models")
    assert code == 0 and out.strip() == "no pretrained models shipped in this installation"
