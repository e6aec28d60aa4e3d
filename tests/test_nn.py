"""Tests of innverse.nn: round trips, log-dets against autograd Jacobians, conditioning, ActNorm state,
odd sizes, the memory-saving wrapper and the testing helpers themselves."""

from __future__ import annotations

import re

import pytest
import torch
from torch import Tensor, nn

from innverse.nn import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    HaarSplit,
    Invertible1x1Conv,
    InvertibleCheckpoint,
    InvertibleModule,
    LiftingStep,
    PolyphaseSplit,
    Sequential,
    assert_invertible,
    jacobian_logdet,
    memory_saving,
)

# ----------------------------------------------------------------------------------------------------------
# helpers


def _randomise_last(coupling: AdditiveCoupling | AffineCoupling, std: float = 0.3) -> None:
    """Coupling nets start as the identity; give the zero-initialised layer random weights."""
    last = coupling.net[-1]
    with torch.no_grad():
        last.weight.normal_(0.0, std)
        last.bias.normal_(0.0, std)


def _conv(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, 6, 3, padding=1), nn.Tanh(), nn.Conv2d(6, cout, 3, padding=1))


class SigmaPredictor(nn.Module):
    """A predictor that uses the ``sigma`` conditioning keyword."""

    conditions = ("sigma",)

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.net = _conv(cin + 1, cout)

    def forward(self, c: Tensor, sigma: Tensor | float) -> Tensor:
        s = torch.as_tensor(sigma, dtype=c.dtype).reshape(-1, 1, 1, 1).expand(c.shape[0], 1, *c.shape[2:])
        return self.net(torch.cat((c, s), dim=1)) * (1.0 + s)


class KwargsUpdater(nn.Module):
    """An updater that takes ``**cond`` and uses ``sigma`` when present (it declares ``sigma``)."""

    conditions = ("sigma",)

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.net = _conv(cin, cout)

    def forward(self, d: Tensor, **cond) -> Tensor:
        sigma = torch.as_tensor(cond.get("sigma", 0.0), dtype=d.dtype).reshape(-1, 1, 1, 1)
        return self.net(d) * (1.0 + sigma)


def _actnorm(c: int, dtype: torch.dtype) -> ActNorm:
    a = ActNorm(c).to(dtype)
    a.initialize(torch.randn(4, c, 5, 5, dtype=dtype) * 1.7 + 0.4)
    return a


def _conv1x1(c: int, dtype: torch.dtype) -> Invertible1x1Conv:
    """A 1x1 conv moved away from its orthogonal (|det| = 1) initialisation."""
    m = Invertible1x1Conv(c).to(dtype)
    with torch.no_grad():
        m.log_s.add_(torch.linspace(-0.3, 0.5, c, dtype=dtype))
        m.lower.add_(0.2 * torch.randn(c, c, dtype=dtype))
        m.upper.add_(0.2 * torch.randn(c, c, dtype=dtype))
    return m


def _affine(c: int, dtype: torch.dtype) -> AffineCoupling:
    m = AffineCoupling(c, 8).to(dtype)
    _randomise_last(m)
    return m


def _additive(c: int, dtype: torch.dtype) -> AdditiveCoupling:
    m = AdditiveCoupling(c, 8).to(dtype)
    _randomise_last(m)
    return m


def _lifting(c: int, dtype: torch.dtype) -> LiftingStep:
    k = c // 4 if c >= 4 else 1
    return LiftingStep(_conv(k, c - k), _conv(c - k, k), coarse_channels=k).to(dtype)


def _full(c: int, dtype: torch.dtype) -> Sequential:
    """ActNorm -> 1x1 -> Affine -> Haar -> LiftingStep -> Additive -> Polyphase."""
    return Sequential(
        _actnorm(c, dtype),
        _conv1x1(c, dtype),
        _affine(c, dtype),
        HaarSplit(),
        LiftingStep(_conv(c, 3 * c), _conv(3 * c, c), coarse_channels=c).to(dtype),
        _additive(4 * c, dtype),
        PolyphaseSplit(),
    )


FACTORIES = {
    "actnorm": _actnorm,
    "1x1": _conv1x1,
    "affine": _affine,
    "additive": _additive,
    "haar": lambda c, dt: HaarSplit(),
    "polyphase": lambda c, dt: PolyphaseSplit(),
    "lifting": _lifting,
    "sequential": _full,
}


