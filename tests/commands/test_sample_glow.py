"""``innverse sample glow``: a grid PNG from a flow, seeded, with the CLI's refusals."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ._helpers import cli


def _tiny_flow(tmp_path):
    from innverse.models.glow import Glow

    flow = Glow(in_channels=1, image_size=8, levels=2, steps=1, width=8)
    return flow.save(tmp_path / "flow")


def test_writes_a_seeded_grid(tmp_path, capsys):
    model = _tiny_flow(tmp_path)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    code, out, _ = cli(capsys, "sample", "glow", "--model", model, "-n", "4", "-o", a)
    assert code == 0 and "4 samples" in out
    cli(capsys, "sample", "glow", "--model", model, "-n", "4", "-o", b)
    ga, gb = np.asarray(Image.open(a)), np.asarray(Image.open(b))
    assert ga.shape == (2 + 2 * 10, 2 + 2 * 10) and np.array_equal(ga, gb)
    cli(capsys, "sample", "glow", "--model", model, "-n", "4", "-o", b, "--force", "--seed", "1")
    assert not np.array_equal(ga, np.asarray(Image.open(b)))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["-o", "{tmp}/g.jpg"], "PNG"),
        (["-o", "{tmp}/g.png", "-n", "0"], "-n must be"),
        (["-o", "{tmp}/g.png", "--temperature", "nan"], "--temperature"),
        (["-o", "{tmp}/g.png", "--model", "nenet"], "not a Glow flow"),
        (["-o", "{tmp}/exists.png"], "output exists"),
    ],
)
def test_refusals_are_one_line(tmp_path, capsys, extra, message):
    (tmp_path / "exists.png").write_bytes(b"x")
    code, _, err = cli(capsys, "sample", "glow", *[e.format(tmp=tmp_path) for e in extra])
    assert code == 2 and message in err
    assert err.startswith("innverse sample glow: error:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
