"""Glow: exact inverse and log-det of the whole multi-scale model, its density and bits/dim by hand,
finite sampling, the memory-saving backward, save/load, the training task."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from innverse.errors import UserError
from innverse.models import load_model
from innverse.models.glow import Glow
from innverse.nn.testing import assert_invertible, jacobian_logdet, randomise_


def _glow(std: float = 0.2, **kw) -> Glow:
    torch.manual_seed(0)
    cfg = dict(in_channels=1, levels=2, steps=2, width=4, image_size=8)
    cfg.update(kw)
    m = Glow(**cfg).double()
    randomise_(m, std, seed=1)
    return m.eval()


@pytest.mark.parametrize("coupling", ["affine", "additive"])
@pytest.mark.parametrize("permutation", ["1x1", "shuffle", "reverse"])
def test_glow_is_an_exact_bijection_with_the_autograd_logdet(coupling: str, permutation: str) -> None:
    m = _glow(coupling=coupling, permutation=permutation)
    x = torch.rand(2, 1, 8, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert assert_invertible(m, x, 1e-12) <= 1e-12
    eps, ld = m(x)
    assert eps.shape == x.shape
    torch.testing.assert_close(ld.detach(), jacobian_logdet(m, x), atol=1e-9, rtol=0)
    assert float(ld.detach().abs().min()) > 1e-2
    # the inverse is also a right inverse
    z = torch.randn(2, 1, 8, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(m(m.inverse(z))[0], z, atol=1e-10, rtol=0)


@pytest.mark.parametrize("alpha", [0.05, 1e-6])
def test_logit_preprocessing_is_part_of_the_exact_bijection(alpha: float) -> None:
    m = _glow(preprocess="logit", alpha=alpha)
    x = torch.rand(2, 1, 8, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert assert_invertible(m, x, 1e-12) <= 1e-12
    eps, ld = m(x)
    torch.testing.assert_close(ld.detach(), jacobian_logdet(m, x), atol=1e-9, rtol=0)


def test_fresh_logit_glow_density_by_hand() -> None:
    """With identity flow steps the logit Glow is a standard normal on logit(alpha + (1 - 2 alpha) x):
    log p(x) is that density plus the logit's log-det."""
    torch.manual_seed(5)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        m = Glow(levels=2, steps=2, width=4, image_size=8, preprocess="logit", alpha=0.05).eval()
    finally:
        torch.set_default_dtype(before)
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    p = 0.05 + 0.9 * x
    y = torch.log(p / (1 - p))
    per_pixel = -0.5 * y**2 - 0.5 * math.log(2 * math.pi) + math.log(0.9) - torch.log(p * (1 - p))
    want = per_pixel.flatten(1).sum(1)
    torch.testing.assert_close(m.log_prob(x), want, atol=1e-10, rtol=0)
    assert m.config["preprocess"] == "logit"


def test_glow_rejects_a_bad_preprocessing() -> None:
    with pytest.raises(UserError, match="preprocess"):
        Glow(preprocess="tanh")
    with pytest.raises(UserError, match="alpha"):
        Glow(preprocess="logit", alpha=0.5)


def test_three_levels_and_colour() -> None:
    m = _glow(0.1, in_channels=3, levels=3, image_size=8)
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    assert_invertible(m, x, 1e-12)
    assert float(m(x)[0].abs().max()) > 0.5


