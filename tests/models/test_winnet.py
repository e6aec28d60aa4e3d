"""WINNet / LINN / CLISTA: structure on innverse.nn, exactness, the fast path against the released
recursion, autograd rule, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import require_data
from innverse.models import WINNet, load_model
from innverse.models.winnet import count_parameters
from innverse.nn import DCTFrame, LiftingChain, LiftingStep
from innverse.nn.testing import assert_left_inverse, randomise_


def _randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter (including the zero-initialised output convs) random values."""
    return randomise_(model, 0.1, seed)


def test_parameter_counts_match_the_paper():
    assert count_parameters(WINNet(levels=1)) == 173_440
    assert count_parameters(WINNet(levels=2)) == 346_880


def test_levels_are_innverse_nn_lifting_chains_and_the_frame_is_an_nn_frame():
    m = WINNet(levels=2, steps=3)
    assert isinstance(m.frame, DCTFrame)
    for lvl in m.levels:
        assert isinstance(lvl.steps, LiftingChain) and len(lvl.steps) == 3
        assert all(isinstance(s, LiftingStep) and s.coarse_channels == 1 for s in lvl.steps)


@pytest.mark.parametrize("levels", [1, 2])
def test_analysis_synthesis_exact_float64(levels):
    m = _randomise(WINNet(levels=levels)).double()
    x = torch.rand(2, 1, 24, 30, dtype=torch.float64)
    sigma = torch.tensor([25 / 255, 5 / 255], dtype=torch.float64)
    assert assert_left_inverse(m, x, 1e-12, sigma=sigma) <= 1e-12
    co = m.analysis(x, sigma)
    assert len(co.details) == levels and co.details[0].shape[1] == 15
    # the lifting really changed the coefficients (the test is not trivially an identity)
    plain = m.frame.analysis(torch.nn.functional.pad(x, (m.pad,) * 4, mode="reflect"))
    assert (co.details[0] - plain[:, 1:]).abs().max() > 1e-3


def test_analysis_synthesis_float32_over_100db():
    m = _randomise(WINNet(levels=1)).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, 64, 64, generator=g)
    xr = m.synthesis(m.analysis(x, 25 / 255), 25 / 255)
    mse = float(((xr - x) ** 2).mean())
    assert 10 * np.log10(1.0 / mse) > 100


def test_lifting_is_the_chain_of_lifting_steps():
    """The level's transform is exactly what innverse.nn's LiftingChain computes on [DC | details]."""
    m = _randomise(WINNet(levels=1, steps=2), seed=7).double()
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        co = m.analysis(x, 50 / 255)  # the reference level: no rescaling
        f = m.frame.analysis(torch.nn.functional.pad(x, (m.pad,) * 4, mode="reflect"))
        y, ld = m.levels[0].steps(f)
    assert torch.equal(ld, torch.zeros(1, dtype=torch.float64))
    torch.testing.assert_close(y[:, 1:], co.details[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(y[:, :1], co.coarse, rtol=0, atol=1e-12)


@pytest.mark.parametrize("levels", [1, 2])
def test_fast_path_equals_released_recursion(levels):
    """Folded thresholds + homogeneous rescaling give the literal released computation."""
    m = _randomise(WINNet(levels=levels), seed=3).double()
    y = torch.rand(3, 1, 20, 26, dtype=torch.float64)
    sig = torch.tensor([25 / 255, 3 / 255, 50 / 255], dtype=torch.float64)
    with torch.no_grad():
        fast = m(y, sig)
        ref = m.reference_forward(y, sig)
    assert (fast - ref).abs().max() <= 1e-12 * ref.abs().max()


def test_training_path_gradients_equal_the_released_recursion():
    """Under autograd the fast path uses a custom CPU depthwise backward and out-of-place residual
    updates: its gradients must equal those of the literal released computation (float64)."""
    m = _randomise(WINNet(levels=1), seed=5).double().train()
    y = torch.rand(2, 1, 14, 18, dtype=torch.float64)
    x = torch.rand(2, 1, 14, 18, dtype=torch.float64)
    sig = torch.tensor([25 / 255, 40 / 255], dtype=torch.float64)
    grads = []
    for fn in (m, m.reference_forward):
        m.zero_grad()
        ((fn(y, sig) - x) ** 2).sum().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in m.parameters()]))
    assert (grads[0] - grads[1]).abs().max() <= 1e-10 * grads[1].abs().max()


