"""``innverse train durrnet``: a short engine run of each model choice exports a folder that
``innverse.models.load_model`` and the reflection-removal app load back."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from innverse.train.registry import get_task
from innverse.train.tasks.durrnet import DURRNetTask, DURRNetTrainConfig


@pytest.mark.parametrize(
    ("model", "kind", "flags"),
    [
        ("durrnet", "durrnet", {"lifting": True, "exclusion": True}),
        ("durrnet-haar", "durrnet", {"lifting": False, "exclusion": True}),
        ("durrnet-noexcl", "durrnet", {"lifting": True, "exclusion": False}),
        ("unet", "unet-separator", {}),
    ],
)
def test_two_steps_export_a_loadable_separator(data_root: Path, tmp_path: Path, model, kind, flags):
    from innverse.apps.dereflect import load_separator, remove_reflection_tensor
    from innverse.models import load_model
    from innverse.models.registry import kind_of
    from innverse.train.engine import Engine, EngineConfig

    assert get_task("durrnet") is DURRNetTask
    t = DURRNetTask(DURRNetTrainConfig(data=str(data_root), model=model, crop=16, unet_width=4), seed=0)
    out = tmp_path / "run"
    cfg = EngineConfig(out=str(out), batch_size=2, max_steps=2, device="cpu", progress=False, val_every=2)
    assert Engine(t, cfg).run() == 0
    net = load_model(out / "model")
    info = kind_of(net)
    assert info is not None and info.name == kind and info.role == "separator" and not net.training
    for k, v in flags.items():
        assert net.config[k] is v
    # the exported weights are those of the run's last checkpoint (step 2)
    from innverse.train.checkpoint import load_checkpoint

    ck = t.build_model()
    state, _ = load_checkpoint(out, ck)
    assert state["step"] == 2
    for (ka, a), (kb, b) in zip(net.state_dict().items(), ck.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(a, b)
    sep = load_separator(out / "model")
    x = torch.rand(1, 3, 13, 17)
    tt, rr = remove_reflection_tensor(x, sep, tile=None)
    assert tt.shape == rr.shape == x.shape and torch.isfinite(tt).all()