def test_fresh_glow_density_by_hand() -> None:
    """A fresh Glow is an orthogonal map of x - 1/2 (identity couplings, unit ActNorm, orthogonal 1x1,
    zero priors), so log p(x) is the standard normal density of x - 1/2."""
    torch.manual_seed(5)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # an orthogonal 1x1 initialisation exact to float64
    try:
        m = Glow(levels=2, steps=2, width=4, image_size=8).eval()
    finally:
        torch.set_default_dtype(before)
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    d = 64
    want = -0.5 * ((x - 0.5) ** 2).flatten(1).sum(1) - 0.5 * d * math.log(2 * math.pi)
    torch.testing.assert_close(m.log_prob(x), want, atol=1e-10, rtol=0)
    # bits/dim of uint8 images with the seeded dequantisation of the Glow paper
    imgs = (torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(7)) * 256).to(torch.uint8)
    u = torch.rand(imgs.shape, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    xd = (imgs.double() + u) / 256
    logp = -0.5 * ((xd - 0.5) ** 2).flatten(1).sum(1) - 0.5 * d * math.log(2 * math.pi)
    bpd = (-logp + d * math.log(256)) / (d * math.log(2))
    torch.testing.assert_close(m.bits_per_dim(imgs, seed=11), bpd, atol=1e-10, rtol=0)
    assert torch.equal(m.bits_per_dim(imgs, seed=11), m.bits_per_dim(imgs, seed=11))
    assert not torch.equal(m.bits_per_dim(imgs, seed=11), m.bits_per_dim(imgs, seed=12))


def test_bits_per_dim_rejects_bad_images() -> None:
    m = _glow()
    with pytest.raises(UserError, match="uint8"):
        m.bits_per_dim(torch.rand(1, 1, 8, 8))
    with pytest.raises(UserError, match="multiples of 4"):
        m.bits_per_dim(torch.zeros(1, 1, 6, 8, dtype=torch.uint8))
    with pytest.raises(UserError, match=r"\(B, 1, H, W\)"):
        m.bits_per_dim(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(UserError, match="image_size"):
        Glow(levels=2, image_size=6)


@pytest.mark.parametrize("temperature", [0.0, 0.5, 0.7, 1.0])
def test_sampling_is_finite_and_in_range(temperature: float) -> None:
    m = _glow(image_size=[8, 12]).float()
    g = torch.Generator().manual_seed(8)
    raw = m.raw_sample(16, temperature, generator=g)
    assert bool(torch.isfinite(raw).all())
    s = m.sample(16, temperature, generator=torch.Generator().manual_seed(8))
    assert s.shape == (16, 1, 8, 12) and s.dtype == torch.float32
    assert bool(torch.isfinite(s).all()) and float(s.min()) >= 0 and float(s.max()) <= 1
    torch.testing.assert_close(s, raw.clamp(0, 1))
    with pytest.raises(UserError, match="temperature"):
        m.sample(2, float("nan"))


def test_sample_guard_replaces_non_finite_values() -> None:
    m = _glow().float()
    with torch.no_grad():
        m.top.fill_(1e30)  # an absurd prior overflows the inverse
    assert not bool(torch.isfinite(m.raw_sample(2)).all())
    s = m.sample(2)
    assert bool(torch.isfinite(s).all()) and float(s.min()) >= 0 and float(s.max()) <= 1


def test_checkpointed_glow_gives_the_same_values_and_gradients() -> None:
    plain = _glow()
    saved = _glow(checkpoint=True)
    saved.load_state_dict(plain.state_dict())
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    grads = []
    for m in (plain, saved):
        m.train()
        m.zero_grad()
        lp = m.log_prob(x)
        lp.sum().backward()
        grads.append((lp.detach(), [p.grad.clone() for p in m.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-12, rtol=0)
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)


def test_actnorm_initialises_from_the_first_training_batch() -> None:
    torch.manual_seed(10)
    m = Glow(levels=2, steps=2, width=8, image_size=8).train()
    x = torch.rand(64, 1, 8, 8) * 0.3 + 0.2
    m.log_prob(x)
    first = m.blocks[0][1][0]  # level 1, step 1, ActNorm
    assert bool(first.initialized)
    h, _ = m.blocks[0][0](x - 0.5)  # its input: the squeezed image
    y, _ = first(h)
    torch.testing.assert_close(y.mean((0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)


def test_save_and_load(tmp_path: Path) -> None:
    m = _glow(coupling="additive", permutation="shuffle").float()
    m.save(tmp_path / "g")
    r = load_model(tmp_path / "g")
    assert isinstance(r, Glow) and r.config == m.config
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(12))
    torch.testing.assert_close(r.log_prob(x), m.log_prob(x))


def _image_folder(tmp_path: Path, n: int = 40) -> Path:
    """Flat 8x8 grey images (one random level each, +-3 grey levels of noise): strongly correlated
    pixels, so a flow can learn them quickly."""
    from PIL import Image

    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        a = np.clip(rng.integers(20, 236) + rng.integers(-3, 4, (8, 8)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(d / f"{i:03d}.png")
    return d


def test_glow_task_loss_is_bits_per_dim(tmp_path: Path) -> None:
    from innverse.train.tasks.glow import GlowTask, GlowTrainConfig

    folder = str(_image_folder(tmp_path))
    cfg = GlowTrainConfig(data=folder, steps_per_level=2, width=4, val_count=8, val_images=8)
    task = GlowTask(cfg, seed=3)
    task.check()
    task.prepare(0, 1)
    assert task.epoch_size() == 32 and task.val_images.shape == (8, 1, 8, 8)
    torch.manual_seed(0)
    m = task.build_model()
    from innverse.nn import ActNorm

    norms = [a for a in m.modules() if isinstance(a, ActNorm)]
    assert norms and all(bool(a.initialized) for a in norms)  # initialised alike on every DDP rank
    b1, b2 = task.batch(5, 8, (0, 1)), task.batch(5, 8, (0, 1))
    assert torch.equal(b1["x"], b2["x"]) and not torch.equal(b1["x"], task.batch(6, 8, (0, 1))["x"])
    halves = [task.batch(5, 8, (r, 2))["x"] for r in (0, 1)]
    assert torch.equal(torch.cat(halves), b1["x"])
    m.eval()
    loss, parts = task.loss(m, b1, 5)
    d = 64
    bpd = (-m.log_prob(b1["x"]) + d * math.log(256)) / (d * math.log(2))
    torch.testing.assert_close(loss, bpd.mean())
    # a few Adam steps on one batch lower it
    m.train()
    opt = torch.optim.Adam(m.parameters(), 2e-2)
    first = None
    for step in range(12):
        loss, _ = task.loss(m, b1, step)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first - 0.5
    m.eval()
    scores = task.validate(m, torch.device("cpu"))
    assert math.isfinite(scores["val_bpd"]) and 2.0 < scores["val_bpd"] < first


def test_glow_task_errors(tmp_path: Path) -> None:
    from innverse.train.tasks.glow import GlowTask, GlowTrainConfig

    with pytest.raises(UserError, match="multiples of 16"):
        GlowTask(GlowTrainConfig(data=str(_image_folder(tmp_path)), levels=4), 0).prepare(0, 1)
    with pytest.raises(UserError, match="not a folder"):
        GlowTask(GlowTrainConfig(data=str(tmp_path / "nope")), 0).prepare(0, 1)
    with pytest.raises(UserError, match="--levels"):
        GlowTask(GlowTrainConfig(levels=0), 0).check()


# ------------------------------------------------------------------------------------ the shipped model
def test_shipped_glow_samples_and_scores() -> None:
    from innverse.models import pretrained, weights_dir

    m = pretrained("glow-fmnist")
    assert isinstance(m, Glow) and m.config["levels"] == 2 and m.image_size == (28, 28)
    assert (weights_dir() / "glow-fmnist.safetensors").stat().st_size <= 5 * 2**20
    for t in (0.5, 0.7, 1.0):
        raw = m.raw_sample(16, t, generator=torch.Generator().manual_seed(1))
        assert raw.shape == (16, 1, 28, 28) and bool(torch.isfinite(raw).all())
    imgs = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    bpd = m.bits_per_dim(imgs, seed=0)
    assert bpd.shape == (2,) and bool(torch.isfinite(bpd).all())


@pytest.mark.data
def test_shipped_glow_beats_the_pixel_histogram_on_test_images() -> None:
    from conftest import require_data
    from innverse.data.fashion_mnist import load_fashion_mnist
    from innverse.models import pretrained

    require_data("fashion-mnist")
    test = torch.from_numpy(np.array(load_fashion_mnist("test")[0][:200]))[:, None]
    bpd = float(pretrained("glow-fmnist").bits_per_dim(test, seed=0).mean())
    assert 1.0 < bpd < 4.6  # the independent-pixel histogram scores about 4.6 bits/dim
