"""The benchmark protocol: seeded noise, test-set loading and the PSNR loop (innverse.bench.protocol)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from innverse.bench.protocol import (
    add_seeded_noise,
    load_images,
    load_testsets,
    mean_psnr,
    mean_sigma_error,
    resolve_set,
    score_denoiser,
    seeded_noise,
    sigma_estimates,
)
from innverse.errors import UserError
from innverse.metrics import psnr, ssim


def test_seeded_noise_is_the_documented_draw():
    x = torch.zeros(1, 1, 5, 7)
    n = seeded_noise(x, 25, 3)
    g = torch.Generator().manual_seed(3)
    ref = (25 / 255) * torch.randn((1, 1, 5, 7), generator=g, dtype=torch.float32)
    assert n.dtype == torch.float32 and torch.equal(n, ref)
    # the first values of seed 0: the protocol does not depend on anything but torch's CPU generator
    first = seeded_noise((3,), 255, 0)
    assert torch.allclose(first, torch.tensor([1.5410, -0.2934, -2.1788]), atol=1e-4)
    # a shape works like a tensor of that shape; the pattern is the same at every level
    assert torch.equal(seeded_noise((1, 1, 5, 7), 25, 3), n)
    assert torch.allclose(seeded_noise(x, 50, 3), 2 * n, rtol=1e-6, atol=0)
    assert not torch.equal(seeded_noise(x, 25, 4), n)


def test_add_seeded_noise_does_not_clip():
    x = torch.full((1, 1, 16, 16), 0.99)
    y = add_seeded_noise(x, 50, 0)
    assert torch.equal(y, x + seeded_noise(x, 50, 0))
    assert float(y.max()) > 1.0 and y.dtype == torch.float32


def _write(folder, names, colour=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for n in names:
        shape = (16, 14, 3) if colour else (16, 14)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / n)


def test_load_images_sorted_limited_and_gray(tmp_path):
    _write(tmp_path / "s", ["b.png", "a.png", "c.bmp"])
    (tmp_path / "s" / "notes.txt").write_text("not an image")
    imgs = load_images(tmp_path / "s")
    assert [n for n, _ in imgs] == ["a.png", "b.png", "c.bmp"]
    assert all(t.shape == (1, 1, 16, 14) and t.dtype == torch.float32 for _, t in imgs)
    assert float(imgs[0][1].max()) <= 1.0
    assert [n for n, _ in load_images(tmp_path / "s", limit=2)] == ["a.png", "b.png"]
    _write(tmp_path / "c", ["x.png"], colour=True)
    rgb = np.asarray(Image.open(tmp_path / "c" / "x.png"), dtype=np.float32) / 255
    ((_, g),) = load_images(tmp_path / "c")
    assert torch.allclose(g[0, 0], torch.from_numpy(rgb @ np.array([0.299, 0.587, 0.114], np.float32)))
    ((_, c),) = load_images(tmp_path / "c", gray=False)
    assert c.shape == (1, 3, 16, 14)


def test_missing_or_empty_sets_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="NoSuchSet"):
        resolve_set("NoSuchSet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        load_images(tmp_path / "empty")
    _write(tmp_path / "s", ["a.png"])
    with pytest.raises(UserError, match="--limit"):
        load_images(tmp_path / "s", limit=0)


def test_load_testsets_labels(tmp_path):
    _write(tmp_path / "one" / "Set", ["a.png"])
    _write(tmp_path / "two" / "Set", ["a.png", "b.png"])
    sets = load_testsets([tmp_path / "one" / "Set", tmp_path / "two" / "Set"])
    assert [s.name for s in sets] == ["Set", "Set#2"]
    assert [len(s.images) for s in sets] == [1, 2]
    assert sets[1].source == str((tmp_path / "two" / "Set").resolve())


def test_score_denoiser_follows_the_protocol(tmp_path):
    _write(tmp_path / "s", ["a.png", "b.png", "c.png"])
    images = load_images(tmp_path / "s")
    seen = []

    def restore(y):
        seen.append(y.clone())
        return y  # the noisy image itself: clipped by the protocol

    r = score_denoiser(restore, images, 25)
    for i, (_, x) in enumerate(images):
        y = add_seeded_noise(x, 25, i)
        assert torch.equal(seen[i], y)
        assert r["per_image_psnr"][i] == pytest.approx(float(psnr(y.clamp(0, 1), x)[0]), abs=1e-12)
        assert r["per_image_ssim"][i] == pytest.approx(float(ssim(y.clamp(0, 1), x)[0]), abs=1e-12)
    assert r["psnr"] == pytest.approx(np.mean(r["per_image_psnr"]))
    # bare tensors work as well, and mean_psnr is the PSNR part
    assert mean_psnr(lambda y: y, [x for _, x in images], 25) == pytest.approx(r["psnr"], abs=1e-12)
    rb = score_denoiser(lambda y: y, images, 25, border=1)
    x0 = images[0][1]
    ref = float(psnr(add_seeded_noise(x0, 25, 0).clamp(0, 1), x0, crop=1)[0])
    assert rb["per_image_psnr"][0] == pytest.approx(ref, abs=1e-12) and rb["psnr"] != r["psnr"]
    # a better restoration scores higher: halfway back to the clean image
    assert mean_psnr(lambda y: (y + x0) / 2, images[:1], 25) > r["per_image_psnr"][0] + 5


def test_sigma_estimates():
    images = [torch.rand(1, 1, 20, 20) for _ in range(3)]
    assert sigma_estimates(lambda y: torch.tensor([25 / 255]), images, 25) == pytest.approx([25.0] * 3)
    assert mean_sigma_error(lambda y: 20 / 255, images, 25) == pytest.approx(5.0)

    # the std of the residual the protocol added is about sigma
    est = sigma_estimates(lambda y: float((y - images[0]).std()), images[:1], 40)
    assert est[0] == pytest.approx(40, rel=0.15)
