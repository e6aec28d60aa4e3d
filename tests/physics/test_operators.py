"""The operator contract over every linear operator of innverse.physics: adjoint, prox, pseudo-inverse,
SVD (against a dense SVD), noise, shapes, dtypes and devices."""

from __future__ import annotations

import pytest
import torch

from innverse.data.degrade import seeded_noise
from innverse.errors import UserError
from innverse.physics import (
    CircularBlur,
    Denoising,
    Downsampling,
    Inpainting,
    LinearOperator,
    QuantizedDownsampling,
    conjugate_gradient,
)

SHAPE = (2, 8, 12)  # (C, H, W) used by the contract tests


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _operators() -> dict[str, LinearOperator]:
    g = _gen(0)
    kernel = torch.rand(5, 4, generator=g, dtype=torch.float64)
    mask = torch.rand(SHAPE[1:], generator=g) < 0.6
    return {
        "denoising": Denoising(),
        "blur": CircularBlur(kernel / kernel.sum()),
        "blur-raw": CircularBlur(kernel - 0.3),  # signed, not normalised: phases of both signs
        "average2": Downsampling(2),
        "average4": Downsampling(4),
        "bicubic2": Downsampling(2, kind="bicubic"),
        "bicubic4": Downsampling(4, kind="bicubic"),
        "inpainting": Inpainting(mask),
        "inpainting-cmask": Inpainting(torch.rand(SHAPE, generator=g) < 0.5),
    }


OPS = _operators()
NAMES = sorted(OPS)
SVD_NAMES = [n for n in NAMES if OPS[n].has_svd]


def _x(batch: int = 3, seed: int = 1, shape=SHAPE) -> torch.Tensor:
    return torch.rand(batch, *shape, generator=_gen(seed), dtype=torch.float64)


def _y(op: LinearOperator, batch: int = 3, seed: int = 2) -> torch.Tensor:
    return torch.randn(batch, *op.output_shape(SHAPE), generator=_gen(seed), dtype=torch.float64)


def dense(fn, in_shape) -> torch.Tensor:
    """The matrix of a linear map of per-sample inputs ``in_shape`` (columns: images of the basis)."""
    n = 1
    for s in in_shape:
        n *= s
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *in_shape)
    return fn(basis).reshape(n, -1).T


@pytest.mark.parametrize("name", NAMES)
def test_adjoint(name):
    op = OPS[name]
    x, y = _x(), _y(op)
    ax = op.A(x)
    assert ax.shape == y.shape and ax.dtype == torch.float64
    lhs = (ax * y).sum()
    rhs = (x * op.A_adjoint(y)).sum()
    assert abs(float(lhs - rhs)) <= 1e-10 * max(1.0, abs(float(lhs)))