def test_no_gradient_leaks_in_inference_use():
    """Eval mode: no graph, no requires_grad outputs -- unless an input asks for gradients."""
    m = _randomise(WINNet(levels=2, steps=1, blocks=1, channels=4, dn_channels=4)).eval()
    x = torch.rand(1, 1, 16, 16)
    co = m.analysis(x, 0.1)
    assert not any(t.requires_grad for t in (*co.details, co.coarse))
    assert not m.synthesis(co, 0.1).requires_grad
    assert not m(x, 0.1).requires_grad
    assert not any(d.requires_grad for d in m.denoise_coeffs(co, 0.1).details)
    # gradients with respect to the image (an attack, a plug-and-play gradient step) still flow
    xg = x.clone().requires_grad_()
    m(xg, 0.1).sum().backward()
    assert xg.grad is not None and float(xg.grad.abs().sum()) > 0
    cog = m.analysis(xg, 0.1)
    assert cog.coarse.requires_grad
    # ... also through a sigma tensor that requires grad
    s = torch.tensor([0.1], requires_grad=True)
    m(x, s).sum().backward()
    assert s.grad is not None
    # training mode records the graph as any module does
    m.train()
    co = m.analysis(x, 0.1)
    assert co.details[0].requires_grad and m(x, 0.1).requires_grad
    # an explicit no_grad always wins
    with torch.no_grad():
        assert not m(x, 0.1).requires_grad


def test_training_pad_override_is_exact_and_checked():
    m = _randomise(WINNet(levels=1), seed=6).double()
    y = torch.rand(1, 1, 12, 12, dtype=torch.float64)
    with torch.no_grad():
        out0 = m(y, 0.1, pad=0)
        m.pad = 0
        assert torch.equal(out0, m(y, 0.1))
        co = m._analysis_unit(y, 0)
        assert (m._synthesis_unit(co) - y).abs().max() <= 1e-12
    with pytest.raises(ValueError, match="pad"):
        m(y, 0.1, pad=12)


def test_homogeneity_and_batch_independence():
    m = _randomise(WINNet(levels=1), seed=4).double()
    y = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        a = m(y, torch.tensor([0.1, 0.2], dtype=torch.float64))
        b0 = m(y[:1], 0.1)
        b1 = m(y[1:], 0.2)
    assert torch.allclose(a, torch.cat([b0, b1]), atol=1e-12)


def test_sigma_zero_and_bad_inputs():
    m = _randomise(WINNet(levels=1))
    y = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.isfinite(m(y, 0.0)).all()
    with pytest.raises(ValueError, match="gray"):
        m(torch.rand(1, 3, 16, 16), 0.1)
    with pytest.raises(ValueError, match="smaller"):
        m(torch.rand(1, 1, 6, 40), 0.1)
    with pytest.raises(ValueError, match="non-negative"):
        m(y, -0.1)
    with pytest.raises(ValueError, match="batch"):
        m(y, torch.tensor([0.1, 0.2]))


def test_untrained_lifting_is_identity_and_losses():
    m = WINNet(levels=1)
    x = torch.rand(1, 1, 16, 16)
    co = m.analysis(x, 0.1)
    plain = m.frame.analysis(torch.nn.functional.pad(x, (m.pad,) * 4, mode="reflect"))
    assert torch.allclose(co.details[0], plain[:, 1:], atol=1e-6)  # zero-initialised tails
    orth, spec = m.orthogonality_loss(), m.spectral_norm_loss()
    assert orth > 0 and spec > 0
    (orth + spec).backward()
    assert m.levels[0].denoiser.A.grad is not None and m.levels[0].steps[0].predictor.head.grad is not None


def test_spectral_norm_of_a_known_kernel():
    m = WINNet(levels=1)
    net = m.levels[0].steps[0].predictor
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.head[0, 0, 1, 1] = 3.0
    # head: sigma_max = 3; residual blocks with zero convs are the identity: sigma_max = 1 each
    assert net.spectral_norm().item() == pytest.approx(3.0 + len(net.blocks))


def test_orthogonality_zero_for_a_perfect_pair():
    m = WINNet(levels=1, dn_channels=15)
    dn = m.levels[0].denoiser
    with torch.no_grad():
        dn.A.zero_()
        dn.S.zero_()
        idx = torch.arange(15)
        dn.A[idx, idx, 1, 1] = 1.0
        dn.S[idx, idx, 1, 1] = 1.0
    assert dn.orthogonality().item() == pytest.approx(0.0, abs=1e-12)