# ----------------------------------------------------------------------------------------------------------
# round trips, log-det contract, Jacobians


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_roundtrip(name: str, dtype: torch.dtype, tol: float) -> None:
    torch.manual_seed(0)
    module = FACTORIES[name](4, dtype)
    x = torch.randn(2, 4, 8, 8, dtype=dtype)
    err = assert_invertible(module, x, tol)
    assert err <= tol
    assert module.roundtrip_error(x) <= tol


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_logdet_contract(name: str, dtype: torch.dtype) -> None:
    torch.manual_seed(1)
    module = FACTORIES[name](4, dtype)
    x = torch.randn(3, 4, 8, 8, dtype=dtype)
    y, ld = module(x)
    assert ld.shape == (3,)
    assert ld.dtype == dtype
    assert ld.device == x.device
    assert y.shape[0] == 3 and y[0].numel() == x[0].numel()


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_logdet_matches_jacobian(name: str) -> None:
    torch.manual_seed(2)
    module = FACTORIES[name](2, torch.float64)
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    _, ld = module(x)
    ref = jacobian_logdet(module, x)
    torch.testing.assert_close(ld, ref, atol=1e-8, rtol=0)


def test_logdet_nonzero_blocks_are_nontrivial() -> None:
    """Guard against a vacuous Jacobian test: the volume-changing blocks really have log-det != 0."""
    torch.manual_seed(3)
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    for name in ("actnorm", "1x1", "affine", "sequential"):
        _, ld = FACTORIES[name](2, torch.float64)(x)
        assert float(ld.detach().abs().min()) > 1e-3, name


@pytest.mark.parametrize("cls", [AffineCoupling, AdditiveCoupling])
def test_coupling_odd_channels(cls: type) -> None:
    torch.manual_seed(4)
    m = cls(3, 8).double()
    _randomise_last(m)
    assert m.split == 1
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    assert_invertible(m, x, 1e-12)
    torch.testing.assert_close(m(x)[1], jacobian_logdet(m, x), atol=1e-8, rtol=0)
    y, _ = m(x)
    assert torch.equal(y[:, :1], x[:, :1])  # the conditioning half passes unchanged


def test_coupling_starts_as_identity() -> None:
    torch.manual_seed(5)
    x = torch.randn(2, 4, 4, 4)
    for m in (AffineCoupling(4, 8), AdditiveCoupling(4, 8)):
        y, ld = m(x)
        assert torch.equal(y, x) and torch.equal(ld, torch.zeros(2))


def test_affine_scale_is_clamped() -> None:
    torch.manual_seed(6)
    m = AffineCoupling(4, 8, clamp=1.5).double()
    _randomise_last(m, std=50.0)  # enormous raw log-scales
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64) * 10
    y, ld = m(x)
    n_scaled = 2 * 8 * 8
    assert bool((ld.abs() <= 1.5 * n_scaled).all())
    assert bool(torch.isfinite(m.inverse(y)).all())
    assert_invertible(m, x, 1e-10)


def test_channel_mismatch_raises() -> None:
    with pytest.raises(ValueError, match=re.escape("(1, 5, 4, 4)")):
        AffineCoupling(4, 8)(torch.zeros(1, 5, 4, 4))
    with pytest.raises(ValueError, match=re.escape("(1, 3, 4, 4)")):
        Invertible1x1Conv(4)(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=re.escape("(1, 2, 4, 4)")):
        LiftingStep(nn.Identity(), nn.Identity(), coarse_channels=2)(torch.zeros(1, 2, 4, 4))


# ----------------------------------------------------------------------------------------------------------
# splits


def test_haar_hand_computed_2x2() -> None:
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)
    y, ld = HaarSplit()(x)
    assert y.shape == (1, 4, 1, 1)
    # LL = (1+2+3+4)/2, LH = (1+2-3-4)/2, HL = (1-2+3-4)/2, HH = (1-2-3+4)/2
    assert y.flatten().tolist() == [5.0, -2.0, -1.0, 0.0]
    assert ld.tolist() == [0.0]


def test_haar_channel_layout_coarse_first() -> None:
    x = torch.zeros(1, 2, 2, 2, dtype=torch.float64)
    x[0, 0] = 1.0  # constant channel 0: only LL of channel 0 is non-zero
    x[0, 1] = torch.tensor([[1.0, -1.0], [1.0, -1.0]])  # channel 1: pure HL (varies along width)
    y, _ = HaarSplit()(x)
    assert y.flatten().tolist() == [2.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0]


