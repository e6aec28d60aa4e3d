"""Tests of :mod:`innverse.diffusion.prior`: saving, loading and sampling a prior."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from innverse.diffusion.prior import DiffusionPrior, load_prior
from innverse.diffusion.schedules import NoiseSchedule
from innverse.diffusion.unet import UNet
from innverse.errors import UserError


def _prior(seed: int = 0) -> DiffusionPrior:
    torch.manual_seed(seed)
    unet = UNet(1, width=8, mults=(1, 2), blocks=1, groups=4, sample_size=8)
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return DiffusionPrior(unet, NoiseSchedule("cosine", 100), sample_size=8, channels=1, card={"name": "t"})


def test_save_load_round_trip(tmp_path: Path) -> None:
    p = _prior()
    p.save(tmp_path / "m")
    assert sorted(f.name for f in (tmp_path / "m").iterdir()) == [
        "card.json",
        "config.json",
        "model.safetensors",
    ]
    q = load_prior(tmp_path / "m")
    assert q.schedule == p.schedule and q.card == {"name": "t"} and q.sample_size == 8
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([1, 50])
    torch.testing.assert_close(q(x, t), p(x, t), rtol=0, atol=0)
    a = p.generate(3, steps=10, seed=4)
    b = q.generate(3, steps=10, seed=4)
    assert a.shape == (3, 1, 8, 8) and torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    c = q.generate(3, steps=10, sampler="ddpm", seed=4)
    assert not torch.equal(a, c)
    # the flat layout of shipped weights: NAME.safetensors + NAME.json
    (tmp_path / "m" / "model.safetensors").rename(tmp_path / "x.safetensors")
    (tmp_path / "m" / "config.json").rename(tmp_path / "x.json")
    r = load_prior(tmp_path / "x.safetensors")
    torch.testing.assert_close(r(x, t), p(x, t), rtol=0, atol=0)


def test_generate_in_batches_is_the_same_sequence() -> None:
    p = _prior()
    g = p.generate(5, steps=5, seed=1, batch_size=2)
    assert g.shape == (5, 1, 8, 8)
    assert torch.equal(g[:2], p.generate(2, steps=5, seed=1, batch_size=2))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown diffusion prior"):
        load_prior("no-such-prior")
    with pytest.raises(UserError, match="not found"):
        load_prior(tmp_path / "nothing" / "here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a prior folder"):
        load_prior(tmp_path / "empty")
    p = _prior()
    p.save(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(UserError, match="safetensors"):
        load_prior(tmp_path / "m")
    p.save(tmp_path / "m2")
    cfg = json.loads((tmp_path / "m2" / "config.json").read_text())
    cfg["config"]["width"] = 16
    (tmp_path / "m2" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="shape|match"):
        load_prior(tmp_path / "m2")
    cfg["kind"] = "winnet"
    (tmp_path / "m2" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="not an innverse diffusion prior"):
        load_prior(tmp_path / "m2")
    with pytest.raises(UserError):
        p.generate(0)
    with pytest.raises(UserError):
        p.sampler("euler")


def test_shipped_prior_loads_and_samples() -> None:
    from innverse.diffusion.images import sample_images
    from innverse.diffusion.prior import shipped_priors

    assert "ddpm-fmnist" in shipped_priors()
    weights = Path(str(__import__("innverse").__file__)).parent / "weights" / "ddpm-fmnist.safetensors"
    assert weights.stat().st_size <= 10 * 2**20
    prior = load_prior("ddpm-fmnist")
    assert prior.schedule.T == 1000
    imgs = sample_images(prior, 2, 3, "ddim", 0.0, 0, "cpu", 2)
    assert imgs.shape == (2, 1, 32, 32) and bool(torch.isfinite(imgs).all())
    assert float(imgs.min()) >= 0.0 and float(imgs.max()) <= 1.0
