"""``innverse train posterior``: posterior INNs on the 8-modes and inverse-kinematics problems.

``--model inn`` (Ardizzone et al. 2019) trains :class:`~innverse.models.posterior.PosteriorINN`
bidirectionally, with the losses of the authors' released code:

* forward fit: squared error of the predicted ``[pad, y]`` against ``[0, y + noise]`` (summed over
  dimensions, averaged over the batch), weight ``w_fit`` (1 on 8-modes as published; 50 on
  kinematics, whose standardised 2-D ``y`` is otherwise under-weighted against the MMD terms);
* latent MMD: multi-scale inverse multiquadric MMD between ``[z, y]`` of the forward pass (gradients
  stopped at ``y``) and samples of ``N(0, I) x p(y)``, weight ``w_latent``;
* backward MMD: MMD between the inverse pass of ``[z ~ N(0, I), pad noise, y]`` and the training
  ``x`` (samples of the prior), weight ``w_back``.  As in the authors' two-stage schedule it is off
  for the first ``back_start`` steps (the backward MMD alone is satisfied by an inverse that ignores
  ``y``, so switched on early it undoes the forward fit), then ramps up from 0.4 % over ``back_ramp``
  steps (``min(1, 2 * 0.002 ** (1 - t / back_ramp))``, the ramp of FrEIA's 8-modes example);
* reconstruction: squared error of the inverse of the slightly perturbed forward output, weight
  ``w_recon``.

``--model cinn`` trains :class:`~innverse.models.posterior.ConditionalINN` by maximum likelihood,
``mean(||z||^2 / 2 - log|det dz/dx|) / x_dim`` (nats per dimension, constant dropped), with ``y``
perturbed by ``y_noise`` (in ``y``'s units) for the kinematics problem.

The training set is ``train_size`` pairs drawn once from ``torch.Generator().manual_seed(data_seed)``
(Ardizzone et al. used 10^6 for the 8-modes); every batch, and every noise draw of a step, is a pure
function of ``(seed, step)``.  Validation: posterior MMD (:func:`innverse.problems.metrics.mmd2`) and
re-simulation error on a few held-out observations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.problems import EightModes, Kinematics, get_problem
from innverse.problems.metrics import BACKWARD_KERNELS, FORWARD_KERNELS, imq_mmd_matrix, mmd2
from innverse.train.patches import mix_seed
from innverse.train.task import Batch, TrainTask

__all__ = ["PosteriorTask", "PosteriorTrainConfig", "problem_scaling", "resimulation_error"]

#: observations scored by validation, and posterior samples per observation
VAL_OBS, VAL_SAMPLES = 8, 500


def _opt(default: Any, help_: str, **meta: Any) -> Any:
    return field(default=default, metadata={"help": help_, **meta})


@dataclass
class PosteriorTrainConfig:
    """Posterior INN settings (``0`` / ``-1`` mean "the problem's default")."""

    problem: str = _opt("8modes", "8modes or kinematics", choices=["8modes", "kinematics"])
    model: str = _opt("inn", "inn (Ardizzone et al.) or cinn (conditional, maximum likelihood)",
                      choices=["inn", "cinn"])  # fmt: skip
    labels: str = _opt("some", "8-modes label map: some (4 colours, as in the paper), all or none",
                       choices=["some", "all", "none"])  # fmt: skip
    blocks: int = _opt(0, "two-sided coupling blocks (0: 3 for the INN, 4 for the cINN)")
    hidden: int = _opt(0, "sub-network width (0: 64 on 8-modes, 128 on kinematics)")
    layers: int = _opt(2, "hidden layers per sub-network")
    clamp: float = _opt(2.0, "soft clamp of the coupling log-scales")
    z_dim: int = _opt(2, "INN latent dimensions")
    total_dim: int = _opt(0, "INN width after zero padding (0: 10 on 8-modes as published, 8 on kinematics)")
    train_size: int = _opt(1_000_000, "training pairs drawn once")
    data_seed: int = _opt(0, "seed of the training set")
    w_fit: float = _opt(-1.0, "INN forward fit weight (-1: 1 on 8-modes as published, 50 on kinematics)")
    w_latent: float = _opt(50.0, "INN latent MMD weight")
    w_back: float = _opt(250.0, "INN backward MMD weight")
    w_recon: float = _opt(1.0, "INN reconstruction weight")
    back_start: int = _opt(3000, "INN steps without the backward MMD (Ardizzone et al.'s first stage)")
    back_ramp: int = _opt(500, "steps over which the backward MMD then ramps up")
    y_noise: float = _opt(-1.0, "noise on y during training, in y units (-1: 0.05 for the 8-modes INN, "
                                "0 for the 8-modes cINN, 0.01 on kinematics)")  # fmt: skip
    z_noise: float = _opt(0.02, "INN reconstruction perturbation of z")
    pad_noise: float = _opt(0.01, "INN noise on the zero padding")


def problem_scaling(problem: EightModes | Kinematics, x: Tensor, y: Tensor) -> dict[str, list[float]]:
    """The fixed standardisation stored in a model's config: none on 8-modes (the published kernel
    widths are for raw positions; ``y`` is one-hot), prior scale for kinematics ``x`` and the training
    data's mean / standard deviation for its ``y``."""
    if isinstance(problem, EightModes):
        return {}
    return {
        "x_shift": [0.0] * 4,
        "x_scale": [float(v) for v in problem.prior_std],
        "y_shift": [round(float(v), 6) for v in y.double().mean(0)],
        "y_scale": [round(float(v), 6) for v in y.double().std(0)],
    }


