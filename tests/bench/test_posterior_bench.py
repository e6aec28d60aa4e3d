"""``innverse benchmark posterior`` on tiny models: test cases, scores, the FrEIA peer, the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from innverse.bench.posterior import (
    benchmark_posterior,
    freia_cinn,
    freia_sampler,
    make_cases,
    model_sampler,
    score_sampler,
)
from innverse.errors import UserError
from innverse.models.posterior import ConditionalINN, PosteriorINN
from innverse.nn.testing import randomise_
from innverse.problems import EightModes, Kinematics


class _Exact:
    """A sampler that draws the true 8-modes posterior (scores like a perfect model)."""

    def __init__(self, p: EightModes) -> None:
        self.p = p

    def __call__(self, y: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
        return self.p.posterior_sample(y, n, g)


def test_scores_separate_a_perfect_sampler_from_a_wrong_one() -> None:
    p = EightModes()
    cases, info = make_cases(p, n=6, n_ref=300, seed=1)
    assert len(cases) == 6 and info["skipped"] == 0
    good = score_sampler(_Exact(p), p, cases, n_samples=300, calib_pairs=200, calib_samples=50)

    def shifted(y: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
        return p.posterior_sample(y, n, g) + 0.5

    bad = score_sampler(shifted, p, cases, n_samples=300, calib_pairs=200, calib_samples=50)
    assert abs(good["posterior_mmd"]) < 0.02 and bad["posterior_mmd"] > 0.3
    assert good["label_accuracy"] > 0.99 and good["resim_error"] < 0.01
    assert good["calibration_error"] < 0.1 < bad["calibration_error"]


def test_kinematics_cases_use_abc() -> None:
    k = Kinematics()
    cases, info = make_cases(k, n=2, n_ref=50, seed=2, abc_eps=0.05)
    assert len(cases) == 2 and info["draws"] > 0
    for c in cases:
        assert float((k.forward(c.ref.double()) - c.y.double()).norm(dim=-1).max()) < 0.05


@pytest.mark.slow  # importing FrEIA takes seconds
def test_freia_peer_has_our_structure_and_parameter_count() -> None:
    pytest.importorskip("FrEIA")
    torch.manual_seed(0)
    ours = ConditionalINN(4, 2, blocks=2, hidden=16, x_scale=[0.25, 0.5, 0.5, 0.5])
    peer = freia_cinn(ours)
    assert sum(p.numel() for p in peer.parameters() if p.requires_grad) == ours.num_parameters()
    # both start as the identity (zero-initialised sub-network outputs)
    x, c = torch.randn(5, 4), torch.randn(5, 2)
    with torch.no_grad():
        z, ld = peer(x, c=[c])
    assert torch.allclose(z.sort(1).values, x.sort(1).values) and float(ld.abs().max()) == 0.0
    s = freia_sampler(peer, ours)(torch.randn(3, 2), 7, torch.Generator().manual_seed(1))
    assert s.shape == (3, 7, 4) and bool(torch.isfinite(s).all())


@pytest.mark.slow
def test_benchmark_end_to_end(tmp_path: Path) -> None:
    torch.manual_seed(0)
    inn = PosteriorINN(2, 8, 2, total_dim=10, blocks=1, hidden=8, y_classes=8, problem="8modes")
    inn = randomise_(inn, 0.05)
    cinn = randomise_(ConditionalINN(2, 8, blocks=1, hidden=8, y_classes=8, problem="8modes"), 0.05)
    inn.save(tmp_path / "inn")
    cinn.save(tmp_path / "cinn")
    res = benchmark_posterior(tmp_path / "out", models=[str(tmp_path / "inn"), str(tmp_path / "cinn")],
                              observations=3, n_samples=64, plots=True, log=None)  # fmt: skip
    assert [r["model"] for r in res["rows"]] == [str(tmp_path / "inn"), str(tmp_path / "cinn")]
    for r in res["rows"]:
        assert math.isfinite(r["posterior_mmd"]) and math.isfinite(r["calibration_error"])
    saved = json.loads((tmp_path / "out" / "posterior.json").read_text())
    assert saved["problems"]["8modes"]["skipped"] == 0
    md = (tmp_path / "out" / "posterior.md").read_text()
    assert "posterior MMD" in md and "8modes" in md
    pytest.importorskip("matplotlib")
    assert (tmp_path / "out" / "posterior_8modes.png").is_file()


def test_benchmark_refuses_other_models(tmp_path: Path) -> None:
    from innverse.models.glow import Glow

    Glow(levels=1, steps=1, width=4, image_size=4).save(tmp_path / "g")
    with pytest.raises(UserError, match="not a posterior"):
        benchmark_posterior(tmp_path / "out", models=[str(tmp_path / "g")], log=None)


def test_sampler_of_a_model() -> None:
    m = ConditionalINN(4, 2, blocks=1, hidden=8)
    s = model_sampler(m)(torch.zeros(2, 2), 5, torch.Generator().manual_seed(0))
    assert s.shape == (2, 5, 4)