def test_save_load_roundtrip(tmp_path):
    m = _randomise(WINNet(levels=2, pad=4))
    m.save(tmp_path / "w")
    r = load_model(tmp_path / "w")
    assert isinstance(r, WINNet) and r.config == m.config and not r.training
    y = torch.rand(1, 1, 20, 20)
    with torch.no_grad():
        assert torch.equal(m(y, 0.1), r(y, 0.1))


def test_checkpoints_with_the_former_step_names_load_unchanged(tmp_path):
    """Checkpoints written before the lifting steps were innverse.nn.LiftingStep modules name the
    networks ``steps.N.predict`` / ``steps.N.update``: they load (once remapped) with equal outputs."""
    from safetensors.torch import save_file

    m = _randomise(WINNet(levels=2, steps=2, blocks=1, channels=4, dn_channels=4), seed=8)
    old = {}
    for k, v in m.state_dict().items():
        k = k.replace(".predictor.", ".predict.").replace(".updater.", ".update.")
        old[k] = v.contiguous()
    assert any(".steps.1.predict.head" in k for k in old) and not any("predictor" in k for k in old)
    d = tmp_path / "old"
    d.mkdir()
    save_file(old, str(d / "model.safetensors"), metadata={"kind": "winnet"})
    (d / "config.json").write_text(json.dumps({"kind": "winnet", "config": m.config}))
    r = load_model(d)
    y = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(m(y, 0.1), r(y, 0.1))
    # and by hand, as a training checkpoint is restored
    fresh = WINNet(**m.config)
    fresh.load_state_dict(old)
    pairs = zip(fresh.state_dict().values(), m.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def _set12_image(i: int) -> torch.Tensor:
    from PIL import Image

    files = sorted(require_data("Set12").glob("*.png"))
    a = np.asarray(Image.open(files[i]).convert("L"), dtype=np.float32) / 255.0
    return torch.from_numpy(a)[None, None]


@pytest.mark.data
def test_official_winnet_loads_and_denoises():
    root = require_data("weights", "winnet-official")
    m = WINNet.from_official(root / "WINNet_lvl_1_nlvl_25" / "net_WINNet.pth")
    x = _set12_image(5)[..., :128, :128]
    y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    out = m(y, 25 / 255).clamp(0, 1)
    exact = m.synthesis(m.analysis(x, 25 / 255), 25 / 255)
    assert not out.requires_grad

    def psnr(a):
        return float(10 * torch.log10(1 / ((a - x) ** 2).mean()))

    assert psnr(out) > psnr(y) + 7
    assert psnr(exact) > 100
    m2 = WINNet.from_official(root / "WINNet_lvl_2_nlvl_25" / "net_WINNet.pth")
    assert len(m2.levels) == 2 and m2.levels[1].steps[0].predictor.dilation == 2
    blind = load_model(root / "WINNet_lvl_1_nlvl_0_55" / "net_WINNet.pth")
    assert isinstance(blind, WINNet) and blind.blind


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    m = _randomise(WINNet(levels=1))
    y = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        a = m(y, 0.1)
        b = m.cuda()(y.cuda(), 0.1).cpu()
    assert torch.allclose(a, b, atol=1e-4)


def test_tiled_winnet_equals_whole_image():
    """Default tiling (256, overlap 32) changes PSNR by <= 0.01 dB (shipped s25 weights, the first
    512x512 Set12 image with its seeded noise; measured 0.0011 dB)."""
    from innverse.bench.protocol import add_seeded_noise, load_images
    from innverse.models import pretrained
    from innverse.solvers.tiled import tiled_apply

    require_data("Set12")
    m = pretrained("winnet-s25")
    i, (_, x) = next((i, im) for i, im in enumerate(load_images("Set12")) if im[1].shape[-1] == 512)
    y = add_seeded_noise(x, 25, i)
    with torch.no_grad():
        whole = m(y, 25 / 255).clamp(0, 1)
        tiled = tiled_apply(lambda t: m(t, 25 / 255), y, tile=256, overlap=32).clamp(0, 1)

    def psnr(a):
        return float(10 * torch.log10(1 / ((a - x) ** 2).mean()))

    assert abs(psnr(whole) - psnr(tiled)) <= 0.01
    assert (whole - tiled).abs().max() > 0  # the tiles really differ from one pass
