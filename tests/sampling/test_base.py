"""The guided-sampler base: seeds, per-image noise, scales, the unguided DDPM/DDIM step."""

from __future__ import annotations

import pytest
import torch

from innverse.diffusion.ddim import DDIMSampler
from innverse.diffusion.ddpm import DDPMSampler
from innverse.errors import UserError
from innverse.sampling import DDRM, DPS, ILVR, GuidedSampler, INDigo, generators_for, mix_seeds
from innverse.sampling.base import to_image, to_model

from ._toy import problem, tiny_inn


def test_mix_seeds_is_deterministic_and_spreads():
    assert mix_seeds(0, 1, 2) == mix_seeds(0, 1, 2)
    seeds = {mix_seeds(s, m, b) for s in range(3) for m in range(3) for b in range(3)}
    assert len(seeds) == 27
    assert all(0 <= s < 2**63 for s in seeds)
    a, b = generators_for(5, 2, 1)
    assert a.initial_seed() == mix_seeds(5, 1, 0) and b.initial_seed() == mix_seeds(5, 1, 1)


def test_scales_round_trip():
    v = torch.rand(2, 1, 3, 3)
    torch.testing.assert_close(to_image(to_model(v)), v)
    assert float(to_model(torch.zeros(1))) == -1.0 and float(to_model(torch.ones(1))) == 1.0


@pytest.mark.parametrize("kind", ["ddpm", "ddim"])
def test_unguided_step_is_the_samplers_step(kind):
    """With one generator, the base step equals the diffusion package's sampler step (same noise)."""
    prior, op, x, y, _ = problem(4)
    s = GuidedSampler(prior, op, steps=10, sampler=kind, eta=0.7)
    ref = prior.sampler(kind, 10, 0.7)
    assert isinstance(ref, DDPMSampler if kind == "ddpm" else DDIMSampler)
    x_t = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    for t in s.sampler.timesteps.tolist()[:3] + [0]:
        s._gens = torch.Generator().manual_seed(3)
        mine = s.step(x_t, t)
        out = prior(x_t, torch.full((4,), t))
        theirs, _ = ref.step(out, t, x_t, torch.Generator().manual_seed(3))
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)


def _methods(prior, op):
    return [
        GuidedSampler(prior, op, 6),
        DDRM(prior, op, 6),
        ILVR(prior, op, 6),
        DPS(prior, op, 1.0, 6),
        INDigo(prior, op, tiny_inn(), 0.5, "constant", 6),
        INDigo(prior, op, tiny_inn(), 0.5, "normalized", 6, sampler="ddim", eta=0.5),
    ]


def test_images_do_not_depend_on_their_batch():
    """Per-image generators: an image gets the same result alone or inside a batch (every method)."""
    prior, op, x, y, _ = problem(3, sigma=0.05)
    for s in _methods(prior, op):
        both = s.sample(y, generators_for(7, 3))
        alone = s.sample(y[1:2], [generators_for(7, 3)[1]])
        torch.testing.assert_close(both[1:2], alone, rtol=1e-9, atol=1e-9, msg=s.name)
        assert s.nfe == 6
        again = s.sample(y, generators_for(7, 3))
        assert torch.equal(both, again), s.name
        other = s.sample(y, generators_for(8, 3))
        assert not torch.equal(both, other), s.name


def test_one_generator_for_the_batch_and_explicit_start():
    prior, op, x, y, _ = problem(2)
    s = DDRM(prior, op, 4)
    a = s.sample(y, torch.Generator().manual_seed(0))
    b = s.sample(y, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    x_T = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    s2 = INDigo(prior, op, tiny_inn(), 0.5, "constant", 5, sampler="ddim", eta=0.0)
    # DDIM with eta = 0 draws no noise after x_T: the generator does not matter
    assert torch.equal(
        s2.sample(y, generators_for(0, 2), x_T=x_T), s2.sample(y, generators_for(9, 2), x_T=x_T)
    )


def test_bad_arguments():
    prior, op, x, y, _ = problem(2)
    with pytest.raises(UserError, match="sampler"):
        GuidedSampler(prior, op, 5, sampler="euler")
    with pytest.raises(UserError, match="steps"):
        GuidedSampler(prior, op, 0)
    s = GuidedSampler(prior, op, 3)
    with pytest.raises(UserError, match="one torch.Generator per image"):
        s.sample(y, generators_for(0, 3))
    with pytest.raises(UserError, match="float tensor"):
        s.sample(y[0])
    with pytest.raises(UserError, match="x_T has shape"):
        s.sample(y, x_T=torch.zeros(2, 1, 4, 4))