def test_haar_is_orthonormal() -> None:
    torch.manual_seed(7)
    x = torch.randn(3, 2, 6, 8, dtype=torch.float64)
    y, _ = HaarSplit()(x)
    torch.testing.assert_close(y.pow(2).sum(dim=(1, 2, 3)), x.pow(2).sum(dim=(1, 2, 3)), atol=1e-12, rtol=0)
    xs = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda t: HaarSplit()(t)[0].reshape(-1), xs).reshape(16, 16)
    torch.testing.assert_close(jac @ jac.T, torch.eye(16, dtype=torch.float64), atol=1e-14, rtol=0)


def test_haar_matches_pywavelets() -> None:
    pywt = pytest.importorskip("pywt")
    torch.manual_seed(8)
    x = torch.randn(1, 1, 6, 4, dtype=torch.float64)
    y, _ = HaarSplit()(x)
    ca, (ch, cv, cd) = pywt.dwt2(x[0, 0].numpy(), "haar")
    for k, ref in enumerate((ca, ch, cv, cd)):
        torch.testing.assert_close(y[0, k], torch.from_numpy(ref), atol=1e-12, rtol=0)


def test_polyphase_layout() -> None:
    x = torch.arange(2 * 4 * 6, dtype=torch.float64).reshape(1, 2, 4, 6)
    y, ld = PolyphaseSplit()(x)
    c = 2
    assert torch.equal(y[:, :c], x[..., 0::2, 0::2])
    assert torch.equal(y[:, c : 2 * c], x[..., 0::2, 1::2])
    assert torch.equal(y[:, 2 * c : 3 * c], x[..., 1::2, 0::2])
    assert torch.equal(y[:, 3 * c :], x[..., 1::2, 1::2])
    assert torch.equal(PolyphaseSplit().inverse(y), x)
    assert ld.tolist() == [0.0]


