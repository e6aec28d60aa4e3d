"""WINNet / LINN / CLISTA / NENet: structure, exactness, equivalence of the fast path, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import require_data
from innverse.errors import UserError
from innverse.models import NENet, WINNet, load_model
from innverse.models.frames import DCTFrame, dct_matrix
from innverse.models.winnet import count_parameters


def _randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter (including the zero-initialised output convs) random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def test_parameter_counts_match_the_paper():
    assert count_parameters(WINNet(levels=1)) == 173_440
    assert count_parameters(WINNet(levels=2)) == 346_880
    assert count_parameters(NENet()) == 6_560


def test_dct_frame_is_tight_and_exact():
    c = dct_matrix(16)
    assert torch.allclose(c @ c.T, torch.eye(16, dtype=torch.float64), atol=1e-14)
    f = DCTFrame()
    x = torch.randn(2, 1, 13, 17, dtype=torch.float64)
    y = f.analysis(x)
    assert y.shape == (2, 16, 13, 17)
    assert (f.synthesis(y) - x).abs().max() < 1e-12
    # tight frame: ||W x||^2 = 16 ||x||^2
    assert torch.allclose((y**2).sum(), 16 * (x**2).sum(), rtol=1e-12)
    # channel 0 is the DC filter (constant 1/4): a box mean
    ones = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    assert torch.allclose(f.analysis(ones)[:, 0], torch.full((1, 8, 8), 4.0, dtype=torch.float64))


@pytest.mark.parametrize("levels", [1, 2])
def test_analysis_synthesis_exact_float64(levels):
    m = _randomise(WINNet(levels=levels)).double()
    x = torch.rand(2, 1, 24, 30, dtype=torch.float64)
    with torch.no_grad():
        co = m.analysis(x, torch.tensor([25 / 255, 5 / 255], dtype=torch.float64))
        xr = m.synthesis(co, torch.tensor([25 / 255, 5 / 255], dtype=torch.float64))
    assert len(co.details) == levels and co.details[0].shape[1] == 15
    assert (xr - x).abs().max() <= 1e-12
    # the lifting really changed the coefficients (the test is not trivially an identity)
    plain = m.frame.analysis(torch.nn.functional.pad(x, (m.pad,) * 4, mode="reflect"))
    assert (co.details[0] - plain[:, 1:]).abs().max() > 1e-3


def test_analysis_synthesis_float32_over_100db():
    m = _randomise(WINNet(levels=1))
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, 64, 64, generator=g)
    with torch.no_grad():
        xr = m.synthesis(m.analysis(x, 25 / 255), 25 / 255)
    mse = float(((xr - x) ** 2).mean())
    assert 10 * np.log10(1.0 / mse) > 100


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
    m = _randomise(WINNet(levels=1), seed=5).double()
    y = torch.rand(2, 1, 14, 18, dtype=torch.float64)
    x = torch.rand(2, 1, 14, 18, dtype=torch.float64)
    sig = torch.tensor([25 / 255, 40 / 255], dtype=torch.float64)
    grads = []
    for fn in (m, m.reference_forward):
        m.zero_grad()
        ((fn(y, sig) - x) ** 2).sum().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in m.parameters()]))
    assert (grads[0] - grads[1]).abs().max() <= 1e-10 * grads[1].abs().max()


def test_depthwise_cpu_backward_gradcheck():
    from innverse.models.winnet import _DepthwiseCPU

    g = torch.Generator().manual_seed(0)
    for b, pad in ((5, 2), (1, 3)):  # batch not a multiple of the chunk; a wider padding
        x = torch.randn(b, 3, 7, 9, generator=g, dtype=torch.float64).requires_grad_()
        w = torch.randn(3, 1, 5, 5, generator=g, dtype=torch.float64).requires_grad_()
        assert torch.autograd.gradcheck(lambda a, k, p=pad: _DepthwiseCPU.apply(a, k, p), (x, w))
        ref = torch.nn.functional.conv2d(x, w, padding=pad, groups=3)
        assert torch.equal(_DepthwiseCPU.apply(x, w, pad), ref)


def test_axpy_function_gradcheck():
    from innverse.models.winnet import _AxpyFn

    g = torch.Generator().manual_seed(2)
    v, z = (torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64).requires_grad_() for _ in range(2))
    f = torch.randn(1, 3, 1, 1, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(_AxpyFn.apply, (v, z, f))
    assert torch.equal(_AxpyFn.apply(v, z, f), torch.addcmul(v, z, f))


def test_head_conv_is_channels_last_and_exact():
    """The lifting networks' first conv returns channels-last for 1- and 15-channel inputs (a
    layout regression costs ~6% of a training step) and equals conv2d to rounding."""
    from innverse.models.winnet import _head_conv

    g = torch.Generator().manual_seed(1)
    for cin, dil in ((1, 1), (1, 2), (15, 1), (15, 2)):
        x = torch.randn(3, cin, 11, 13, generator=g, dtype=torch.float64)
        w = torch.randn(6, cin, 3, 3, generator=g, dtype=torch.float64)
        y = _head_conv(x, w, dil)
        ref = torch.nn.functional.conv2d(x, w, padding=dil, dilation=dil)
        assert y.is_contiguous(memory_format=torch.channels_last)
        assert (y - ref).abs().max() < 1e-12
        xr = x.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda a, k=w, d=dil: _head_conv(a, k, d), (xr,))


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
    assert m.levels[0].denoiser.A.grad is not None and m.levels[0].steps[0].predict.head.grad is not None


def test_spectral_norm_of_a_known_kernel():
    m = WINNet(levels=1)
    net = m.levels[0].steps[0].predict
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


def test_nenet_on_pure_noise_and_chunking():
    n = _randomise(NENet(), seed=5)
    g = torch.Generator().manual_seed(0)
    y = 0.5 + 0.1 * torch.randn(2, 1, 40, 44, generator=g)
    with torch.no_grad():
        s_all = n(y)
        n.chunk = 50  # force many bands
        s_chunked = n(y)
    assert s_all.shape == (2,)
    assert torch.allclose(s_all, s_chunked, rtol=1e-4)
    # with a zero last layer every weight is sigmoid(0) = 1/2: sigma_hat^2 = lambda_min(P^T P) / N
    with torch.no_grad():
        n.convs[-1].zero_()
        s_uniform = n.double()(y[:1].double())
    a = y[0, 0].double().numpy()
    patches = np.lib.stride_tricks.sliding_window_view(a, (8, 8)).reshape(-1, 64)
    lam = np.linalg.eigvalsh(patches.T @ patches)[0] / len(patches)
    assert float(s_uniform) == pytest.approx(np.sqrt(lam), rel=1e-9)
    assert 0.05 < float(s_uniform) < 0.105  # the noise level, biased low by the minimum eigenvalue


def test_save_load_roundtrip(tmp_path):
    m = _randomise(WINNet(levels=2, pad=4))
    m.save(tmp_path / "w")
    r = load_model(tmp_path / "w")
    assert isinstance(r, WINNet) and r.config == m.config
    y = torch.rand(1, 1, 20, 20)
    with torch.no_grad():
        assert torch.equal(m(y, 0.1), r(y, 0.1))
    n = _randomise(NENet())
    n.save(tmp_path / "n")
    assert torch.equal(load_model(tmp_path / "n").convs[0], n.convs[0])


def test_bad_checkpoints_raise_user_errors(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable"):
        load_model(junk)
    wrong = tmp_path / "wrong.pth"
    torch.save({"foo.weight": torch.zeros(3)}, wrong)
    with pytest.raises(UserError):
        WINNet.from_official(wrong)
    with pytest.raises(UserError, match="not found"):
        load_model(tmp_path / "missing.pth")
    d = tmp_path / "ours"
    d.mkdir()
    (d / "model.safetensors").write_bytes(b"garbage")
    (d / "config.json").write_text('{"kind": "winnet", "config": {}}')
    with pytest.raises(UserError, match="safetensors"):
        load_model(d)


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
    with torch.no_grad():
        out = m(y, 25 / 255).clamp(0, 1)
        exact = m.synthesis(m.analysis(x, 25 / 255), 25 / 255)

    def psnr(a):
        return float(10 * torch.log10(1 / ((a - x) ** 2).mean()))

    assert psnr(out) > psnr(y) + 7
    assert psnr(exact) > 100
    m2 = WINNet.from_official(root / "WINNet_lvl_2_nlvl_25" / "net_WINNet.pth")
    assert len(m2.levels) == 2 and m2.levels[1].steps[0].predict.dilation == 2
    blind = load_model(root / "WINNet_lvl_1_nlvl_0_55" / "net_WINNet.pth")
    assert blind.blind


@pytest.mark.data
def test_official_nenet_estimates_sigma():
    root = require_data("weights", "winnet-official")
    n = NENet.from_official(root / "NENet" / "net_NENet.pth")
    x = _set12_image(0)[..., :128, :128]
    y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        s = float(n(y)) * 255
    assert abs(s - 25) < 3


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
    from innverse.data.testsets import add_seeded_noise, load_set
    from innverse.models import pretrained
    from innverse.solvers.tiled import tiled_apply

    require_data("Set12")
    m = pretrained("winnet-s25")
    i, (_, x) = next((i, im) for i, im in enumerate(load_set("Set12")) if im[1].shape[-1] == 512)
    y = add_seeded_noise(x, 25, i)
    with torch.no_grad():
        whole = m(y, 25 / 255).clamp(0, 1)
        tiled = tiled_apply(lambda t: m(t, 25 / 255), y, tile=256, overlap=32).clamp(0, 1)

    def psnr(a):
        return float(10 * torch.log10(1 / ((a - x) ** 2).mean()))

    assert abs(psnr(whole) - psnr(tiled)) <= 0.01
    assert (whole - tiled).abs().max() > 0  # the tiles really differ from one pass
