"""Methods as table rows (innverse.bench.methods)."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from innverse.bench.methods import (
    BM3D_MISSING,
    baseline_method,
    count_params,
    identity_method,
    label,
    model_method,
    unique,
)
from innverse.errors import UserError


class Recorder(nn.Module):
    """A stand-in denoiser that returns its input and records the sigma it was given."""

    def __init__(self, blind: bool) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.blind = blind
        self.kind = "winnet"
        self.sigmas: list[torch.Tensor] = []

    def forward(self, y, sigma):
        self.sigmas.append(sigma)
        return y


def test_labels(tmp_path):
    assert label("winnet-s25") == "winnet-s25"
    assert unique("a", ["a", "a#2"]) == "a#3" and label("winnet-s25", ["winnet-s25"]) == "winnet-s25#2"
    (tmp_path / "run" / "model").mkdir(parents=True)
    assert label(tmp_path / "run" / "model") == "run"
    (tmp_path / "WINNet_lvl_1_nlvl_25").mkdir()
    pth = tmp_path / "WINNet_lvl_1_nlvl_25" / "net_WINNet.pth"
    pth.write_bytes(b"")
    assert label(pth) == "released WINNet_lvl_1_nlvl_25"
    assert label(tmp_path / "run") == "run"


def test_model_method_sigma_input():
    y = torch.rand(1, 1, 16, 16)
    nb = Recorder(blind=False)
    m = model_method("nb", nb, estimator=lambda t: torch.tensor([0.1]))
    out, extras = m.fn(y, 25.0, 0)  # non-blind: the true sigma even when an estimator is given
    assert torch.equal(out, y) and extras == {"sigma_used": 25.0} and m.name == "nb"
    assert nb.sigmas[-1].dtype == torch.float32 and float(nb.sigmas[-1][0]) == pytest.approx(25 / 255)
    assert m.params == 3 and m.describe()["sigma_input"] == "true sigma"
    b = Recorder(blind=True)
    est = model_method(
        "b", b, ["b (sigma: ne)"], estimator=lambda t: torch.tensor([0.1]), estimator_name="ne"
    )
    assert est.name == "b (sigma: ne)#2"
    _, extras = est.fn(y, 25.0, 0)
    assert extras["sigma_used"] == pytest.approx(25.5) and float(b.sigmas[-1][0]) == pytest.approx(0.1)
    true = model_method("b", b, estimator=lambda t: 0, force_estimate=False)
    assert true.name == "b (true sigma)" and true.fn(y, 15.0, 0)[1] == {"sigma_used": 15.0}
    with pytest.raises(ValueError, match="estimator"):
        model_method("b", b, force_estimate=True)
    assert count_params(lambda t: t) is None


def test_baselines(monkeypatch):
    y = torch.rand(1, 1, 32, 32)
    bayes = baseline_method("bayes")
    out, extras = bayes.fn(y, 25.0, 0)
    assert out.shape == y.shape and extras == {} and bayes.name == "BayesShrink (cdf97)"
    with pytest.raises(UserError, match="wiener"):
        baseline_method("wiener")
    monkeypatch.setitem(sys.modules, "bm3d", None)
    assert baseline_method("bm3d") is None and "pip install" in BM3D_MISSING
    ref = identity_method("noisy input")
    assert ref.fn(y, 25.0, 0)[0] is y and ref.kind == "reference"