def resimulation_error(problem: EightModes | Kinematics, samples: Tensor, y: Tensor) -> float:
    """Mean ``||f(x_hat) - y||_2`` over samples ``(B, n, x_dim)`` of observations ``y``: the
    end-effector distance for kinematics; for 8-modes ``f`` is the label distribution ``p(label | x)``
    compared with the one-hot label."""
    if isinstance(problem, EightModes):
        target = problem.one_hot(y).double()[:, None, :]
        return float((problem.label_probabilities(samples) - target).norm(dim=-1).mean())
    return float((problem.forward(samples.double()) - y.double()[:, None, :]).norm(dim=-1).mean())


class PosteriorTask(TrainTask):
    """Train a posterior INN (Ardizzone et al.'s INN or a cINN) on a toy inverse problem."""

    name = "posterior"
    #: command lines shown by ``innverse train posterior --help``
    examples = (
        "innverse train posterior --problem 8modes --model inn --out runs/inn-8modes",
        "innverse train posterior --problem kinematics --model cinn --out runs/cinn-kinematics",
    )
    summary = "posterior INN / cINN on the 8-modes toy or inverse kinematics (samples of p(x | y))"
    Config = PosteriorTrainConfig
    engine_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 500, "lr": 1e-3, "init_lr": 1e-4, "lr_schedule": "cosine", "lr_drop": 0.02,
        "warmup": 100, "clip": 10.0, "max_steps": 6000,
    }  # fmt: skip
    log_fields = ("fit", "latent", "back", "recon", "nll")
    val_fields = ("val_mmd", "val_resim")
    cfg: PosteriorTrainConfig

    # ------------------------------------------------------------------ settings
    def check(self) -> None:
        c = self.cfg
        if c.problem not in ("8modes", "kinematics"):
            raise UserError(f"--problem {c.problem!r}: expected 8modes or kinematics")
        if c.model not in ("inn", "cinn"):
            raise UserError(f"--model {c.model!r}: expected inn or cinn")
        if c.train_size < 1000:
            raise UserError("--train-size must be at least 1000")
        if min(c.layers, c.z_dim, c.back_ramp) < 1 or min(c.blocks, c.hidden, c.back_start) < 0:
            raise UserError(
                "--layers, --z-dim, --back-ramp must be >= 1; --blocks, --hidden, --back-start >= 0"
            )
        if not c.clamp > 0:
            raise UserError("--clamp must be positive")
        for name in ("w_latent", "w_back", "w_recon", "z_noise", "pad_noise"):
            if not getattr(c, name) >= 0:
                raise UserError(f"--{name.replace('_', '-')} must be >= 0")

    def _defaults(self) -> dict[str, Any]:
        c, km = self.cfg, self.cfg.problem == "kinematics"
        inn = c.model == "inn"
        return {
            "blocks": c.blocks or (3 if inn else 4),
            "hidden": c.hidden or (128 if km else 64),
            "clamp": c.clamp,
            "total_dim": c.total_dim or (8 if km else 10),
            "w_fit": c.w_fit if c.w_fit >= 0 else (50.0 if km else 1.0),
            "y_noise": c.y_noise if c.y_noise >= 0 else (0.01 if km else (0.05 if inn else 0.0)),
        }

    # ------------------------------------------------------------------ data and model
    def prepare(self, rank: int, world_size: int) -> None:
        c = self.cfg
        self.problem = get_problem(c.problem, **({"labels": c.labels} if c.problem == "8modes" else {}))
        g = torch.Generator().manual_seed(int(c.data_seed))
        self.train_x, y = self.problem.sample_joint(int(c.train_size), g)
        self.train_y = self._encode(y)
        self.scaling = problem_scaling(self.problem, self.train_x, self.train_y)
        self._perm: tuple[int, Tensor] | None = None
        self.val: list[tuple[Tensor, Tensor]] | None = None

    def _encode(self, y: Tensor) -> Tensor:
        """Observations as network vectors (one-hot labels for 8-modes)."""
        return self.problem.one_hot(y) if isinstance(self.problem, EightModes) else y.float()

    def _val_set(self) -> list[tuple[Tensor, Tensor]]:
        """Held-out observations with reference posterior samples (drawn once, on first use)."""
        if self.val is None:
            g = torch.Generator().manual_seed(mix_seed(int(self.cfg.data_seed), 77))
            out: list[tuple[Tensor, Tensor]] = []
            if isinstance(self.problem, EightModes):
                labels = torch.tensor(self.problem.label_values).repeat(VAL_OBS)[:VAL_OBS]
                ref = self.problem.posterior_sample(labels, VAL_SAMPLES, g)
                out = [(labels[i : i + 1], ref[i]) for i in range(len(labels))]
            else:
                while len(out) < VAL_OBS:
                    _, y = self.problem.sample_joint(1, g)
                    try:
                        ref, _ = self.problem.abc_posterior(y[0], VAL_SAMPLES, generator=g, max_draws=1 << 23)
                    except UserError:
                        continue  # an observation the prior almost never reaches
                    out.append((y, ref))
            self.val = out
        return self.val

    def build_model(self) -> nn.Module:
        from innverse.models.posterior import ConditionalINN, PosteriorINN

        c, d = self.cfg, self._defaults()
        p = self.problem
        y_classes = 8 if isinstance(p, EightModes) else 0
        common = dict(blocks=d["blocks"], hidden=d["hidden"], layers=c.layers, clamp=d["clamp"],
                      y_classes=y_classes, problem=c.problem, **self.scaling)  # fmt: skip
        if c.model == "inn":
            if d["total_dim"] < max(p.x_dim, p.y_dim + c.z_dim):
                raise UserError(f"--total-dim {d['total_dim']} is below x_dim, y_dim + z_dim of {c.problem}")
            return PosteriorINN(p.x_dim, p.y_dim, c.z_dim, total_dim=d["total_dim"], **common)
        return ConditionalINN(p.x_dim, p.y_dim, **common)

    def fingerprint(self) -> dict:
        return {"problem": self.cfg.problem, "pairs": int(self.train_x.shape[0]),
                "checksum": round(float(self.train_x[:1000].double().sum()), 6)}  # fmt: skip

    def epoch_size(self) -> int:
        return int(self.train_x.shape[0])

    def _permutation(self, epoch: int) -> Tensor:
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(mix_seed(self.seed, 21, epoch))
            self._perm = (epoch, torch.randperm(self.epoch_size(), generator=g))
        return self._perm[1]

    def batch(self, step: int, batch_size: int, shard: tuple[int, int]) -> Batch:
        spe = self.epoch_size() // batch_size
        epoch, k = divmod(int(step), spe)
        idx = self._permutation(epoch)[k * batch_size : (k + 1) * batch_size]
        g = torch.Generator().manual_seed(mix_seed(self.seed, 22, step))
        d = self._defaults()
        p = self.problem
        noise = {
            "y_noise": torch.randn(batch_size, p.y_dim, generator=g),
            "z": torch.randn(batch_size, max(self.cfg.z_dim, p.x_dim), generator=g),
            "pad_in": torch.randn(batch_size, d["total_dim"], generator=g),
            "pad_out": torch.randn(batch_size, d["total_dim"], generator=g),
            "recon": torch.randn(batch_size, d["total_dim"], generator=g),
        }
        i, n = shard
        b = batch_size // n
        sl = slice(i * b, (i + 1) * b)
        out = {"x": self.train_x[idx[sl]], "y": self.train_y[idx[sl]]}
        out.update({k: v[sl] for k, v in noise.items()})
        return out

    # ------------------------------------------------------------------ losses
    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        if self.cfg.model == "cinn":
            return self._cinn_loss(model, batch)
        return self._inn_loss(model, batch, step)

    def _noisy_y(self, model: nn.Module, batch: Batch) -> Tensor:
        y = batch["y"] + self._defaults()["y_noise"] * batch["y_noise"]
        return (y - model.y_shift.to(y.dtype)) / model.y_scale.to(y.dtype)

    def _cinn_loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        x = model.normalise_x(batch["x"])
        z, log_det = model(x, cond=self._noisy_y(model, batch))
        nll = (0.5 * (z**2).sum(1) - log_det).mean() / model.x_dim
        zero = nll.detach() * 0
        return nll, {"fit": zero, "latent": zero, "back": zero, "recon": zero, "nll": nll.detach()}

    def _inn_loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        c = self.cfg
        nz, ny, tot = model.z_dim, model.y_dim, model.total_dim
        npad_in, npad_out = tot - model.x_dim, tot - nz - ny
        b = batch["x"].shape[0]
        x = model.normalise_x(batch["x"])
        x_in = torch.cat((x, c.pad_noise * batch["pad_in"][:, :npad_in]), dim=1)
        y = self._noisy_y(model, batch)
        target = torch.cat((batch["z"][:, :nz], c.pad_noise * batch["pad_out"][:, :npad_out], y), dim=1)

        out, _ = model(x_in)
        fit = ((out[:, nz:] - target[:, nz:]) ** 2).sum() / b
        out_zy = torch.cat((out[:, :nz], out[:, tot - ny :].detach()), dim=1)
        tgt_zy = torch.cat((target[:, :nz], target[:, tot - ny :]), dim=1)
        latent = imq_mmd_matrix(out_zy, tgt_zy, FORWARD_KERNELS).mean()

        t = (step - c.back_start) / c.back_ramp
        ramp = 0.0 if t < 0 else min(1.0, 2.0 * 0.002 ** (1.0 - t))
        with torch.set_grad_enabled(torch.is_grad_enabled() and ramp > 0):  # off: logged only
            back = imq_mmd_matrix(x_in, model.inverse(target), BACKWARD_KERNELS).mean()

        pert = out.detach().clone()
        r = batch["recon"]
        pert[:, :nz] += c.z_noise * r[:, :nz]
        pert[:, nz : tot - ny] += c.pad_noise * r[:, nz : tot - ny]
        pert[:, tot - ny :] += self._defaults()["y_noise"] / model.y_scale.to(r.dtype) * r[:, tot - ny : tot]
        recon = ((model.inverse(pert) - x_in) ** 2).sum() / b

        w_fit = self._defaults()["w_fit"]
        total = w_fit * fit + c.w_latent * latent + c.w_back * ramp * back + c.w_recon * recon
        parts = {"fit": fit.detach(), "latent": latent.detach(), "back": back.detach(),
                 "recon": recon.detach(), "nll": total.detach() * 0}  # fmt: skip
        return total, parts

    # ------------------------------------------------------------------ validation and export
    def has_validation(self) -> bool:
        return True

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        g = torch.Generator().manual_seed(5)
        mmds, resims = [], []
        for y, ref in self._val_set():
            s = model.sample(y.to(device), VAL_SAMPLES, generator=g).cpu()
            mmds.append(mmd2(s[0], ref))
            resims.append(resimulation_error(self.problem, s, y))
        return {"val_mmd": sum(mmds) / len(mmds), "val_resim": sum(resims) / len(resims)}

    def describe_validation(self, scores: dict[str, float]) -> str:
        return (f"posterior MMD {scores['val_mmd']:.4f}, re-simulation error {scores['val_resim']:.4f} "
                f"({VAL_OBS} held-out observations)")  # fmt: skip

    def describe_init(self, src: nn.Module, model: nn.Module) -> str | None:
        a, b = getattr(src, "config", None), getattr(model, "config", None)
        if getattr(src, "kind", None) != getattr(model, "kind", None) or a != b:
            return f"its model ({getattr(src, 'kind', '?')} {a}) differs from this run's"
        return None
