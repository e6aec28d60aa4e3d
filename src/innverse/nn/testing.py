"""Reusable checks for invertible blocks and frames (use them in the tests of your own blocks).

* :func:`assert_invertible` -- a bijection's round trip and log-det contract;
* :func:`jacobian_logdet` -- the reference log-det from the autograd Jacobian;
* :func:`assert_left_inverse` -- a frame's ``synthesis(analysis(x)) == x``;
* :func:`randomise_` -- move a block away from its (often identity) initialisation;
* :func:`examples` -- one small, non-trivial instance of every block of :mod:`innverse.nn`, the list
  innverse's contract test runs over (:func:`register_example` adds your own).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch
from torch import Tensor, nn
from torch.autograd.functional import jacobian

__all__ = [
    "assert_invertible",
    "jacobian_logdet",
    "assert_left_inverse",
    "LeftInvertible",
    "randomise_",
    "Example",
    "examples",
    "register_example",
]


@torch.no_grad()
def assert_invertible(module: nn.Module, x: Tensor, tol: float, **cond: Any) -> float:
    """Assert ``module.inverse(module(x)[0]) == x`` to max-abs error ``<= tol``; return that error.

    Also asserts the forward ``log_det`` follows the contract: shape ``(B,)``, ``x``'s dtype and device,
    finite.  Raises ``AssertionError`` with the measured error otherwise.
    """
    y, log_det = module(x, **cond)
    b = x.shape[0]
    assert isinstance(log_det, Tensor), f"log_det must be a Tensor, got {type(log_det).__name__}"
    assert log_det.shape == (b,), f"log_det has shape {tuple(log_det.shape)}, expected ({b},)"
    assert log_det.dtype == x.dtype, f"log_det dtype {log_det.dtype} != input dtype {x.dtype}"
    assert log_det.device == x.device, f"log_det device {log_det.device} != input device {x.device}"
    assert bool(torch.isfinite(log_det).all()), "log_det is not finite"
    assert y.shape[0] == b and y[0].numel() == x[0].numel(), (
        f"output shape {tuple(y.shape)} does not preserve the per-sample size of input {tuple(x.shape)}"
    )
    inverse = getattr(module, "inverse", None)
    assert callable(inverse), f"{type(module).__name__} has no inverse method"
    x_rec = inverse(y, **cond)
    assert x_rec.shape == x.shape, f"inverse returned shape {tuple(x_rec.shape)}, expected {tuple(x.shape)}"
    err = float((x_rec - x).abs().max())
    assert err <= tol, f"round-trip max error {err:.3e} exceeds tol {tol:.1e} for {type(module).__name__}"
    return err


def jacobian_logdet(module: nn.Module, x: Tensor, check_independent: bool = True, **cond: Any) -> Tensor:
    """``log|det dy/dx|`` per sample from the full autograd Jacobian of ``module``'s forward; shape ``(B,)``.

    The Jacobian of the whole batch is computed with :func:`torch.autograd.functional.jacobian` and the
    per-sample diagonal blocks go through ``torch.linalg.slogdet``.  With ``check_independent`` the
    cross-sample blocks must be zero (a block whose output for sample i depends on sample j has no per-sample
    log-det).  Cost grows like ``(numel of x)^2``: use small inputs.  The module runs in whatever mode it is
    in; initialise data-dependent layers (ActNorm) before calling this.
    """
    b = x.shape[0]
    d = x[0].numel()

    def f(inp: Tensor) -> Tensor:
        out: Tensor = module(inp, **cond)[0]
        return out.reshape(-1)

    jac = jacobian(f, x.detach())
    assert isinstance(jac, Tensor)
    if jac.shape[0] != b * d:
        raise ValueError(f"output has {jac.shape[0]} elements, input {b * d}: the Jacobian is not square")
    jac = jac.reshape(b, d, b, d)
    idx = torch.arange(b, device=jac.device)
    diag = jac[idx, :, idx, :]  # (B, D, D)
    if check_independent and b > 1:
        off = jac.clone()
        off[idx, :, idx, :] = 0
        scale = float(diag.abs().max())
        assert float(off.abs().max()) <= 1e-12 * max(scale, 1.0), "samples of the batch are coupled"
    return torch.linalg.slogdet(diag).logabsdet


class LeftInvertible(Protocol):
    """Anything with an ``analysis`` and a left-inverse ``synthesis`` (a :class:`~innverse.nn.Frame`,
    or a model such as WINNet whose coefficients are not a single tensor)."""

    def analysis(self, x: Tensor, **cond: Any) -> Any: ...

    def synthesis(self, y: Any, **cond: Any) -> Tensor: ...


def _tensors(obj: Any) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, list | tuple):
        return [t for o in obj for t in _tensors(o)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [t for f in dataclasses.fields(obj) for t in _tensors(getattr(obj, f.name))]
    return []


@torch.no_grad()
def assert_left_inverse(frame: LeftInvertible, x: Tensor, tol: float, **cond: Any) -> float:
    """Assert ``frame.synthesis(frame.analysis(x)) == x`` to max-abs error ``<= tol``; return that error.

    Also asserts that the coefficients (a tensor, or the tensors of a list/dataclass) are finite, keep
    ``x``'s dtype and device, hold at least as many values per sample as ``x`` (a frame is redundant),
    and that the synthesis returns ``x``'s shape, dtype and device.
    """
    y = frame.analysis(x, **cond)
    parts = _tensors(y)
    assert parts, f"analysis of {type(frame).__name__} returned no tensors ({type(y).__name__})"
    for t in parts:
        assert t.dtype == x.dtype, f"coefficient dtype {t.dtype} != input dtype {x.dtype}"
        assert t.device == x.device, f"coefficient device {t.device} != input device {x.device}"
        assert t.shape[0] == x.shape[0], f"coefficients {tuple(t.shape)} lost the batch of {x.shape[0]}"
        assert bool(torch.isfinite(t).all()), "coefficients are not finite"
    per_sample = sum(t[0].numel() for t in parts)
    assert per_sample >= x[0].numel(), (
        f"analysis gives {per_sample} values per sample for {x[0].numel()} inputs: not a frame"
    )
    x_rec = frame.synthesis(y, **cond)
    assert x_rec.shape == x.shape, f"synthesis returned shape {tuple(x_rec.shape)}, expected {tuple(x.shape)}"
    assert x_rec.dtype == x.dtype and x_rec.device == x.device, "synthesis changed the dtype or device"
    err = float((x_rec - x).abs().max())
    assert err <= tol, f"left-inverse max error {err:.3e} exceeds tol {tol:.1e} for {type(frame).__name__}"
    return err


@torch.no_grad()
def randomise_(module: nn.Module, std: float = 0.1, seed: int = 0) -> nn.Module:
    """Give every floating-point parameter of ``module`` values ``std * N(0, 1)`` from a seeded generator
    (zero-initialised output layers otherwise make many blocks the identity); returns ``module``."""
    g = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        if p.is_floating_point():
            p.copy_(std * torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype))
    return module


@dataclass(frozen=True)
class Example:
    """A small, non-trivial instance of a block for the contract test.

    ``build()`` returns a fresh float64 module (the test casts it); ``shape`` is the input shape;
    ``cond(x)`` the conditioning keywords for input ``x``; ``kind`` says which contract applies;
    ``randomise`` whether the test should call :func:`randomise_` on it (set False for blocks whose
    parameters must keep a structure, e.g. a data-initialised ActNorm the builder already set up).
    """

    name: str
    build: Callable[[], nn.Module]
    shape: tuple[int, ...]
    kind: Literal["bijection", "frame"] = "bijection"
    cond: Callable[[Tensor], dict[str, Any]] = field(default=lambda x: {})
    randomise: bool = True


_EXAMPLES: dict[str, Example] = {}


def register_example(example: Example) -> Example:
    """Add ``example`` to :func:`examples` (names are unique; registering a name again replaces it)."""
    _EXAMPLES[example.name] = example
    return example


def _conv(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, 6, 3, padding=1), nn.Tanh(), nn.Conv2d(6, cout, 3, padding=1))


class _SigmaNet(nn.Module):
    """A small predictor conditioned on a noise level (for the conditioned lifting example)."""

    conditions = ("sigma",)

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.net = _conv(cin + 1, cout)

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        s = sigma.to(x.dtype).reshape(-1, 1, 1, 1).expand(x.shape[0], 1, *x.shape[2:])
        return self.net(torch.cat((x, s), dim=1)) * (1.0 + s)


def _builtin_examples() -> list[Example]:
    from .checkpoint import InvertibleCheckpoint
    from .coupling import AdditiveCoupling, AffineCoupling, conv_subnet, mlp_subnet
    from .frames import DCTFrame
    from .glow import ActNorm, Invertible1x1Conv, Permute
    from .lifting import LiftingChain, LiftingStep
    from .sequential import Sequential
    from .splits import HaarSplit, PolyphaseSplit

    def sigma(x: Tensor) -> dict[str, Any]:
        return {"sigma": torch.linspace(0.1, 0.5, x.shape[0], dtype=x.dtype, device=x.device)}

    def image_cond(x: Tensor) -> dict[str, Any]:
        g = torch.Generator().manual_seed(7)
        c = torch.randn(x.shape[0], 2, *x.shape[2:], generator=g, dtype=torch.float64)
        return {"cond": c.to(device=x.device, dtype=x.dtype)}

    def actnorm() -> nn.Module:
        a = ActNorm(2).double().eval()
        with torch.no_grad():
            a.bias.copy_(torch.tensor([0.3, -0.2], dtype=torch.float64).reshape(1, 2, 1, 1))
            a.logs.copy_(torch.tensor([0.4, -0.6], dtype=torch.float64).reshape(1, 2, 1, 1))
            a.initialized.fill_(True)
        return a

    def step() -> LiftingStep:
        return LiftingStep(_conv(1, 3), _conv(3, 1), coarse_channels=1)

    def full() -> nn.Module:
        return Sequential(
            actnorm(),
            Invertible1x1Conv(2),
            AffineCoupling(2, 4),
            HaarSplit(),
            LiftingStep(_conv(2, 6), _conv(6, 2), coarse_channels=2),
            AdditiveCoupling(8, 4),
        ).double()

    return [
        Example("haar", lambda: HaarSplit(), (2, 2, 4, 4)),
        Example("polyphase", lambda: PolyphaseSplit(), (2, 2, 4, 4)),
        Example("lifting", lambda: step().double(), (2, 4, 4, 4)),
        Example(
            "lifting-sigma",
            lambda: LiftingStep(_SigmaNet(1, 3), _SigmaNet(3, 1), coarse_channels=1).double(),
            (2, 4, 4, 4),
            cond=sigma,
        ),
        Example(
            "lifting-chain",
            lambda: LiftingChain(step(), step(), step()).double(),
            (2, 4, 4, 4),
        ),
        Example("additive", lambda: AdditiveCoupling(4, 6).double(), (2, 4, 4, 4)),
        Example("affine", lambda: AffineCoupling(4, 6).double(), (2, 4, 4, 4)),
        Example(
            "affine-cond",
            lambda: AffineCoupling(4, subnet_constructor=conv_subnet(6), cond_channels=2).double(),
            (2, 4, 4, 4),
            cond=image_cond,
        ),
        Example(
            "affine-vector", lambda: AffineCoupling(6, subnet_constructor=mlp_subnet(8)).double(), (3, 6)
        ),
        Example("actnorm", actnorm, (2, 2, 4, 4)),
        Example("1x1", lambda: Invertible1x1Conv(3).double(), (2, 3, 4, 4)),
        Example("1x1-vector", lambda: Invertible1x1Conv(4).double(), (3, 4)),
        Example("permute", lambda: Permute(5, seed=0).double(), (2, 5, 3, 3)),
        Example("sequential", full, (2, 2, 4, 4)),
        Example("checkpoint", lambda: InvertibleCheckpoint(full()), (2, 2, 4, 4)),
        Example("dct-frame", lambda: DCTFrame(4), (2, 1, 6, 7), kind="frame"),
        Example("dct-frame-2ch", lambda: DCTFrame(2), (2, 2, 5, 4), kind="frame"),
    ]


def examples() -> list[Example]:
    """The built-in examples (every block class of :mod:`innverse.nn`) and the registered ones."""
    out = {e.name: e for e in _builtin_examples()}
    out.update(_EXAMPLES)
    return list(out.values())
