"""innverse.apps.superres: the user-facing function, its INN loading, seeds and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from innverse.apps.superres import (
    GUIDANCE,
    METHODS,
    PosteriorSamples,
    SuperResolver,
    check_noise,
    default_guidance,
    load_inn,
    make_operator,
    superres,
)
from innverse.errors import UserError
from innverse.models.indigo_inn import INDigoINN
from innverse.physics import Downsampling, bicubic_upsample
from innverse.sampling.gaussian import gaussian_prior


@pytest.fixture(scope="module")
def prior():
    """An exact Gaussian prior of 32x32 images (diagonal covariance: cheap), clamped like a real one."""
    var = torch.full((1024,), 0.2, dtype=torch.float64)
    return gaussian_prior(torch.full((1024,), -0.5, dtype=torch.float64), var, (1, 32, 32), clip_sample=1.0)


def _low(seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    return a if dtype == np.uint8 else a.astype(dtype) / 255


def test_bicubic_and_inn_keep_the_input_kind():
    y = _low()
    out = superres(y, method="bicubic")
    assert out.dtype == np.uint8 and out.shape == (32, 32)
    want = bicubic_upsample(torch.from_numpy(y.astype(np.float32) / 255)[None, None], 4)[0, 0]
    assert np.abs(out.astype(int) - np.round(want.clamp(0, 1).numpy() * 255)).max() <= 1
    t = torch.rand(3, 8, 8)
    rgb = superres(t, method="bicubic")
    assert isinstance(rgb, torch.Tensor) and rgb.shape == (3, 32, 32)
    # the Haar INN with zero details replicates each low-res pixel over its block: A^+ y
    x = superres(t[:1], method="inn", inn="haar")
    torch.testing.assert_close(x, Downsampling(4).A_pinv(t[None, :1])[0], rtol=0, atol=1e-6)
    batch = np.stack([_low(1, float), _low(2, float)])[..., None]  # N×H×W×C
    assert superres(batch, method="inn").shape == (2, 32, 32, 1)


def test_diffusion_methods_share_seeds_and_give_posterior_samples(prior):
    y = torch.from_numpy(_low(3, float)).float()
    one = superres(y, method="indigo", prior=prior, steps=5, seed=2)
    many = superres(y, method="indigo", prior=prior, steps=5, seed=2, samples=3)
    assert isinstance(many, PosteriorSamples)
    assert many.samples.shape == (3, 32, 32) and many.mean.shape == (32, 32) and many.std.shape == (32, 32)
    torch.testing.assert_close(many.samples[0], one)  # sample 0 of any M is the single estimate
    torch.testing.assert_close(many.mean, many.samples.mean(0))
    torch.testing.assert_close(many.std, many.samples.std(0))
    assert not torch.equal(many.samples[0], many.samples[1])
    other = superres(y, method="indigo", prior=prior, steps=5, seed=3)
    assert not torch.equal(one, other)
    u8 = superres(_low(3), method="ddrm", prior=prior, steps=5, samples=2)
    assert u8.samples.dtype == np.uint8 and u8.std.dtype == np.float32


@pytest.mark.parametrize("method", ["indigo", "dps", "ddrm", "ilvr"])
def test_every_diffusion_method_runs_and_counts_its_steps(prior, method):
    sr = SuperResolver(method, prior=prior, steps=4, noise=0.05)
    y = torch.rand(2, 1, 8, 8)
    out = sr(y, seed=0, samples=1)
    assert out.shape == (1, 2, 1, 32, 32) and bool(((out >= 0) & (out <= 1)).all())
    assert sr.steps == 4 and sr.guided.nfe == 4
    d = sr.describe()
    assert d["method"] == method and d["steps"] == 4 and d["noise"] == 0.05
    if method in ("indigo", "dps"):
        assert (d["zeta"], d["zeta_schedule"]) == default_guidance(method, 0.05)


def test_nonlinear_degradation(prior, tmp_path):
    with pytest.raises(UserError, match="ddrm needs a linear forward operator"):
        SuperResolver("ddrm", degradation="nonlinear", prior=prior)
    with pytest.raises(UserError, match="ilvr needs a linear forward operator"):
        SuperResolver("ilvr", degradation="nonlinear", prior="no-such-prior")  # refused before loading
    with pytest.raises(UserError, match="singular value decomposition"):
        SuperResolver("ddrm", degradation="bicubic", prior=prior)
    # without --inn the shipped non-linear INN is used
    assert (
        SuperResolver("indigo", degradation="nonlinear", prior=prior, steps=2).inn.source
        == "indigo-sr4nl-fmnist"
    )
    inn = INDigoINN(1, 4, steps=1, hidden=4, blocks=0)
    inn.save(tmp_path / "run" / "model")
    sr = SuperResolver("indigo", degradation="nonlinear", prior=prior, inn=str(tmp_path / "run"), steps=3)
    assert sr(torch.rand(1, 1, 8, 8)).shape == (1, 1, 1, 32, 32)
    assert (
        SuperResolver("dps", degradation="nonlinear", prior=prior, steps=3)(torch.rand(1, 1, 8, 8)).shape[-1]
        == 32
    )


def test_load_inn(tmp_path):
    assert load_inn("haar").levels == 2 and load_inn("haar", 2).levels == 1
    inn = INDigoINN(1, 4, steps=1, hidden=4, blocks=0)
    with torch.no_grad():
        for p in inn.parameters():
            p.add_(0.01)
    inn.save(tmp_path / "m")
    back = load_inn(str(tmp_path / "m"))
    x = torch.rand(1, 1, 16, 16)
    torch.testing.assert_close(back.coarse(x), inn.coarse(x))
    assert not any(p.requires_grad for p in back.parameters())
    with pytest.raises(UserError, match="upscales by 4, not by 2"):
        load_inn(str(tmp_path / "m"), 2)
    with pytest.raises(UserError, match="unknown INN"):
        load_inn("no-such-inn")
    with pytest.raises(UserError, match="not found"):
        load_inn(str(tmp_path / "absent"))
    from innverse.models.dncnn import DnCNN
    from innverse.models.io import save_model

    save_model(DnCNN(depth=3, channels=4), tmp_path / "d")
    with pytest.raises(UserError, match="not an INDigo INN"):
        load_inn(str(tmp_path / "d"))


def test_refusals(prior):
    with pytest.raises(UserError, match="unknown method"):
        superres(_low(), method="nearest")
    with pytest.raises(UserError, match="0-255 scale give 0.098"):
        superres(_low(), method="bicubic", noise=25)
    with pytest.raises(UserError, match="gray"):
        superres(torch.rand(3, 8, 8), method="indigo", prior=prior, steps=2)
    with pytest.raises(UserError, match="Gaussian prior is for 1x32x32 images, got 1x28x28"):
        superres(torch.rand(1, 7, 7), method="ddrm", prior=prior, steps=2)
    from innverse.diffusion.prior import DiffusionPrior
    from innverse.diffusion.schedules import NoiseSchedule
    from innverse.diffusion.unet import UNet

    unet = DiffusionPrior(UNet(1, width=8, mults=(1, 2, 2, 2), blocks=1, groups=4), NoiseSchedule())
    with pytest.raises(UserError, match="multiples of 8"):
        superres(torch.rand(1, 7, 7), method="ddrm", prior=unet, steps=2)
    assert superres(torch.rand(1, 6, 6), method="ilvr", prior=unet, steps=2).shape == (1, 24, 24)
    with pytest.raises(UserError, match="samples"):
        superres(_low(), method="bicubic", samples=0)
    with pytest.raises(UserError, match="steps must be at most"):
        superres(_low(), method="ilvr", prior=prior, steps=5000)
    with pytest.raises(UserError, match="unknown degradation"):
        make_operator("blur")
    with pytest.raises(UserError, match="float images must be on"):
        superres(np.full((8, 8), 200.0), method="bicubic")


def test_check_noise_and_guidance_table():
    assert check_noise("0.05") == 0.05
    for bad in (-0.1, float("nan"), "x", True):
        with pytest.raises(UserError):
            check_noise(bad)
    assert set(GUIDANCE) == {"indigo", "dps"} and set(METHODS) >= set(GUIDANCE)
    assert default_guidance("indigo", 0.07) == GUIDANCE["indigo"][0.05]