@pytest.mark.parametrize("split", [HaarSplit(), PolyphaseSplit()])
@pytest.mark.parametrize("shape", [(1, 2, 5, 6), (2, 1, 6, 7), (1, 1, 3, 3)])
def test_odd_size_raises_with_shape(split: InvertibleModule, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        split(torch.zeros(shape))
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        Sequential(ActNorm(shape[1]).eval(), split)(torch.zeros(shape))


def test_split_inverse_rejects_bad_channels() -> None:
    with pytest.raises(ValueError, match=re.escape("(1, 6, 2, 2)")):
        HaarSplit().inverse(torch.zeros(1, 6, 2, 2))


# ----------------------------------------------------------------------------------------------------------
# lifting and conditioning


def test_lifting_forward_formula() -> None:
    torch.manual_seed(9)
    p, u = _conv(1, 3).double(), _conv(3, 1).double()
    step = LiftingStep(p, u, coarse_channels=1)
    x = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    y, ld = step(x)
    d = x[:, 1:] - p(x[:, :1])
    c = x[:, :1] + u(d)
    assert torch.equal(y, torch.cat((c, d), 1))
    assert torch.equal(ld, torch.zeros(2, dtype=torch.float64))


def test_lifting_passes_sigma() -> None:
    torch.manual_seed(10)
    step = LiftingStep(SigmaPredictor(1, 3), nn.Conv2d(3, 1, 3, padding=1), coarse_channels=1).double()
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    sigma = torch.tensor([0.1, 0.7], dtype=torch.float64)
    assert_invertible(step, x, 1e-12, sigma=sigma)
    y1, _ = step(x, sigma=sigma)
    y2, _ = step(x, sigma=sigma * 2)
    assert float((y1 - y2).detach().abs().max()) > 1e-3  # sigma really reaches the predictor
    assert float((step.inverse(y1, sigma=sigma * 2) - x).detach().abs().max()) > 1e-3
    torch.testing.assert_close(jacobian_logdet(step, x[:, :, :4, :4], sigma=sigma), torch.zeros(2).double())


def test_sequential_passes_cond_to_every_block() -> None:
    torch.manual_seed(11)
    step = LiftingStep(SigmaPredictor(2, 6), KwargsUpdater(6, 2), coarse_channels=2)
    seq = Sequential(ActNorm(2), Invertible1x1Conv(2), HaarSplit(), step, AdditiveCoupling(8, 4)).double()
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    seq(x, sigma=0.3)  # ActNorm initialisation (ignores sigma)
    assert_invertible(seq, x, 1e-12, sigma=0.3)
    y_a, _ = seq(x, sigma=0.3)
    y_b, _ = seq(x, sigma=0.9)
    assert float((y_a - y_b).detach().abs().max()) > 1e-3


def test_lifting_passes_cond_to_kwargs_module_only() -> None:
    """Networks get the keywords they declare; networks that declare none get none (no TypeError)."""
    torch.manual_seed(23)
    step = LiftingStep(nn.Conv2d(1, 3, 3, padding=1), KwargsUpdater(3, 1), coarse_channels=1).double()
    x = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        y_a, _ = step(x, sigma=0.2, other="ignored")
        y_b, _ = step(x, sigma=0.8)
    assert float((y_a - y_b).abs().max()) > 1e-3
    assert_invertible(step, x, 1e-12, sigma=0.2, other="ignored")


def test_lifting_any_predictor_is_invertible() -> None:
    """Even a wild, non-invertible predictor/updater gives an exactly invertible step."""
    torch.manual_seed(12)

    class Wild(nn.Module):
        def forward(self, t: Tensor) -> Tensor:
            return torch.sign(t) * t.pow(2).sum(1, keepdim=True).sqrt() * 5 + torch.relu(t).floor()

    step = LiftingStep(Wild(), Wild(), coarse_channels=2)
    assert_invertible(step, torch.randn(2, 4, 8, 8, dtype=torch.float64), 1e-12)


def test_lifting_rejects_bad_predictor_shape() -> None:
    step = LiftingStep(nn.Conv2d(1, 5, 1), nn.Conv2d(3, 1, 1), coarse_channels=1)
    with pytest.raises(ValueError, match="predictor"):
        step(torch.zeros(1, 4, 2, 2))


# ----------------------------------------------------------------------------------------------------------
# Glow blocks


def test_actnorm_data_dependent_init() -> None:
    torch.manual_seed(13)
    a = ActNorm(3).double()
    assert not bool(a.initialized)
    assert "initialized" in dict(a.named_buffers())
    x = torch.randn(4, 3, 6, 6, dtype=torch.float64) * torch.tensor([0.5, 2.0, 7.0]).view(1, 3, 1, 1) + 3.0
    y, ld = a(x)
    assert bool(a.initialized)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3).double(), atol=1e-10, rtol=0)
    std = y.std(dim=(0, 2, 3), unbiased=False)
    torch.testing.assert_close(std, torch.ones(3).double(), atol=1e-5, rtol=0)
    torch.testing.assert_close(ld, 36 * a.logs.sum().expand(4))
    logs = a.logs.detach().clone()
    a(x * 5 - 1)  # a second batch must not re-initialise
    assert torch.equal(a.logs.detach(), logs)


def test_actnorm_eval_does_not_initialise() -> None:
    a = ActNorm(2).eval()
    x = torch.randn(2, 2, 4, 4) * 3
    y, _ = a(x)
    assert not bool(a.initialized) and torch.equal(y, x)


def test_actnorm_state_dict_reload_never_reinitialises() -> None:
    torch.manual_seed(14)
    a = ActNorm(3).double()
    a(torch.randn(4, 3, 5, 5, dtype=torch.float64) * 4 + 1)
    state = a.state_dict()
    assert "initialized" in state and bool(state["initialized"])

    b = ActNorm(3).double()
    b.load_state_dict(state)
    assert bool(b.initialized)
    b.train()
    x_new = torch.randn(2, 3, 5, 5, dtype=torch.float64) * 0.1 - 7  # very different statistics
    yb, ldb = b(x_new)
    ya, lda = a(x_new)
    assert torch.equal(yb, ya) and torch.equal(ldb, lda)
    assert torch.equal(b.bias, a.bias) and torch.equal(b.logs, a.logs)


def test_1x1_init_is_orthogonal_and_seeded() -> None:
    torch.manual_seed(15)
    m = Invertible1x1Conv(5).double()
    w = m.weight()
    # parameters are created in the default dtype (float32), hence the float32-level tolerance
    torch.testing.assert_close(w @ w.T, torch.eye(5, dtype=torch.float64), atol=1e-6, rtol=0)
    assert abs(float(m.log_s.detach().sum())) < 1e-6  # |det| = 1 at init
    torch.manual_seed(15)
    assert torch.equal(Invertible1x1Conv(5).double().weight(), w)
    y, ld = m(torch.randn(2, 5, 3, 4, dtype=torch.float64))
    assert y.shape == (2, 5, 3, 4)


