"""NENet: the weighted-PCA estimate, chunking, the released checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import require_data
from innverse.models import NENet, load_model
from innverse.models.winnet import count_parameters
from innverse.nn.testing import randomise_


def test_parameter_count_matches_the_paper():
    assert count_parameters(NENet()) == 6_560


def test_nenet_on_pure_noise_and_chunking():
    n = randomise_(NENet(), 0.1, seed=5)
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
    n = randomise_(NENet(), 0.1, seed=1)
    n.save(tmp_path / "n")
    r = load_model(tmp_path / "n")
    assert isinstance(r, NENet) and not r.training
    assert torch.equal(r.convs[0], n.convs[0])


@pytest.mark.data
def test_official_nenet_estimates_sigma():
    from PIL import Image

    root = require_data("weights", "winnet-official")
    n = NENet.from_official(root / "NENet" / "net_NENet.pth")
    f = sorted(require_data("Set12").glob("*.png"))[0]
    x = torch.from_numpy(np.asarray(Image.open(f).convert("L"), dtype=np.float32) / 255.0)[None, None]
    x = x[..., :128, :128]
    y = x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        s = float(n(y)) * 255
    assert abs(s - 25) < 3
    assert isinstance(load_model(root / "NENet" / "net_NENet.pth"), NENet)


def _per_patch_scatter(n: NENet, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition: every 8x8 patch (stride 1) weighted on its own by the CNN."""
    p = n.patch
    pat = torch.nn.functional.unfold(y, p).transpose(1, 2)  # (B, L, 64), row-major patches
    w = n.weights(pat.reshape(-1, p * p)).reshape(y.shape[0], -1)
    return torch.einsum("bli,blj->bij", pat * w.unsqueeze(-1), pat), w.sum(1)


@pytest.mark.parametrize("chunk", [1 << 16, 40, 7])
def test_strip_computation_equals_the_per_patch_definition(chunk):
    """Column strips with windowed outputs equal the CNN on every patch separately (float64), for
    chunks of many strips, of a few patch rows, and of single strips; gradients too."""
    n = randomise_(NENet(), 0.1, seed=3).double()
    n.chunk = chunk
    g = torch.Generator().manual_seed(1)
    y = (0.5 + 0.2 * torch.randn(2, 1, 23, 19, generator=g, dtype=torch.float64)).requires_grad_()
    scat, wsum = n.scatter(y)
    ref_scat, ref_wsum = _per_patch_scatter(n, y)
    torch.testing.assert_close(scat, ref_scat, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(wsum, ref_wsum, rtol=1e-12, atol=1e-12)
    gy, gw = torch.autograd.grad((scat * scat).sum() + wsum.sum(), (y, n.convs[2]))
    ry, rw = torch.autograd.grad((ref_scat * ref_scat).sum() + ref_wsum.sum(), (y, n.convs[2]))
    torch.testing.assert_close(gy, ry, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gw, rw, rtol=1e-10, atol=1e-12)


def test_float32_estimate_matches_float64():
    n = randomise_(NENet(), 0.1, seed=4)
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 1, 24, 24, generator=g)
    y = torch.nn.functional.interpolate(x, size=(96, 112), mode="bicubic", align_corners=False)
    y = y + 5 / 255 * torch.randn(y.shape, generator=g)
    with torch.no_grad():
        s32 = float(n(y))
        s64 = float(n.double()(y.double()))
    assert s32 == pytest.approx(s64, rel=1e-4)
