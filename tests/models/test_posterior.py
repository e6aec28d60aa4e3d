"""Posterior INN and cINN: exact bijections with the autograd log-det, the observation encoding, the
cINN density by hand, sampling shapes, save/load; the training task's batches, losses and validation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from innverse.errors import UserError
from innverse.models import load_model
from innverse.models.posterior import ConditionalINN, PosteriorINN
from innverse.nn.testing import assert_invertible, jacobian_logdet, randomise_


def _inn(**kw) -> PosteriorINN:
    torch.manual_seed(0)
    cfg = dict(x_dim=2, y_dim=8, z_dim=2, total_dim=10, blocks=2, hidden=16, y_classes=8)
    cfg.update(kw)
    return randomise_(PosteriorINN(**cfg).double(), 0.2, seed=1).eval()


def _cinn(**kw) -> ConditionalINN:
    torch.manual_seed(0)
    cfg = dict(x_dim=4, y_dim=2, blocks=2, hidden=16, x_scale=[0.25, 0.5, 0.5, 0.5], y_shift=[1.5, 0.0])
    cfg.update(kw)
    return randomise_(ConditionalINN(**cfg).double(), 0.2, seed=1).eval()


def test_inn_bijection_and_logdet() -> None:
    m = _inn()
    v = torch.randn(3, 10, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert assert_invertible(m, v, 1e-12) <= 1e-12
    out, ld = m(v)
    torch.testing.assert_close(ld, jacobian_logdet(m, v), atol=1e-9, rtol=0)
    assert float(ld.abs().min()) > 1e-3
    assert not out.requires_grad  # eval mode records no graph


def test_cinn_bijection_logdet_and_conditioning() -> None:
    m = _cinn()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 4, generator=g, dtype=torch.float64)
    y = torch.randn(3, 2, generator=g, dtype=torch.float64)
    assert assert_invertible(m, x, 1e-12, cond=y) <= 1e-12
    torch.testing.assert_close(m(x, cond=y)[1], jacobian_logdet(m, x, cond=y), atol=1e-9, rtol=0)
    assert float((m(x, cond=y)[0] - m(x, cond=y + 1)[0]).abs().max()) > 1e-3
    with pytest.raises(UserError, match="cond="):
        m(x)


def test_fresh_cinn_density_by_hand() -> None:
    """A fresh cINN is the identity on standardised x (zero-initialised sub-networks, permutations),
    so log p(x | y) = log N((x - shift) / scale) - sum(log scale)."""
    scale = [0.25, 0.5, 0.5, 0.5]
    m = ConditionalINN(4, 2, blocks=2, hidden=8, x_shift=[0.1, 0, 0, 0], x_scale=scale).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    y = torch.randn(5, 2, dtype=torch.float64)
    s = torch.tensor([0.25, 0.5, 0.5, 0.5], dtype=torch.float64)
    z = (x - torch.tensor([0.1, 0, 0, 0], dtype=torch.float64)) / s
    want = -0.5 * (z**2).sum(1) - 2 * math.log(2 * math.pi) - torch.log(s).sum()
    torch.testing.assert_close(m.log_prob(x, y), want, atol=1e-12, rtol=0)


def test_sampling_shapes_and_label_encoding() -> None:
    inn = _inn().float()
    g = torch.Generator().manual_seed(4)
    s = inn.sample(torch.tensor([0, 3]), 7, generator=g)
    assert s.shape == (2, 7, 2) and bool(torch.isfinite(s).all()) and not s.requires_grad
    # integer labels and their one-hot vectors give the same samples for the same seed
    s1 = inn.sample(torch.tensor([1]), 5, generator=torch.Generator().manual_seed(5))
    s2 = inn.sample(torch.nn.functional.one_hot(torch.tensor([1]), 8).float(), 5,
                    generator=torch.Generator().manual_seed(5))  # fmt: skip
    assert torch.equal(s1, s2)
    assert inn.predict(torch.zeros(3, 2)).shape == (3, 8)
    cinn = _cinn().float()
    s = cinn.sample(torch.tensor([[1.0, 0.5], [2.0, -0.5]]), 6, generator=g)
    assert s.shape == (2, 6, 4) and bool(torch.isfinite(s).all())
    with pytest.raises(UserError, match="labels must be in"):
        inn.sample(torch.tensor([9]), 2)
    with pytest.raises(UserError, match=r"\(B, 2\)"):
        cinn.sample(torch.zeros(3), 2)
    with pytest.raises(UserError, match="non-finite"):
        cinn.sample(torch.tensor([[float("nan"), 0.0]]), 2)


def test_zero_temperature_collapses_the_posterior() -> None:
    cinn = _cinn().float()
    s = cinn.sample(torch.tensor([[1.0, 0.5]]), 4, temperature=0.0)
    assert float((s - s[:, :1]).abs().max()) == 0.0


def test_config_errors() -> None:
    with pytest.raises(UserError, match="total_dim"):
        PosteriorINN(4, 2, 3, total_dim=4)
    with pytest.raises(UserError, match="x_scale must hold 4"):
        ConditionalINN(4, 2, x_scale=[1.0, 2.0])
    with pytest.raises(UserError, match="positive"):
        ConditionalINN(4, 2, x_scale=[1.0, 2.0, 0.0, 1.0])


@pytest.mark.parametrize("maker", [_inn, _cinn])
def test_save_and_load(maker, tmp_path: Path) -> None:
    m = maker().float()
    m.save(tmp_path / "m")
    r = load_model(tmp_path / "m")
    assert type(r) is type(m) and r.config == m.config
    y = torch.tensor([0, 1]) if isinstance(m, PosteriorINN) else torch.tensor([[1.0, 0.0], [1.5, 0.5]])
    a = m.sample(y, 3, generator=torch.Generator().manual_seed(6))
    b = r.sample(y, 3, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b)


# ---------------------------------------------------------------------------------------------- the task
def _task(problem: str, model: str, **kw):
    from innverse.train.tasks.posterior import PosteriorTask, PosteriorTrainConfig

    cfg = PosteriorTrainConfig(problem=problem, model=model, train_size=4000, hidden=16, **kw)
    t = PosteriorTask(cfg, seed=1)
    t.check()
    t.prepare(0, 1)
    torch.manual_seed(0)
    return t, t.build_model()


CASES = [("8modes", "inn"), ("8modes", "cinn"), ("kinematics", "cinn")]


@pytest.mark.parametrize(("problem", "model"), CASES)
def test_task_batches_losses_and_training(problem: str, model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import innverse.train.tasks.posterior as tp

    monkeypatch.setattr(tp, "VAL_OBS", 2)
    monkeypatch.setattr(tp, "VAL_SAMPLES", 100)
    t, m = _task(problem, model)
    b1, b2 = t.batch(3, 64, (0, 1)), t.batch(3, 64, (0, 1))
    assert all(torch.equal(b1[k], b2[k]) for k in b1)
    assert not torch.equal(b1["x"], t.batch(4, 64, (0, 1))["x"])
    halves = [t.batch(3, 64, (r, 2)) for r in (0, 1)]
    assert all(torch.equal(torch.cat([h[k] for h in halves]), b1[k]) for k in b1)
    m.train()
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    losses = []
    for step in range(20):
        loss, parts = t.loss(m, t.batch(step, 64, (0, 1)), step)
        assert set(parts) == set(t.log_fields)
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    m.eval()
    scores = t.validate(m, torch.device("cpu"))
    assert set(scores) == set(t.val_fields) and all(math.isfinite(v) for v in scores.values())


def test_task_model_configuration() -> None:
    t, m = _task("kinematics", "inn")
    assert isinstance(m, PosteriorINN) and m.total_dim == 8 and m.z_dim == 2
    assert m.config["x_scale"] == [0.25, 0.5, 0.5, 0.5]
    assert abs(m.config["y_shift"][0] - 1.52) < 0.05 and abs(m.config["y_scale"][1] - 1.05) < 0.05
    t, m = _task("8modes", "cinn")
    assert isinstance(m, ConditionalINN) and m.config["y_classes"] == 8 and m.config["x_scale"] == [1.0, 1.0]
    with pytest.raises(UserError, match="total-dim"):
        _task("8modes", "inn", total_dim=9)


def test_resimulation_error() -> None:
    from innverse.problems import EightModes, Kinematics
    from innverse.train.tasks.posterior import resimulation_error

    k = Kinematics()
    x = k.sample_prior(6, torch.Generator().manual_seed(7))
    y = k.forward(x)
    assert resimulation_error(k, x[:, None, :].expand(6, 3, 4), y) < 1e-6
    assert resimulation_error(k, x.flip(0)[:, None, :], y) > 0.1
    p = EightModes()
    centres = p.centres.float()[None]  # every mode, for label 0: the first four are right
    err = resimulation_error(p, centres, torch.tensor([0]))
    assert abs(err - 0.5 * math.sqrt(2)) < 1e-6  # half the samples are wrong by one full label swap


# ------------------------------------------------------------------------------------ the shipped models
@pytest.mark.parametrize("name", ["inn-8modes", "cinn-8modes", "inn-kinematics", "cinn-kinematics"])
def test_shipped_posterior_models(name: str) -> None:
    """``pretrained(name).sample(y, n)`` returns (B, n, x_dim) posterior samples that re-simulate."""
    from innverse.models import pretrained
    from innverse.problems import EightModes, Kinematics

    m = pretrained(name)
    g = torch.Generator().manual_seed(0)
    if "kinematics" in name:
        y = torch.tensor([[1.5, 0.0], [1.2, 0.8]])
        s = m.sample(y, 300, generator=g)
        assert s.shape == (2, 300, 4) and not s.requires_grad
        err = (Kinematics().forward(s.double()) - y.double()[:, None]).norm(dim=-1)
        assert float(err.median()) < 0.1
    else:
        y = torch.tensor([0, 1, 2, 3])
        s = m.sample(y, 300, generator=g)
        assert s.shape == (4, 300, 2)
        acc = (EightModes().label_probabilities(s).argmax(-1) == y[:, None]).double().mean()
        assert float(acc) > 0.9
    from innverse.models import weights_dir

    assert (weights_dir() / f"{name}.safetensors").stat().st_size <= 5 * 2**20