def test_1x1_logdet_after_training_step() -> None:
    torch.manual_seed(16)
    m = Invertible1x1Conv(3).double()
    with torch.no_grad():
        m.log_s.add_(torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64))
        m.lower.add_(0.2 * torch.randn(3, 3, dtype=torch.float64))
        m.upper.add_(0.2 * torch.randn(3, 3, dtype=torch.float64))
    x = torch.randn(2, 3, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(m(x)[1], torch.full((2,), 6 * 0.6, dtype=torch.float64))
    torch.testing.assert_close(m(x)[1], jacobian_logdet(m, x), atol=1e-8, rtol=0)
    assert_invertible(m, x, 1e-12)


# ----------------------------------------------------------------------------------------------------------
# Sequential


def test_sequential_container() -> None:
    torch.manual_seed(17)
    seq = _full(4, torch.float64)
    assert len(seq) == 7
    assert isinstance(seq[0], ActNorm) and isinstance(seq[-1], PolyphaseSplit)
    head = seq[:3]
    assert isinstance(head, Sequential) and len(head) == 3 and head[2] is seq[2]
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    y_head, ld_head = head(x)
    y, ld = seq[3:](y_head)
    y_all, ld_all = seq(x)
    torch.testing.assert_close(y, y_all, atol=0, rtol=0)
    torch.testing.assert_close(ld + ld_head, ld_all, atol=1e-12, rtol=0)
    assert [type(b) for b in seq] == [type(seq[i]) for i in range(7)]
    with pytest.raises(TypeError):
        Sequential(nn.Conv2d(1, 1, 1))


# ----------------------------------------------------------------------------------------------------------
# the checkers can fail


class _BrokenLifting(LiftingStep):
    """Inverse undoes predict and update in the wrong order: not an inverse."""

    def inverse(self, y: Tensor, **cond) -> Tensor:
        c, d = y[:, : self.coarse_channels], y[:, self.coarse_channels :]
        d = d + self.predictor(c)
        c = c - self.updater(d)
        return torch.cat((c, d), dim=1)


class _WrongLogdet(AffineCoupling):
    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        y, ld = super().forward(x)
        return y, 0.5 * ld


class _BatchCoupled(InvertibleModule):
    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        return x + 0.1 * x.flip(0), x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor, **cond) -> Tensor:
        return (y - 0.1 * y.flip(0)) / 0.99


def test_checkers_detect_broken_blocks() -> None:
    torch.manual_seed(18)
    x = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    broken = _BrokenLifting(_conv(1, 3), _conv(3, 1), coarse_channels=1).double()
    with pytest.raises(AssertionError, match="round-trip"):
        assert_invertible(broken, x, 1e-6)
    with pytest.raises(AssertionError, match="round-trip"):
        inner = _BrokenLifting(_conv(4, 12), _conv(12, 4), coarse_channels=4).double()
        assert_invertible(Sequential(HaarSplit(), inner), x, 1e-6)

    wrong = _WrongLogdet(4, 8).double()
    _randomise_last(wrong)
    assert float((wrong(x)[1].detach() - jacobian_logdet(wrong, x)).abs().max()) > 1e-3

    coupled = _BatchCoupled()
    assert_invertible(coupled, x, 1e-12)  # invertible ...
    with pytest.raises(AssertionError, match="coupled"):
        jacobian_logdet(coupled, x)  # ... but without a per-sample log-det

    class BadLogdet(InvertibleModule):
        def __init__(self, shape: tuple[int, ...], dtype: torch.dtype) -> None:
            super().__init__()
            self.shape, self.dtype = shape, dtype

        def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
            return x, torch.zeros(self.shape, dtype=self.dtype)

        def inverse(self, y: Tensor, **cond) -> Tensor:
            return y

    assert_invertible(BadLogdet((2,), torch.float64), x, 0.0)
    with pytest.raises(AssertionError, match="shape"):
        assert_invertible(BadLogdet((1,), torch.float64), x, 1e-12)
    with pytest.raises(AssertionError, match="dtype"):
        assert_invertible(BadLogdet((2,), torch.float32), x, 1e-12)


# ----------------------------------------------------------------------------------------------------------
# memory saving


