"""The registry of model kinds, the default-model table, the typed protocols, and loading by
``load_model`` (our checkpoints, shipped names, released ``.pth`` files), with clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import require_data
from innverse.errors import UserError
from innverse.models import (
    DEFAULTS,
    Checkpointable,
    Denoiser,
    DnCNN,
    NENet,
    NoiseEstimator,
    WINNet,
    build_model,
    default_denoiser,
    default_estimator,
    list_pretrained,
    load_denoiser,
    load_estimator,
    load_model,
    model_kinds,
)
from innverse.models.registry import kind_of
from innverse.nn.testing import randomise_


def test_every_model_class_is_a_registered_kind():
    kinds = model_kinds()
    assert {"winnet", "nenet", "dncnn"} <= set(kinds)
    for name, k in kinds.items():
        cls = k.model_class()
        m = build_model(name, k.example)
        assert isinstance(m, cls) and isinstance(m, Checkpointable) and m.kind == name
        assert kind_of(m) is k
    with pytest.raises(UserError, match="unknown model kind"):
        build_model("nosuch", {})
    with pytest.raises(TypeError):
        build_model("winnet", {"nosuch": 1})


@pytest.mark.parametrize("kind", sorted(model_kinds()))
def test_every_kind_saves_and_loads_by_load_model(kind, tmp_path):
    k = model_kinds()[kind]
    m = randomise_(build_model(kind, k.example), 0.1, seed=3)
    m.save(tmp_path / kind)
    r = load_model(tmp_path / kind)
    assert type(r) is type(m) and r.config == m.config and not r.training
    assert r.source == str(tmp_path / kind)
    for (ka, a), (kb, b) in zip(m.state_dict().items(), r.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(a, b)


def test_protocols_at_the_seams():
    w, n, d = WINNet(levels=1, steps=1, blocks=1), NENet(), DnCNN(depth=3, channels=4)
    assert isinstance(w, Denoiser) and isinstance(d, Denoiser)
    assert isinstance(n, NoiseEstimator) and not isinstance(n, Denoiser)
    assert [model_kinds()[m.kind].role for m in (w, n, d)] == ["denoiser", "noise-estimator", "denoiser"]


def test_typed_loaders_check_the_role(tmp_path):
    NENet(hidden=4, layers=1).save(tmp_path / "n")
    WINNet(levels=1, steps=1, blocks=1, channels=4, dn_channels=4).save(tmp_path / "w")
    assert isinstance(load_estimator(tmp_path / "n"), NENet)
    assert isinstance(load_denoiser(tmp_path / "w"), WINNet)
    with pytest.raises(UserError, match="not a denoiser"):
        load_denoiser(tmp_path / "n")
    with pytest.raises(UserError, match="not a noise estimator"):
        load_estimator(tmp_path / "w")


def test_the_default_model_table():
    shipped = list_pretrained()
    named = set(DEFAULTS.denoisers.values()) | {DEFAULTS.blind_denoiser, DEFAULTS.noise_estimator}
    assert named <= set(shipped)
    assert default_denoiser(None) == DEFAULTS.blind_denoiser == "winnet-blind"
    assert default_denoiser(25) == "winnet-s25" and default_denoiser(16.5) == "winnet-s15"
    assert default_denoiser(52.5) == "winnet-s50" and default_denoiser(20) == "winnet-blind"
    assert default_estimator() == "nenet"


def test_shipped_weights_load_unchanged():
    """Every shipped safetensors file loads with every tensor used, in eval mode."""
    from safetensors.torch import load_file

    from innverse.models import pretrained, weights_dir

    for name in list_pretrained():
        m = pretrained(name)
        raw = load_file(str(weights_dir() / f"{name}.safetensors"))
        own = m.state_dict()
        assert len(raw) == len(own) and not m.training
        for k, v in raw.items():
            new = k.replace(".predict.", ".predictor.").replace(".update.", ".updater.")
            assert torch.equal(own[new if new in own else k], v), (name, k)


def test_bad_checkpoints_raise_user_errors(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable"):
        load_model(junk)
    wrong = tmp_path / "wrong.pth"
    torch.save({"foo.weight": torch.zeros(3)}, wrong)
    with pytest.raises(UserError, match="not a WINNet checkpoint"):
        WINNet.from_official(wrong)
    with pytest.raises(UserError, match="not a released"):
        load_model(wrong)
    with pytest.raises(UserError, match="not found"):
        load_model(tmp_path / "missing.pth")
    d = tmp_path / "ours"
    d.mkdir()
    (d / "model.safetensors").write_bytes(b"garbage")
    (d / "config.json").write_text('{"kind": "winnet", "config": {}}')
    with pytest.raises(UserError, match="safetensors"):
        load_model(d)


def test_mismatched_tensors_are_one_line_errors(tmp_path):
    small = WINNet(levels=1, steps=1, blocks=1, channels=4, dn_channels=4)
    small.save(tmp_path / "a")
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    cfg["config"]["channels"] = 6  # shapes no longer fit
    (tmp_path / "a" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="do not fit a winnet") as e:
        load_model(tmp_path / "a")
    assert "\n" not in str(e.value)
    cfg["config"]["channels"], cfg["config"]["steps"] = 4, 2  # tensors missing
    (tmp_path / "a" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="lacks"):
        load_model(tmp_path / "a")
    cfg["config"]["steps"], cfg["config"]["bogus"] = 1, 3
    (tmp_path / "a" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="bad winnet configuration"):
        load_model(tmp_path / "a")
    cfg["kind"] = "nosuch"
    (tmp_path / "a" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="unknown model kind"):
        load_model(tmp_path / "a")


@pytest.mark.data
def test_released_checkpoints_of_every_kind_load_by_load_model():
    root = require_data("weights")
    w = load_model(root / "winnet-official" / "WINNet_lvl_2_nlvl_50" / "net_WINNet.pth")
    assert isinstance(w, WINNet) and len(w.levels) == 2 and not w.blind
    assert isinstance(load_model(root / "winnet-official" / "NENet" / "net_NENet.pth"), NENet)
    d = load_model(root / "dncnn-kair" / "dncnn_25.pth")
    assert isinstance(d, DnCNN) and d.config == {"depth": 17, "channels": 64} and not d.training
    kair = DnCNN.from_kair(root / "dncnn-kair" / "dncnn_25.pth")
    assert torch.equal(kair.convs[3].weight, d.convs[3].weight)
    x = torch.rand(1, 1, 16, 16)
    assert not d(x).requires_grad
