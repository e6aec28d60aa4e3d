"""The shipped models as the benchmarks see them (innverse.bench.methods.shipped_denoisers)."""

from __future__ import annotations

import torch

from innverse.bench.methods import shipped_denoisers
from innverse.models import NENet, WINNet, list_pretrained, registry

from .conftest import TINY


def test_shipped_denoisers_leave_out_the_estimator():
    shipped = list_pretrained()
    assert set(shipped_denoisers()) <= set(shipped)
    assert "nenet" not in shipped_denoisers()
    if "winnet-s25" in shipped:
        assert "winnet-s25" in shipped_denoisers()


def test_shipped_denoisers_read_the_kind(tmp_path, monkeypatch):
    torch.manual_seed(0)
    for name, m in (("winnet-s15", WINNet(**TINY)), ("nenet", NENet(hidden=4, layers=1))):
        m.save(tmp_path / name)
        (tmp_path / name / "model.safetensors").rename(tmp_path / f"{name}.safetensors")
        (tmp_path / name / "config.json").rename(tmp_path / f"{name}.json")
    monkeypatch.setattr(registry, "weights_dir", lambda: tmp_path)
    assert shipped_denoisers() == ["winnet-s15"]