def _grads(module: nn.Module, x: Tensor, wy: Tensor, wl: Tensor, **cond) -> list[Tensor]:
    xi = x.clone().requires_grad_(True)
    module.zero_grad(set_to_none=True)
    y, ld = module(xi, **cond)
    loss = (y * wy).sum() + (ld * wl).sum() + 0.5 * y.pow(2).sum()
    loss.backward()
    return [xi.grad] + [p.grad for p in module.parameters()]


def test_checkpoint_gradients_equal_plain() -> None:
    torch.manual_seed(19)
    seq = Sequential(
        _actnorm(2, torch.float64),
        _affine(2, torch.float64),
        Invertible1x1Conv(2).double(),
        HaarSplit(),
        LiftingStep(SigmaPredictor(2, 6), KwargsUpdater(6, 2), coarse_channels=2).double(),
        _additive(8, torch.float64),
        Sequential(_affine(8, torch.float64), _lifting(8, torch.float64)),
    )
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    y_plain, ld_plain = seq(x, sigma=0.4)
    wy = torch.randn_like(y_plain)
    wl = torch.randn(2, dtype=torch.float64)

    plain = _grads(seq, x, wy, wl, sigma=0.4)
    wrapped = memory_saving(seq)
    assert isinstance(wrapped, InvertibleCheckpoint) and memory_saving(wrapped) is wrapped
    saved = _grads(wrapped, x, wy, wl, sigma=0.4)

    assert len(plain) == len(saved) == 1 + len(list(seq.parameters()))
    for i, (g_plain, g_saved) in enumerate(zip(plain, saved, strict=True)):
        assert g_plain is not None and g_saved is not None, i
        assert float((g_plain - g_saved).abs().max()) <= 1e-10, i
    assert any(float(g.abs().max()) > 0 for g in plain[1:])

    y, ld = wrapped(x, sigma=0.4)
    assert torch.equal(y, y_plain.detach()) and torch.equal(ld, ld_plain.detach())
    torch.testing.assert_close(wrapped.inverse(y, sigma=0.4), x, atol=1e-12, rtol=0)


def test_checkpoint_recomputes_from_output_and_keeps_no_graph() -> None:
    torch.manual_seed(20)
    calls = {"inverse": 0}

    class Counting(AffineCoupling):
        def inverse(self, y: Tensor, **cond) -> Tensor:
            calls["inverse"] += 1
            return super().inverse(y, **cond)

    blocks = [Counting(4, 8).double() for _ in range(3)]
    for b in blocks:
        _randomise_last(b)
    wrapped = InvertibleCheckpoint(Sequential(*blocks))
    x = torch.randn(2, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    y, ld = wrapped(x)
    assert calls["inverse"] == 0
    # only the wrapper's own node is in the graph: no coupling-net activations are stored
    assert type(y.grad_fn).__name__.startswith("_InvertibleRecompute")
    assert y.grad_fn is ld.grad_fn
    (y.sum() + ld.sum()).backward()
    assert calls["inverse"] == 3
    assert x.grad is not None and all(p.grad is not None for p in wrapped.parameters())


def test_checkpoint_shared_parameters_accumulate() -> None:
    """A block used twice: its parameter gradients from both uses must be summed."""
    torch.manual_seed(24)
    shared = _affine(4, torch.float64)
    seq = Sequential(shared, _conv1x1(4, torch.float64), shared)
    x = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    wy, wl = torch.randn(2, 4, 4, 4, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    plain = _grads(seq, x, wy, wl)
    saved = _grads(InvertibleCheckpoint(seq), x, wy, wl)
    for g_plain, g_saved in zip(plain, saved, strict=True):
        assert float((g_plain - g_saved).abs().max()) <= 1e-10


def test_checkpoint_gradient_wrt_conditioning_tensor() -> None:
    torch.manual_seed(21)
    step = LiftingStep(SigmaPredictor(1, 3), _conv(3, 1), coarse_channels=1).double()
    x = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    grads = []
    for module in (step, InvertibleCheckpoint(step)):
        sigma = torch.tensor([0.2, 0.6], dtype=torch.float64, requires_grad=True)
        y, _ = module(x, sigma=sigma)
        y.pow(2).sum().backward()
        grads.append(sigma.grad)
    assert float((grads[0] - grads[1]).abs().max()) <= 1e-10


def test_checkpoint_no_grad_passthrough() -> None:
    torch.manual_seed(22)
    seq = _full(2, torch.float64)
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        y, ld = InvertibleCheckpoint(seq)(x)
    y_ref, ld_ref = seq(x)
    assert torch.equal(y, y_ref) and torch.equal(ld, ld_ref.detach())
