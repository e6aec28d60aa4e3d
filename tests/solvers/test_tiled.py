"""Tiled inference: the tile grid, the blending weights, equality with whole-image inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _standins import BlurDenoiser, smooth_image
from conftest import require_data
from innverse.data.degrade import add_seeded_noise, psnr
from innverse.solvers.denoise import DEFAULT_OVERLAP, DEFAULT_TILE
from innverse.solvers.tiled import _axis_windows, tile_grid, tile_starts, tiled_apply


@pytest.mark.parametrize("tile,overlap", [(64, 16), (256, 32), (320, 16), (100, 0), (17, 16)])
def test_tile_grid_covers_evenly_with_the_overlap(tile, overlap):
    for size in (1, 17, 63, 64, 65, 100, 257, 512, 768, 1000, 4001):
        starts, length = tile_grid(size, tile, overlap)
        assert starts == tile_starts(size, tile, overlap)
        if size <= tile:
            assert (starts, length) == ([0], size)
            continue
        n = len(starts)
        assert length <= tile and starts[0] == 0 and starts[-1] == size - length
        steps = np.diff(starts)
        assert (length - steps >= overlap).all()  # every neighbour shares >= overlap pixels
        assert steps.max() - steps.min() <= 1  # spread evenly
        assert n == int(np.ceil((size - overlap) / (tile - overlap)))  # the fewest windows


def test_tile_grid_examples_and_errors():
    assert tile_grid(512, 256, 32) == ([0, 160, 320], 192)  # not 256, 256 and a 32-pixel remainder
    assert tile_grid(512, 320, 16) == ([0, 248], 264)
    assert tile_grid(300, 320, 16) == ([0], 300)
    for tile, overlap in ((0, 0), (16, 16), (16, -1)):
        with pytest.raises(ValueError):
            tile_grid(100, tile, overlap)


@pytest.mark.parametrize("size,tile,overlap", [(1000, 256, 32), (65, 64, 16), (100, 40, 30), (257, 128, 0)])
def test_blending_weights_sum_to_one(size, tile, overlap):
    starts, length = tile_grid(size, tile, overlap)
    wins = _axis_windows(size, starts, length, torch.float64)
    total = torch.zeros(size, dtype=torch.float64)
    for s, w in zip(starts, wins, strict=True):
        assert (w > 0).all()
        total[s : s + length] += w
    torch.testing.assert_close(total, torch.ones(size, dtype=torch.float64), rtol=0, atol=1e-12)
    if len(starts) > 1 and overlap >= 8:  # image borders get full weight, inner edges almost none
        assert wins[0][0] == 1 and wins[-1][-1] == 1 and wins[0][-1] < 0.05 and wins[1][0] < 0.05


def test_tiled_identity_is_exact():
    x = torch.rand(2, 3, 150, 301)
    y = tiled_apply(lambda t: t * 1.0, x, tile=64, overlap=16)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)


def test_fn_returning_its_input_view_leaves_the_input_alone():
    x = torch.rand(1, 1, 90, 70)
    keep = x.clone()
    y = tiled_apply(lambda t: t, x, tile=32, overlap=8)
    assert torch.equal(x, keep)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)


def test_tiled_matches_untiled_blur():
    clean = smooth_image(200, 170)
    noisy = add_seeded_noise(clean, 25, 0)
    den = BlurDenoiser()
    whole = den(noisy, 25 / 255)
    tiled = tiled_apply(lambda t: den(t, 25 / 255), noisy, tile=64, overlap=24)
    assert abs(psnr(whole, clean) - psnr(tiled, clean)) <= 0.01
    assert (whole - tiled).abs().max() < 0.02


def test_small_image_runs_whole():
    calls = []
    x = torch.rand(1, 1, 40, 50)
    tiled_apply(lambda t: calls.append(t.shape) or t, x, tile=64, overlap=16)
    assert calls == [torch.Size([1, 1, 40, 50])]
    tiled_apply(lambda t: calls.append(t.shape) or t, torch.rand(1, 1, 400, 400), tile=None)
    assert calls[-1] == torch.Size([1, 1, 400, 400])


def test_tiles_are_bounded_on_large_image():
    """A 12-megapixel gray image: fn only ever sees one tile of one size; the output is image-sized."""
    x = torch.zeros(1, 1, 3000, 4000)
    x[..., ::7, :] = 1.0
    shapes = set()

    def fn(t: torch.Tensor) -> torch.Tensor:
        shapes.add(tuple(t.shape))
        return t * 1.0

    y = tiled_apply(fn, x, tile=DEFAULT_TILE, overlap=DEFAULT_OVERLAP)
    assert len(shapes) == 1 and max(s[-1] * s[-2] for s in shapes) <= DEFAULT_TILE**2
    assert (y - x).abs().max() < 1e-6


def test_tiled_bad_arguments():
    with pytest.raises(ValueError):
        tiled_apply(lambda t: t, torch.rand(1, 1, 100, 100), tile=32, overlap=32)
    with pytest.raises(ValueError):
        tiled_apply(lambda t: t, torch.rand(100, 100), tile=32, overlap=8)
    with pytest.raises(ValueError, match="tile shape"):
        tiled_apply(lambda t: t[..., 1:, :], torch.rand(1, 1, 100, 100), tile=32, overlap=8)


def test_shipped_winnet_tiled_equals_whole_image_on_a_synthetic_image():
    """Default overlap, small tiles (many seams): within 0.01 dB of whole-image inference."""
    from innverse.models import load_model

    m = load_model("winnet-s25")
    g = torch.Generator().manual_seed(0)
    clean = smooth_image(136, 152, seed=2) + 0.05 * (torch.rand(1, 1, 136, 152, generator=g) > 0.5)
    noisy = add_seeded_noise(clean.clamp(0, 1), 25, 1)
    with torch.no_grad():
        whole = m(noisy, 25 / 255)
        tiled = tiled_apply(lambda t: m(t, 25 / 255), noisy, tile=64, overlap=DEFAULT_OVERLAP)
    assert abs(psnr(whole.clamp(0, 1), clean) - psnr(tiled.clamp(0, 1), clean)) <= 0.01


@pytest.mark.slow
@pytest.mark.data
def test_tiled_within_a_hundredth_of_a_db_on_set12():
    """Every Set12 image at σ = 25, shipped weights: the default tiling and 128-px tiles (more seams)."""
    from innverse.bench.protocol import load_images, seeded_noise
    from innverse.models import load_model

    require_data("Set12")
    m = load_model("winnet-s25")
    for i, (_, x) in enumerate(load_images("Set12")):
        y = x + seeded_noise(x.shape, 25, i)
        with torch.no_grad():
            ref = psnr(m(y, 25 / 255).clamp(0, 1), x)
            for tile in (DEFAULT_TILE, 128):
                out = tiled_apply(lambda t: m(t, 25 / 255), y, tile=tile, overlap=DEFAULT_OVERLAP)
                assert abs(psnr(out.clamp(0, 1), x) - ref) <= 0.01, (i, tile)
