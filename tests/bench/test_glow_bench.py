"""``innverse benchmark glow`` parts on tiny inputs: the histogram baseline, test bits/dim, the
normflows peer (with either preprocessing), the side-by-side budget, activation memory with and without
InvertibleCheckpoint, the preprocessing's defaults and the report."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from innverse.bench.glow import (
    _NormflowsBPD,
    dataset_bpd,
    histogram_bpd,
    render_glow,
    resolve_preprocess,
    saved_activation_bytes,
    side_by_side,
)
from innverse.errors import UserError
from innverse.models.glow import Glow


def test_histogram_bpd_by_hand() -> None:
    train = np.zeros((4, 1, 2), dtype=np.uint8)
    train[:, 0, 1] = [0, 0, 255, 255]
    test = np.array([[[0, 255]]], dtype=np.uint8)
    # pixel 0: p(0) = (4 + 1) / (4 + 256); pixel 1: p(255) = (2 + 1) / (4 + 256)
    want = -(math.log2(5 / 260) + math.log2(3 / 260)) / 2
    assert abs(histogram_bpd(train, test) - want) < 1e-12
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 256, (20000, 2, 2), dtype=np.uint8)
    assert abs(histogram_bpd(uniform, uniform[:500]) - 8.0) < 0.05


def test_dataset_bpd_is_the_mean_of_bits_per_dim() -> None:
    torch.manual_seed(0)
    m = Glow(levels=2, steps=1, width=4, image_size=8).eval()
    imgs = (torch.rand(10, 1, 8, 8) * 256).to(torch.uint8)
    want = torch.cat(
        [
            m.bits_per_dim(imgs[:4], seed=3),
            m.bits_per_dim(imgs[4:8], seed=4),
            m.bits_per_dim(imgs[8:], seed=5),
        ]
    )
    assert abs(dataset_bpd(m, imgs, seed=3, batch=4) - float(want.mean())) < 1e-9


def test_checkpoint_saves_activation_memory() -> None:
    x = torch.rand(8, 1, 8, 8)
    sizes = {}
    for ck in (False, True):
        torch.manual_seed(0)
        m = Glow(levels=2, steps=4, width=16, image_size=8, checkpoint=ck).train()
        with torch.no_grad():
            m.log_prob(x[:2])
        sizes[ck] = saved_activation_bytes(m, x)
    assert sizes[True] < sizes[False] / 3


def test_preprocessing_defaults_to_the_models_and_disagreement_is_an_error() -> None:
    logit = {"preprocess": "logit", "alpha": 1e-6}
    assert resolve_preprocess([logit]) == ("logit", 1e-6)
    assert resolve_preprocess([{"levels": 2}]) == ("center", 0.05)  # an old config: centred
    assert resolve_preprocess([logit], "center") == ("center", 0.05)
    assert resolve_preprocess([logit], alpha=0.01) == ("logit", 0.01)
    assert resolve_preprocess([{"levels": 2}], "logit") == ("logit", 0.05)
    assert resolve_preprocess([logit, {"preprocess": "logit", "alpha": 1e-6}]) == ("logit", 1e-6)
    with pytest.raises(UserError, match="different preprocessings"):
        resolve_preprocess([logit, {"levels": 2}])
    assert resolve_preprocess([logit, {"levels": 2}], "logit") == ("logit", 1e-6)
    with pytest.raises(UserError, match="different alphas"):
        resolve_preprocess([logit, {"preprocess": "logit", "alpha": 0.05}])
    with pytest.raises(UserError, match="alpha"):
        resolve_preprocess([logit], alpha=0.5)
    with pytest.raises(UserError, match="preprocess"):
        resolve_preprocess([], "tanh")


class _Recorder(torch.nn.Module):
    """Stands in for a normflows flow: records what ``log_prob`` is given."""

    def __init__(self, transform: object) -> None:
        super().__init__()
        self.transform = transform
        self.seen: list[torch.Tensor] = []

    def log_prob(self, z: torch.Tensor, y: object) -> torch.Tensor:
        self.seen.append(z.clone())
        return torch.zeros(z.shape[0])


class _RecordingGlow(Glow):
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = [*getattr(self, "seen", []), x.clone()]
        return super().log_prob(x)


@pytest.mark.parametrize("preprocess", ["center", "logit"])
def test_normflows_side_is_dequantised_exactly_like_ours(preprocess: str) -> None:
    imgs = (torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 256).to(torch.uint8)
    ours = _RecordingGlow(levels=2, steps=1, width=4, image_size=8, preprocess=preprocess, alpha=1e-6)
    ours.eval().bits_per_dim(imgs, seed=7)
    peer = _Recorder(object() if preprocess == "logit" else None)
    bpd = _NormflowsBPD(peer).bits_per_dim(imgs, seed=7)
    x = ours.seen[0]
    assert x.dtype == torch.float32 and bool(((x > 0) & (x < 1)).all())
    # normflows' log_prob is given x itself when its transform (Logit) maps it, else x - 1/2
    want = x if preprocess == "logit" else x - 0.5
    assert torch.equal(peer.seen[0], want)
    # with log p = 0 the bits/dim are D log 256 / (D ln 2) = 8
    assert bpd.dtype == torch.float64 and torch.allclose(
        bpd, torch.full((5,), 8.0, dtype=torch.float64), atol=1e-6
    )


def _row(md: str, first: str) -> list[str]:
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first:
            return cells
    raise AssertionError(f"no table row {first!r}")


def test_render_states_the_preprocessing() -> None:
    env = {"cpu": "test cpu", "torch": "x", "threads": 1}
    row = {"model": "m", "params": 10, "test_bpd": 3.5, "samples": []}
    base = {"test_images": 3, "histogram_bpd": 5.0, "environment": env, "created": "now"}
    res = {
        **base,
        "models": [{**row, "config": {"preprocess": "logit", "alpha": 1e-6}}],
        "preprocess": {"preprocess": "logit", "alpha": 1e-6},
        "normflows": {"levels": 1, "steps_per_level": 1, "width": 4, "budget_seconds": 1.0, "rows": []},
    }
    md = render_glow(res)
    assert _row(md, "m") == ["m", "logit, alpha=1e-06", "10", "3.5000"]
    assert "memory test): logit, alpha=1e-06." in md and "It is not that of" not in md
    assert "logit(alpha + (1 - 2 alpha) x), alpha = 1e-06" in md and "transforms.Logit" in md
    assert "What differs:" in md and "sigmoid(raw + 2)" in md
    res["models"][0]["config"] = {"levels": 2}  # an old, centred model
    res["preprocess"] = {"preprocess": "center", "alpha": 0.05}
    md = render_glow(res)
    assert _row(md, "m")[1] == "center" and "memory test): center." in md and "It is not that of" not in md
    assert "both centre x in [0, 1] as x - 1/2" in md
    res["preprocess"] = {"preprocess": "logit", "alpha": 0.05}
    assert "It is not that of m." in render_glow(res)


@pytest.mark.slow  # importing normflows takes seconds
@pytest.mark.parametrize("alpha", [0.05, 1e-6])
def test_normflows_logit_bits_per_dim_by_hand(alpha: float) -> None:
    """normflows' Glow with the logit preprocessing: its bits/dim are those of its centre-free flow at
    y = logit(p), p = alpha + (1 - 2 alpha) x, minus the hand-computed log-det, the same y and log-det
    as ours."""
    pytest.importorskip("normflows")
    from innverse.bench.glow import normflows_bits_per_dim, normflows_glow

    torch.manual_seed(0)
    peer = normflows_glow(2, 1, 8, (8, 8), preprocess="logit", alpha=alpha).double()
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64) * 0.998 + 0.001
    with torch.no_grad():
        normflows_bits_per_dim(peer, torch.rand(16, 1, 8, 8, dtype=torch.float64))  # ActNorm's init
        got = normflows_bits_per_dim(peer, x)
        flow = normflows_glow(2, 1, 8, (8, 8), preprocess="center").double()
        flow.load_state_dict(peer.state_dict())
        assert flow.transform is None
        p = alpha + (1 - 2 * alpha) * x
        y = torch.log(p) - torch.log1p(-p)
        log_det = (math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        d = 64
        want = (-(flow.log_prob(y, None) + log_det) + d * math.log(256.0)) / (d * math.log(2.0))
        assert torch.allclose(got, want, rtol=0, atol=1e-9)
        # ours maps x to the same y with the same log-det
        ours = Glow(levels=2, steps=1, width=4, image_size=8, preprocess="logit", alpha=alpha).double()
        y_ours, ld_ours = ours._preprocess(x)
        y_nf, ld_nf = peer.transform.inverse(x)
        assert torch.allclose(y_ours, y_nf, rtol=0, atol=1e-12)
        assert torch.allclose(ld_ours, ld_nf, rtol=0, atol=1e-9)
        assert torch.allclose(y_nf, y, rtol=0, atol=1e-12)
        # the centred variant is the same flow at x - 1/2 with log-det 0
        centred = normflows_bits_per_dim(flow, x)
        want_c = (-flow.log_prob(x - 0.5, None) + d * math.log(256.0)) / (d * math.log(2.0))
        assert torch.allclose(centred, want_c, rtol=0, atol=1e-9)
        assert not torch.allclose(centred, got, atol=1e-3)


@pytest.mark.slow  # importing normflows takes seconds
@pytest.mark.parametrize("preprocess", ["center", "logit"])
def test_normflows_side_by_side(preprocess: str) -> None:
    pytest.importorskip("normflows")
    from innverse.bench.glow import normflows_bits_per_dim, normflows_glow

    torch.manual_seed(0)
    peer = normflows_glow(2, 2, 8, (8, 8), preprocess=preprocess, alpha=1e-6)
    x = torch.rand(4, 1, 8, 8)
    bpd = normflows_bits_per_dim(peer, x)
    assert bpd.shape == (4,) and bool(torch.isfinite(bpd).all())
    from innverse.train.tasks.glow import GlowTask, GlowTrainConfig

    task = GlowTask(GlowTrainConfig(steps_per_level=2, width=8, val_images=0), seed=0)
    images = (torch.rand(64, 8, 8) * 256).to(torch.uint8)
    task.train_images, task.val_images, task._perm = images, images[:0, None], None
    res = side_by_side(task, 0.5, 2, 2, 8, batch_size=8, preprocess=preprocess, alpha=1e-6)
    assert set(res["steps"]) == {"innverse", "normflows"} and min(res["steps"].values()) >= 1
    assert all(s >= 0.5 for s in res["seconds"].values())
    ours, theirs = res["models"]["innverse"], res["models"]["normflows"]
    assert ours.config["preprocess"] == preprocess and ours.config["alpha"] == 1e-6
    if preprocess == "logit":
        assert type(theirs.transform).__name__ == "Logit" and theirs.transform.alpha == 1e-6
    else:
        assert theirs.transform is None
    # the same flow; the priors differ (ours: a 3x3 conv of the kept half; normflows: per channel)
    assert abs(res["params"]["innverse"] - res["params"]["normflows"]) < 0.02 * res["params"]["innverse"]
