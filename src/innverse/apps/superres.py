"""Super-resolution with a diffusion prior: INDigo and its baselines behind one function.

``superres(y, scale=4, method="indigo")`` upscales a low-resolution image ``y`` that was made by
``degradation`` (``"average"``: ``scale x scale`` block means; ``"bicubic"``: antialiased bicubic
downscaling; ``"nonlinear"``: block means then JPEG-like quantisation at quality 75, see
:mod:`innverse.physics`).  Methods:

* ``indigo`` -- :class:`~innverse.sampling.INDigo`, guided by the INDigo INN of the degradation;
* ``dps`` -- :class:`~innverse.sampling.DPS` (on the differentiable surrogate of a non-linear ``A``);
* ``ddrm`` -- :class:`~innverse.sampling.DDRM` (needs the exact SVD: averaging only);
* ``ilvr`` -- :class:`~innverse.sampling.ILVR` (needs a linear ``A``);
* ``bicubic`` -- bicubic upscaling (:func:`innverse.physics.bicubic_upsample`);
* ``inn`` -- the INN alone, ``f^-1(y, d = 0)``.

The diffusion methods share the prior (default ``ddpm-fmnist``, 32x32 gray Fashion-MNIST), the number
of sampling steps (one network evaluation each) and the seeds: posterior sample ``m`` of image ``b``
in a batch starts from the noise of ``mix_seeds(seed, m, b)``.  ``noise`` is the standard deviation
``sigma_y`` of the Gaussian noise in ``y`` on the ``[0, 1]`` data scale (``0.05`` is 12.75 on the
0-255 scale); DDRM uses it, INDigo and DPS pick their step size ``zeta`` for it
(:data:`GUIDANCE`).

INNs (``inn=``): ``"haar"`` is the untrained INDigo INN, whose coarse part is exactly the block
average (so it *is* the INN of ``"average"``, which training cannot improve); a shipped name, a
folder written by ``innverse train indigo-inn`` (its ``model/`` sub-folder), or a ``.safetensors``
file.  The default is the shipped INN of the degradation (:data:`SHIPPED_INNS`), else ``"haar"`` for
averaging.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from innverse.errors import UserError

__all__ = [
    "METHODS",
    "DIFFUSION_METHODS",
    "DEGRADATIONS",
    "DEFAULT_PRIOR",
    "DEFAULT_STEPS",
    "DEFAULT_SAMPLER",
    "DEFAULT_DDIM_ETA",
    "SHIPPED_INNS",
    "GUIDANCE",
    "default_guidance",
    "make_operator",
    "load_inn",
    "shipped_inns",
    "SuperResolver",
    "PosteriorSamples",
    "superres",
    "check_noise",
]

#: every method, in the order tables list them
METHODS = ("indigo", "dps", "ddrm", "ilvr", "bicubic", "inn")
#: the methods that sample with the diffusion prior
DIFFUSION_METHODS = ("indigo", "dps", "ddrm", "ilvr")
#: the degradations ``y`` may come from
DEGRADATIONS = ("average", "bicubic", "nonlinear")
#: the prior used when none is given
DEFAULT_PRIOR = "ddpm-fmnist"
#: sampling steps (= network evaluations) per image and posterior sample
DEFAULT_STEPS = 100
#: the sampler whose steps the guided methods follow
DEFAULT_SAMPLER = "ddpm"
#: DDIM's eta when ``sampler="ddim"`` and no eta is given
DEFAULT_DDIM_ETA = 0.5
#: JPEG-like quality of the ``"nonlinear"`` degradation
NONLINEAR_QUALITY = 75
#: the shipped INN of each degradation (looked up in innverse/weights)
SHIPPED_INNS = {
    "average": "indigo-sr4-fmnist",
    "bicubic": "indigo-sr4bic-fmnist",
    "nonlinear": "indigo-sr4nl-fmnist",
}
#: the degradation names of ``innverse train indigo-inn --degradation``
TRAIN_NAMES = {"average": "sr4", "bicubic": "sr4-bicubic", "nonlinear": "sr4-nonlinear"}

#: step sizes: method -> noise level sigma_y -> (zeta, schedule); the entry of the nearest sigma_y is
#: used.  Chosen by the grid search of :func:`innverse.bench.superres.tune_guidance` (mean PSNR on 16
#: held-out Fashion-MNIST *training* images, 4x averaging, 100 DDPM steps, prior ddpm-fmnist, INN
#: indigo-sr4-fmnist; INDigo grid 0.125 ... 2 normalised, DPS the same grid x 8):  at sigma_y = 0 INDigo
#: 0.7 (21.28 dB; 0.5: 21.26, 1: 21.04, 2: 18.97) and DPS 5.6 (21.27 dB) -- the same step, as the
#: Haar equivalence below predicts.  At sigma_y = 0.05 INDigo 0.25 (19.43 dB; 0.35: 19.32, 0.125:
#: 18.86) and DPS 2 (19.42 dB); at sigma_y = 0.1 INDigo 0.25 (17.95 dB; 0.125: 17.89, 0.35: 17.63) and
#: DPS 2 (17.95 dB) -- ``innverse benchmark superres --noise S --tune 16 --images 1``.  INDigo's
#: "normalized" schedule divides zeta by |x^0 - x0_t| per image; "constant" does not (it diverged,
#: NaN, for zeta 0.02 ... 0.1 with the trained prior).  DPS's step is always normalised.  With the
#: Haar INN on 4x averaging INDigo(zeta) is DPS(8 zeta) exactly (``tests/sampling/test_indigo.py``).
GUIDANCE: dict[str, dict[float, tuple[float, str]]] = {
    "indigo": {0.0: (0.7, "normalized"), 0.05: (0.25, "normalized"), 0.1: (0.25, "normalized")},
    "dps": {0.0: (5.6, "normalized"), 0.05: (2.0, "normalized"), 0.1: (2.0, "normalized")},
}


def check_noise(noise: Any, what: str = "noise") -> float:
    """``sigma_y`` on the ``[0, 1]`` scale: a finite number in ``[0, 1]`` (one-line errors)."""
    if isinstance(noise, bool):
        raise UserError(f"{what} must be a number, got {noise!r}")
    try:
        s = float(noise)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a number, got {noise!r}") from None
    if not math.isfinite(s) or s < 0:
        raise UserError(f"{what} must be a finite number >= 0 (the [0, 1] data scale), got {noise!r}")
    if s > 1:
        raise UserError(
            f"{what} {s:g} is above 1: it is the std on the [0, 1] data scale here "
            f"(for {s:g} on the 0-255 scale give {s / 255:.4g})"
        )
    return s


def default_guidance(method: str, noise: float) -> tuple[float, str]:
    """``(zeta, schedule)`` of :data:`GUIDANCE` for the noise level nearest ``noise``."""
    table = GUIDANCE[method]
    key = min(table, key=lambda s: abs(s - noise))
    return table[key]


def make_operator(degradation: str = "average", scale: int = 4, noise: float = 0.0) -> Any:
    """The :mod:`innverse.physics` operator of a degradation (``sigma = noise``)."""
    from innverse.physics import Downsampling, QuantizedDownsampling

    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2:
        raise UserError(f"scale must be a whole number >= 2, got {scale!r}")
    if degradation == "average":
        return Downsampling(scale, "average", sigma=noise)
    if degradation == "bicubic":
        return Downsampling(scale, "bicubic", sigma=noise)
    if degradation == "nonlinear":
        return QuantizedDownsampling(scale, NONLINEAR_QUALITY, sigma=noise)
    raise UserError(f"unknown degradation {degradation!r} (expected one of {', '.join(DEGRADATIONS)})")


def _weights_dir() -> Path:
    from innverse.models.registry import weights_dir

    return weights_dir()


def shipped_inns() -> list[str]:
    """Names of the INDigo INNs shipped in ``innverse/weights``."""
    out = []
    for cfg in sorted(_weights_dir().glob("*.json")):
        if cfg.name.endswith(".card.json") or not cfg.with_suffix(".safetensors").is_file():
            continue
        try:
            if json.loads(cfg.read_text()).get("kind") == "indigo-inn":
                out.append(cfg.stem)
        except (ValueError, OSError, AttributeError):
            continue
    return out


def load_inn(spec: Any = "haar", scale: int = 4, device: str | torch.device = "cpu") -> nn.Module:
    """An INDigo INN for ``scale``: ``"haar"``, a shipped name, a training folder or a checkpoint
    (module docstring); an :class:`nn.Module` is returned as it is.  In eval mode, gradients off."""
    from innverse.models.indigo_inn import INDigoINN
    from innverse.models.io import load_state_checked, mark_source, read_checkpoint

    if isinstance(spec, nn.Module):
        inn = spec
    elif str(spec) == "haar":
        inn = INDigoINN(channels=1, scale=scale)
        mark_source(inn, "haar")
    else:
        s = str(spec)
        p = Path(s).expanduser()
        if not p.exists():
            if "/" in s or s.endswith(".safetensors"):
                raise UserError(f"{s}: INN checkpoint not found")
            p = _weights_dir() / f"{s}.safetensors"
            if not p.is_file():
                names = ", ".join(["haar", *shipped_inns()])
                raise UserError(
                    f"unknown INN {s!r} (available: {names}; or a folder from 'innverse train indigo-inn')"
                )
        if (
            p.is_dir()
            and not (p / "model.safetensors").is_file()
            and (p / "model" / "model.safetensors").is_file()
        ):
            p = p / "model"
        ck = read_checkpoint(p)
        if ck.kind != "indigo-inn":
            raise UserError(f"{s}: is a {ck.kind} checkpoint, not an INDigo INN")
        try:
            inn = INDigoINN(**ck.config)
        except (TypeError, ValueError) as e:
            raise UserError(f"{s}: bad INDigo INN configuration ({e})") from None
        load_state_checked(inn, ck.state, ck.weights, "INDigo INN")
        mark_source(inn, s)
    levels = int(getattr(inn, "levels", 0))
    if 2**levels != scale:
        raise UserError(f"the INN {getattr(inn, 'source', 'given')} upscales by {2**levels}, not by {scale}")
    for prm in inn.parameters():
        prm.requires_grad_(False)
    return inn.to(device).eval()


def _default_inn(degradation: str) -> str:
    name = SHIPPED_INNS[degradation]
    if name in shipped_inns():
        return name
    if degradation == "average":
        return "haar"
    raise UserError(
        f"no INDigo INN for the {degradation} degradation is shipped; train one with 'innverse train "
        f"indigo-inn --degradation {TRAIN_NAMES[degradation]} --out runs/inn' and pass --inn runs/inn"
    )


@dataclass
class PosteriorSamples:
    """``samples`` (M first), their ``mean`` and per-pixel standard deviation ``std`` (``M - 1``
    in the denominator; zeros for one sample)."""

    samples: Any
    mean: Any
    std: Any


class SuperResolver:
    """The models and settings of one super-resolution set-up, loaded once and applied to batches.

    Arguments as :func:`superres`; ``prior`` may also be a loaded
    :class:`~innverse.diffusion.prior.DiffusionPrior` and ``inn`` a loaded INN.  ``eta``: DDIM's eta
    (``sampler="ddim"``), or DDRM's (default 0.85); ``zeta`` and ``zeta_schedule``: INDigo's and DPS's
    step (default: :data:`GUIDANCE`).
    """

    def __init__(
        self,
        method: str = "indigo",
        scale: int = 4,
        degradation: str = "average",
        prior: Any = DEFAULT_PRIOR,
        inn: Any = None,
        steps: int = DEFAULT_STEPS,
        noise: float = 0.0,
        sampler: str = DEFAULT_SAMPLER,
        eta: float | None = None,
        zeta: float | None = None,
        zeta_schedule: str | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        from innverse.devices import resolve_device

        if method not in METHODS:
            raise UserError(f"unknown method {method!r} (expected one of {', '.join(METHODS)})")
        self.method = method
        self.noise = check_noise(noise)
        self.operator = make_operator(degradation, scale, self.noise)
        self.degradation = degradation
        self.scale = scale
        self.device = resolve_device(device)
        self.prior: Any = None
        self.inn: Any = None
        self.guided: Any = None
        if method in ("ddrm", "ilvr"):  # refuse before loading anything
            (self.operator.require_svd if method == "ddrm" else self.operator.require_linear)(method)
        if method in ("indigo", "inn"):
            self.inn = load_inn(_default_inn(degradation) if inn is None else inn, scale, self.device)
        if method in DIFFUSION_METHODS:
            self.prior = self._load_prior(prior)
            self.guided = self._build(steps, sampler, eta, zeta, zeta_schedule)

    def _load_prior(self, prior: Any) -> Any:
        if isinstance(prior, nn.Module):
            return prior.to(self.device).eval()
        from innverse.diffusion.prior import load_prior

        try:
            return load_prior(prior, self.device)
        except UserError as e:
            if prior != DEFAULT_PRIOR:
                raise
            raise UserError(f"{e}; the bicubic and inn methods need no prior") from None

    def _build(
        self, steps: int, sampler: str, eta: float | None, zeta: float | None, sched: str | None
    ) -> Any:
        from innverse.sampling import DDRM, DPS, ILVR, INDigo

        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise UserError(f"steps must be a whole number >= 1, got {steps!r}")
        if steps > self.prior.schedule.T:
            raise UserError(
                f"steps must be at most the prior's {self.prior.schedule.T} diffusion steps, got {steps}"
            )
        ddim_eta = DEFAULT_DDIM_ETA if eta is None else float(eta)
        op = self.operator
        if self.method == "ddrm":
            return DDRM(self.prior, op, steps, eta=0.85 if eta is None else float(eta))
        if self.method == "ilvr":
            return ILVR(self.prior, op, steps, sampler, ddim_eta)
        z0, s0 = default_guidance(self.method, self.noise)
        z = z0 if zeta is None else float(zeta)
        if self.method == "dps":
            return DPS(self.prior, op, z, steps, sampler, ddim_eta)
        return INDigo(self.prior, op, self.inn, z, s0 if sched is None else sched, steps, sampler, ddim_eta)

    # ------------------------------------------------------------------------------ applying it
    @property
    def steps(self) -> int:
        """Network evaluations per image and sample (0 for bicubic and the INN)."""
        return self.guided.num_steps if self.guided is not None else 0

    def check_input(self, y: Tensor) -> None:
        """Refuse a ``y`` the set-up cannot take (channels, size) with one line."""
        c, h, w = (int(n) for n in y.shape[1:])
        s = self.scale
        if self.prior is not None:
            pc = int(getattr(self.prior, "channels", c))
            if c != pc:
                what = "gray (1 channel)" if pc == 1 else f"{pc}-channel"
                raise UserError(
                    f"the prior {getattr(self.prior, 'source', None) or '(given)'} is {what}; this image has "
                    f"{c} channels (the bicubic and inn methods take any; or convert the image)"
                )
            m = int(getattr(getattr(self.prior, "unet", None), "min_size", 1))
            if (h * s) % m or (w * s) % m:
                raise UserError(
                    f"the result would be {w * s}x{h * s}; the prior's network needs sides that are "
                    f"multiples of {m} (crop the input to a multiple of {max(1, m // math.gcd(m, s))})"
                )

    def single(self, y: Tensor, generators: Any = None, callback: Any = None) -> Tensor:
        """One estimate for each image of ``y`` ``(B, C, h, w)`` on ``[0, 1]``: ``(B, C, sh, sw)``."""
        y = y.to(self.device)
        if self.method == "bicubic":
            from innverse.physics import bicubic_upsample

            return bicubic_upsample(y, self.scale).clamp(0, 1)
        if self.method == "inn":
            b, c = y.shape[:2]
            yy = y.reshape(b * c, 1, *y.shape[-2:]) if self.inn.channels == 1 else y
            with torch.no_grad():
                _, details = self.inn.analysis(
                    torch.zeros(
                        (yy.shape[0], yy.shape[1], yy.shape[2] * self.scale, yy.shape[3] * self.scale),
                        dtype=yy.dtype,
                        device=yy.device,
                    )
                )
                x = self.inn.synthesis(yy, [torch.zeros_like(d) for d in details])
            return x.reshape(b, c, *x.shape[-2:]).clamp(0, 1)
        return self.guided.sample(y, generators, callback=callback)

    def __call__(self, y: Tensor, seed: int = 0, samples: int = 1, callback: Any = None) -> Tensor:
        """``samples`` estimates ``(M, B, C, sh, sw)`` for ``y`` ``(B, C, h, w)`` on ``[0, 1]``; sample
        ``m`` of image ``b`` uses the seed ``mix_seeds(seed, m, b)`` (module docstring).  The
        deterministic methods (bicubic, INN) give one estimate, repeated."""
        from innverse.sampling import generators_for

        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise UserError(f"samples must be a whole number >= 1, got {samples!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise UserError(f"seed must be a whole number >= 0, got {seed!r}")
        self.check_input(y)
        if self.guided is None:
            one = self.single(y)
            return one.unsqueeze(0).expand(samples, *one.shape).clone()
        outs = []
        for m in range(samples):
            gens = generators_for(seed, y.shape[0], m)
            outs.append(self.single(y, gens, callback))
        return torch.stack(outs)

    def describe(self) -> dict:
        """The settings, for reports and output lines."""
        d: dict[str, Any] = {
            "method": self.method,
            "degradation": self.degradation,
            "scale": self.scale,
            "noise": self.noise,
        }
        if self.guided is not None:
            d.update(self.guided.describe())
            d["prior"] = str(getattr(self.prior, "source", None) or "given")
        if self.inn is not None:
            d["inn"] = str(getattr(self.inn, "source", None) or "given")
        return d


def _restore(batch: Any, out: Tensor, lead: tuple[int, ...] = ()) -> Any:
    """A ``(*lead, B, C, H, W)`` result on ``[0, 1]`` in the kind, dtype and layout of the user's input
    (:class:`innverse.convention.ImageBatch`), at the new size."""
    import numpy as np

    if batch.alpha is not None:
        from innverse.physics import bicubic_upsample

        s = out.shape[-1] // batch.alpha.shape[-1]
        alpha = bicubic_upsample(batch.alpha.to(out), s).clamp(0, 1)
        out = torch.cat([out, alpha.expand(*out.shape[:-3], *alpha.shape[-3:])], dim=-3)
    if batch.scale is not None:
        out = torch.round(out.to(torch.float32).clamp(0.0, 1.0) * batch.scale)
    nd = len(batch.shape)
    if batch.is_torch:
        r = out
        if nd == 2:
            r = r[..., 0, 0, :, :]
        elif nd == 3:
            r = r[..., 0, :, :, :]
        if batch.dtype == getattr(torch, "uint16", None):
            return r.to(batch.device, torch.int32).to(torch.uint16)
        return r.to(batch.device, batch.dtype)
    a = np.moveaxis(out.detach().to("cpu").numpy(), -3, -1)  # (*lead, B, H, W, C)
    if nd == 2:
        a = a[..., 0, :, :, 0]
    elif nd == 3:
        a = a[..., 0, :, :, :]
    return np.ascontiguousarray(a).astype(batch.dtype, copy=False)


def superres(
    y: Any,
    scale: int = 4,
    method: str = "indigo",
    prior: Any = DEFAULT_PRIOR,
    inn: Any = None,
    steps: int = DEFAULT_STEPS,
    noise: float = 0.0,
    seed: int = 0,
    samples: int = 1,
    degradation: str = "average",
    sampler: str = DEFAULT_SAMPLER,
    eta: float | None = None,
    zeta: float | None = None,
    device: str | torch.device | None = None,
) -> Any:
    """Super-resolve ``y`` by ``scale`` (module docstring for the methods, INNs and seeds).

    ``y``: numpy (``H×W``, ``H×W×C``, ``N×H×W×C``) or torch (``H×W``, ``C×H×W``, ``B×C×H×W``), uint8,
    uint16 or float on ``[0, 1]`` (:mod:`innverse.convention`).  Returns the estimate in ``y``'s kind,
    dtype and layout, ``scale`` times larger; with ``samples = M > 1`` a :class:`PosteriorSamples`
    whose ``samples`` has a leading axis of length ``M``, and ``mean`` and ``std`` (per pixel) the
    shape of one estimate (``std`` stays float: ``float32`` for integer inputs).
    """
    from innverse.convention import as_batch

    batch = as_batch(y)
    sr = SuperResolver(
        method, scale, degradation, prior, inn, steps, noise, sampler, eta, zeta, device=device
    )
    out = sr(batch.x, seed=seed, samples=samples).cpu()
    if samples == 1:
        return _restore(batch, out[0])
    mean = out.mean(0)
    std = out.std(0) if samples > 1 else torch.zeros_like(mean)
    # the spread is not an image: it stays float (and has no alpha channel)
    std_like = batch if batch.scale is None and batch.alpha is None else _FloatLike(batch)
    return PosteriorSamples(_restore(batch, out, (samples,)), _restore(batch, mean), _restore(std_like, std))


class _FloatLike:
    """The layout of a user's input with a float32 dtype and no alpha (for the per-pixel std)."""

    def __init__(self, batch: Any) -> None:
        import numpy as np

        self.alpha = None
        self.scale = None
        self.shape = batch.shape
        self.is_torch = batch.is_torch
        self.device = batch.device
        self.dtype = torch.float32 if batch.is_torch else np.float32
