"""The shared options: library defaults shown in --help equal the library's, tiling rules."""

from __future__ import annotations

import argparse

import pytest

from innverse.commands import options
from innverse.errors import UserError


def test_defaults_equal_the_library():
    from innverse.commands import files
    from innverse.data import color
    from innverse.data.io import IMAGE_EXTENSIONS
    from innverse.solvers import denoise, pnp
    from innverse.wavelets import wavelet_names

    assert options.DEFAULT_TILE == denoise.DEFAULT_TILE
    assert options.DEFAULT_OVERLAP == denoise.DEFAULT_OVERLAP
    assert options.BLIND_DENOISER == denoise.BLIND_DENOISER
    assert options.NOISE_ESTIMATOR == denoise.NOISE_ESTIMATOR
    assert tuple(options.COLOR_SPACES) == tuple(color.COLOR_SPACES)
    assert options.DEFAULT_COLOR_SPACE == color.DEFAULT_COLOR_SPACE
    assert options.DEFAULT_LAMBDA == pnp.DEFAULT_LAMBDA
    assert options.DEFAULT_MAX_ITER == pnp.DEFAULT_MAX_ITER
    assert tuple(options.WAVELETS) == tuple(wavelet_names())
    assert tuple(files.IMAGE_EXTENSIONS) == tuple(IMAGE_EXTENSIONS)


def _ns(tile, overlap=None):
    return argparse.Namespace(tile=tile, overlap=overlap)


def test_resolve_tiling():
    assert options.resolve_tiling(_ns(0)) == (None, 0)
    assert options.resolve_tiling(_ns(256)) == (256, 16)
    assert options.resolve_tiling(_ns(64)) == (64, 16)  # unset overlap: at most a quarter of the tile
    assert options.resolve_tiling(_ns(16)) == (16, 4)
    assert options.resolve_tiling(_ns(64, 40)) == (64, 40)
    for tile, overlap, msg in (
        (1, None, "at least 16"),
        (-1, None, "--tile must be 0"),
        (32, 32, "smaller than"),
    ):
        with pytest.raises(UserError, match=msg):
            options.resolve_tiling(_ns(tile, overlap))
    with pytest.raises(UserError, match="at least 40"):
        options.resolve_tiling(_ns(20), min_size=40)


def test_plural():
    assert options.plural(1, "file") == "1 file"
    assert options.plural(0, "file") == "0 files"
    assert options.plural(2, "iteration") == "2 iterations"


def test_inference_options_with_a_command_s_own_defaults():
    p = argparse.ArgumentParser()
    options.add_inference_options(p, tile=512, overlap=32, min_tile=32, color=False)
    args = p.parse_args([])
    assert args.tile == 512 and args.overlap is None and not hasattr(args, "color")
    assert "default: 32" in p.format_help() and ">= 32" in p.format_help()
    assert options.resolve_tiling(args, 32, 32) == (512, 32)
    assert options.resolve_tiling(_ns(64), 32, 32) == (64, 16)  # a quarter of the tile
    with pytest.raises(UserError, match="at least 32"):
        options.resolve_tiling(_ns(16), 32, 32)
    q = argparse.ArgumentParser()
    options.add_inference_options(q)
    assert q.parse_args([]).color == options.DEFAULT_COLOR_SPACE