@pytest.mark.parametrize("name", NAMES)
def test_dense_adjoint_is_transpose(name):
    op = OPS[name]
    shape = SHAPE
    a = dense(op.A, shape)
    at = dense(op.A_adjoint, op.output_shape(shape))
    torch.testing.assert_close(at, a.T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_prox_optimality(name):
    """The gradient of ½‖y − A x‖² + 1/(2γ)‖x − z‖² vanishes at prox(z, y, γ), for scalar and per-sample γ."""
    op = OPS[name]
    z, y = _x(seed=3), _y(op, seed=4)
    for gamma in (0.3, 5.0, torch.tensor([0.1, 1.0, 20.0], dtype=torch.float64)):
        p = op.prox(z, y, gamma)
        g = gamma if isinstance(gamma, float) else gamma.reshape(-1, 1, 1, 1)
        grad = op.A_adjoint(op.A(p) - y) + (p - z) / g
        assert p.shape == z.shape and float(grad.abs().max()) < 1e-9, name


@pytest.mark.parametrize("name", NAMES)
def test_prox_matches_conjugate_gradients(name):
    """Closed forms agree with the generic conjugate-gradient prox of the base class."""
    op = OPS[name]
    z, y = _x(seed=5), _y(op, seed=6)
    closed = op.prox(z, y, 2.0)
    generic = LinearOperator.prox(op, z, y, 2.0)
    torch.testing.assert_close(closed, generic, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_pinv_right_inverse_and_penrose(name):
    op = OPS[name]
    y = op.A(_x(seed=7))  # in the range of A (inpainting: zeros off the mask)
    if name.startswith("blur"):
        y = _y(op, seed=7)  # these kernels have no zero in their OTF on 8x12: A is invertible
    p = op.A_pinv(y)
    torch.testing.assert_close(op.A(p), y, rtol=0, atol=1e-9)
    torch.testing.assert_close(op.A_pinv(op.A(p)), p, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_pinv_is_dense_pinv(name):
    op = OPS[name]
    shape = SHAPE
    out = op.output_shape(shape)
    ref = torch.linalg.pinv(dense(op.A, shape))
    torch.testing.assert_close(dense(op.A_pinv, out), ref, rtol=0, atol=1e-8)


@pytest.mark.parametrize("name", SVD_NAMES)
def test_svd_reconstructs_and_is_orthogonal(name):
    op = OPS[name]
    svd = op.svd(SHAPE)
    x = _x(seed=8)
    v = svd.V_adjoint(x)
    assert v.shape == (3, svd.D) and svd.D == 2 * 8 * 12
    s = svd.singular_values()
    assert s.shape == (svd.M,) and s.dtype == torch.float64 and bool((s >= 0).all())
    torch.testing.assert_close(svd.V(v), x, rtol=0, atol=1e-12)  # V Vᵀ = I
    w = torch.randn(3, svd.D, generator=_gen(9), dtype=torch.float64)
    torch.testing.assert_close(svd.V_adjoint(svd.V(w)), w, rtol=0, atol=1e-12)  # Vᵀ V = I
    u = torch.randn(3, svd.M, generator=_gen(10), dtype=torch.float64)
    torch.testing.assert_close(svd.U_adjoint(svd.U(u)), u, rtol=0, atol=1e-12)  # Uᵀ U = I
    torch.testing.assert_close(svd.A(x), op.A(x), rtol=0, atol=1e-12)
    y = _y(op, seed=11)
    torch.testing.assert_close(svd.A_adjoint(y), op.A_adjoint(y), rtol=0, atol=1e-12)
    torch.testing.assert_close(svd.prox(x, y, 0.7), op.prox(x, y, 0.7), rtol=0, atol=1e-10)
    # the DDRM layout: A x = U(s * Vt(x)[:, :M]), add_zeros pads to D
    torch.testing.assert_close(svd.U(s * v[:, : svd.M]), op.A(x), rtol=0, atol=1e-12)
    padded = svd.add_zeros(u)
    assert padded.shape == (3, svd.D) and torch.equal(padded[:, : svd.M], u) and not padded[:, svd.M :].any()


@pytest.mark.parametrize("name", SVD_NAMES)
def test_singular_values_match_dense_svd(name):
    op = OPS[name]
    shape = SHAPE
    ours = torch.sort(op.svd(shape).singular_values(), descending=True).values
    ref = torch.linalg.svdvals(dense(op.A, shape))
    m = min(ours.numel(), ref.numel())
    torch.testing.assert_close(ours[:m], ref[:m], rtol=0, atol=1e-10)
    assert bool((ref[m:].abs() < 1e-10).all()) and bool((ours[m:].abs() < 1e-10).all())


def test_svd_is_cached_and_refused_without_one():
    op = Downsampling(2)
    assert op.svd(SHAPE) is op.svd(SHAPE)
    with pytest.raises(UserError, match="no closed-form singular value"):
        Downsampling(2, kind="bicubic").svd(SHAPE)
    with pytest.raises(UserError, match="x_shape"):
        op.svd((8, 12))
    with pytest.raises(UserError, match="has none"):
        Downsampling(2, kind="bicubic").require_svd("ddrm")
    op.require_svd("ddrm")


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name):
    op = OPS[name]
    x = _x().float()
    y = op.A(x)
    assert y.dtype == torch.float32 and op.A_adjoint(y).dtype == torch.float32
    assert op.prox(x, y, 1.0).dtype == torch.float32 and op.A_pinv(y).dtype == torch.float32
    torch.testing.assert_close(y.double(), op.A(x.double()), rtol=0, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name):
    op = OPS[name]
    x, y = _x(), _y(op)
    torch.testing.assert_close(op.A(x.cuda()).cpu(), op.A(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(op.A_adjoint(y.cuda()).cpu(), op.A_adjoint(y), rtol=0, atol=1e-12)
    torch.testing.assert_close(op.prox(x.cuda(), y.cuda(), 0.5).cpu(), op.prox(x, y, 0.5), rtol=0, atol=1e-9)
    if op.has_svd:
        svd = op.svd(SHAPE, device="cuda")
        torch.testing.assert_close(svd.A(x.cuda()).cpu(), op.A(x), rtol=0, atol=1e-12)
    # noise from a CPU generator is the same on either device
    noisy = type(op).__call__(op, x.cuda(), _gen(3))
    assert noisy.device.type == "cuda"


def test_noise_is_seeded_and_matches_the_benchmark_convention():
    x = _x(batch=1).float()
    op = Denoising(sigma=25 / 255)
    y = op(x, _gen(7))
    assert torch.equal(y, x + seeded_noise(x.shape, 25, 7))
    assert torch.equal(op(x, _gen(7)), y) and not torch.equal(op(x, _gen(8)), y)
    assert torch.equal(Denoising()(x, _gen(7)), x)  # sigma = 0: no noise
    # float64 images get the same float32 draws
    y64 = op(x.double(), _gen(7))
    assert torch.equal(y64, x.double() + seeded_noise(x.shape, 25, 7).double())
    blurred = CircularBlur(torch.ones(3, 3) / 9, sigma=0.1)
    assert blurred(x, _gen(1)).shape == x.shape


def test_noise_std():
    op = Downsampling(2, sigma=0.05)
    x = torch.zeros(4, 1, 128, 128)
    n = op(x, _gen(0))
    assert n.shape == (4, 1, 64, 64) and abs(float(n.std()) - 0.05) < 0.002


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: Denoising(sigma=-1), "sigma"),
        (lambda: Denoising(sigma=float("nan")), "sigma"),
        (lambda: Denoising(sigma="a"), "sigma"),
        (lambda: Downsampling(0), "factor"),
        (lambda: Downsampling(2.0), "factor"),
        (lambda: Downsampling(2, kind="nearest"), "kind"),
        (lambda: CircularBlur(torch.ones(3)), "2-D"),
        (lambda: CircularBlur([[1.0, float("inf")]]), "NaN or infinite"),
        (lambda: Inpainting(torch.ones(5)), "mask"),
        (lambda: Inpainting(torch.full((4, 4), 0.5)), "0/1"),
        (lambda: QuantizedDownsampling(quality=0), "quality"),
        (lambda: QuantizedDownsampling(factor=-2), "factor"),
    ],
)
def test_bad_arguments_raise_one_line(make, match):
    with pytest.raises(UserError, match=match) as e:
        make()
    assert "\n" not in str(e.value)


def test_bad_inputs_raise_one_line():
    x = _x()
    cases = [
        (lambda: Downsampling(5).A(x), "not divisible"),
        (lambda: Downsampling(2).A(x[0]), r"\(B, C, H, W\)"),
        (lambda: Denoising().A(x.numpy()), "torch tensor"),
        (lambda: Denoising().A(x.long()), "floating-point"),
        (lambda: CircularBlur(torch.ones(9, 9)).A(x), "larger than the image"),
        (lambda: Inpainting(torch.ones(4, 4)).A(x), "do not match the mask"),
        (lambda: Denoising().prox(x, x, -1.0), "gamma"),
        (lambda: Denoising().prox(x, x, torch.ones(2)), "gamma"),
        (lambda: QuantizedDownsampling().A_surrogate(x[:, :, :6]), "not divisible"),
    ]
    for fn, match in cases:
        with pytest.raises(UserError, match=match) as e:
            fn()
        assert "\n" not in str(e.value)


def test_conjugate_gradient_solves_per_sample_systems():
    g = _gen(0)
    m = torch.randn(6, 6, generator=g, dtype=torch.float64)
    spd = m @ m.T + 0.5 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(3, 6, generator=g, dtype=torch.float64)
    b[1] = 0  # a zero right-hand side converges at once to 0
    x = conjugate_gradient(lambda v: v @ spd, b, tol=1e-13)
    torch.testing.assert_close(x, torch.linalg.solve(spd, b.T).T, rtol=0, atol=1e-10)
    assert not x[1].any()


def test_linearity_flags():
    assert all(op.linear for op in OPS.values())
    q = QuantizedDownsampling()
    assert not q.linear
    with pytest.raises(UserError, match="ddrm needs a linear forward operator; .* is non-linear"):
        q.require_linear("ddrm")
    with pytest.raises(UserError, match="non-linear"):
        q.require_svd("ddrm")
    OPS["average4"].require_linear("ilvr")
