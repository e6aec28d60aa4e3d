"""The guides: HCT picks each class's most confident image, UAP pushes a pool towards its class within
its radius, files round-trip, and the shipped guides are what the card says."""

from __future__ import annotations

import pytest
import torch

from innverse.attacks.base import predict
from innverse.attacks.guides import (
    UAP_RADIUS,
    Guides,
    cgt_start,
    high_confidence_images,
    load_guides,
    save_guides,
    shipped_guides,
    universal_perturbations,
)
from innverse.errors import UserError

from ._models import Linear, images


def test_hct_is_the_most_confident_image_of_each_class():
    net = Linear(scale=0.05, seed=1)
    x = images(200, seed=2)
    y = torch.arange(200) % 10
    g, p, idx = high_confidence_images(net, x, y)
    prob = torch.softmax(predict(net, x), 1)
    for c in range(10):
        mine = (y == c).nonzero()[:, 0]
        assert int(idx[c]) == int(mine[prob[mine, c].argmax()])
        assert torch.equal(g[c], x[idx[c]]) and float(p[c]) == pytest.approx(float(prob[idx[c], c]))
    with pytest.raises(UserError, match="no image of class"):
        high_confidence_images(net, x[y != 3], y[y != 3])


def test_uap_stays_in_its_radius_and_pushes_towards_its_class():
    net = Linear(scale=0.05, seed=1)
    x = images(64, seed=4)
    d = universal_perturbations(net, x, steps=20, batch=16)
    assert d.shape == (10, 1, 28, 28) and float(d.abs().max()) <= UAP_RADIUS + 1e-7
    p0 = torch.softmax(predict(net, x), 1)
    for c in (0, 5):
        p1 = torch.softmax(predict(net, (x + d[c]).clamp(0, 1)), 1)
        assert float(p1[:, c].mean()) > float(p0[:, c].mean()) + 0.1


def test_guides_file_round_trip(tmp_path):
    g = Guides(torch.rand(10, 1, 28, 28), torch.rand(10, 1, 28, 28), {"pool": "test", "n": [1, 2]})
    p = save_guides(g, tmp_path / "x.guides.safetensors")
    back = load_guides(p)
    assert torch.equal(back.hct, g.hct) and torch.equal(back.uap, g.uap) and back.info == g.info
    assert torch.equal(back.of("uap", torch.tensor([3, 3, 0])), g.uap[[3, 3, 0]])
    with pytest.raises(UserError, match="guide kind"):
        back.of("cgt", torch.tensor([0]))
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    with pytest.raises(UserError, match="not a guides file"):
        load_guides(tmp_path / "bad.safetensors")
    assert float(cgt_start(torch.zeros(2, 1, 4, 4)).unique()) == 0.5


def test_shipped_guides():
    g = shipped_guides("fmnist-classifier")
    if g is None:
        pytest.skip("no guides shipped for fmnist-classifier")
    assert g.hct.shape == g.uap.shape == (10, 1, 28, 28)
    for t in (g.hct, g.uap):
        assert float(t.min()) >= 0 and float(t.max()) <= 1
    assert min(g.info["hct_probability"]) > 0.9
    assert shipped_guides("no-such-classifier") is None
