"""A diffusion prior: an ε- (or v-) model together with its noise schedule.

Data are on the [-1, 1] scale inside the prior; :meth:`DiffusionPrior.generate` returns images in
[0, 1].  :func:`load_prior` reads our files (:mod:`~innverse.diffusion.checkpoint`) and diffusers
folders (:mod:`~innverse.diffusion.diffusers_io`).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor, nn

from innverse.diffusion.checkpoint import KIND, read_json, save_unet, scheduler_config
from innverse.diffusion.ddim import DDIMSampler
from innverse.diffusion.ddpm import DDPMSampler
from innverse.diffusion.loop import sample
from innverse.diffusion.sampler import Sampler
from innverse.diffusion.schedules import PREDICTIONS, NoiseSchedule
from innverse.diffusion.unet import UNet
from innverse.errors import UserError

__all__ = ["DiffusionPrior", "SAMPLERS", "load_prior", "load_diffusers_prior", "shipped_priors"]

#: the sampler names of :meth:`DiffusionPrior.sampler`
SAMPLERS = ("ddim", "ddpm")


class DiffusionPrior(nn.Module):
    """An ε- (or v-) model with its schedule: ``prior(x_t, t)`` is the model output.

    ``unet`` is any module with the call signature ``unet(x_t, t)`` (ours, or a wrapped diffusers
    model); ``schedule`` the training noise schedule; ``prediction`` what the model outputs;
    ``clip_sample`` the clamp of ``x0_hat`` during sampling (data scale [-1, 1]).
    """

    def __init__(
        self,
        unet: nn.Module,
        schedule: NoiseSchedule,
        prediction: str = "epsilon",
        clip_sample: float | None = 1.0,
        sample_size: int = 32,
        channels: int = 1,
        card: dict | None = None,
    ) -> None:
        super().__init__()
        if prediction not in PREDICTIONS:
            raise UserError(
                f"unknown prediction type {prediction!r} (expected one of {', '.join(PREDICTIONS)})"
            )
        self.unet = unet
        self.schedule = schedule
        self.prediction = prediction
        self.clip_sample = clip_sample
        self.sample_size = int(sample_size)
        self.channels = int(channels)
        self.card = dict(card or {})
        self.source: str | None = None

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """The model output for ``x_t`` (B, C, H, W) on the [-1, 1] scale at timesteps ``t`` (B,)."""
        return self.unet(x, t)

    @property
    def scheduler_config(self) -> dict:
        """The ``"scheduler"`` entry of our ``config.json``."""
        return scheduler_config(self.schedule, self.prediction, self.clip_sample)

    def sampler(
        self, kind: str = "ddim", steps: int | None = 50, eta: float = 0.0, spacing: str = "leading"
    ) -> Sampler:
        """A DDIM(η) or DDPM sampler for this prior (``steps=None``: all ``T`` steps)."""
        if kind == "ddim":
            return DDIMSampler(self.schedule, steps, spacing, self.prediction, self.clip_sample, eta=eta)
        if kind == "ddpm":
            return DDPMSampler(self.schedule, steps, spacing, self.prediction, self.clip_sample)
        raise UserError(f"unknown sampler {kind!r} (expected one of {', '.join(SAMPLERS)})")

    @torch.no_grad()
    def generate(
        self,
        n: int,
        steps: int | None = 50,
        sampler: str = "ddim",
        eta: float = 0.0,
        seed: int | None = 0,
        generator: torch.Generator | None = None,
        device: str | torch.device | None = None,
        batch_size: int = 64,
        size: int | None = None,
    ) -> Tensor:
        """``n`` samples in [0, 1] as an (n, C, H, W) CPU float32 tensor.

        The noise comes from ``generator`` (default: a CPU generator seeded with ``seed``), batch
        after batch, so the result depends on ``batch_size`` but not on the device.
        """
        if n < 1:
            raise UserError(f"the number of samples must be >= 1, got {n}")
        if batch_size < 1:
            raise UserError(f"batch size must be >= 1, got {batch_size}")
        if device is not None:
            dev = torch.device(device)
        else:
            dev = next((p.device for p in self.parameters()), torch.device("cpu"))
        gen = generator if generator is not None else torch.Generator().manual_seed(int(seed or 0))
        smp = self.sampler(sampler, steps, eta)
        side = int(size or self.sample_size)
        was = self.training
        self.eval()
        out = []
        try:
            for i in range(0, n, batch_size):
                b = min(batch_size, n - i)
                x = sample(self, smp, (b, self.channels, side, side), gen, device=dev)
                out.append(((x.float().cpu() + 1) / 2).clamp(0, 1))
        finally:
            self.train(was)
        return torch.cat(out)

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        """Write this prior in our format (only for our :class:`UNet`; see ``diffusers_io`` otherwise)."""
        if not isinstance(self.unet, UNet):
            raise UserError(
                "only priors with an innverse UNet save in the innverse format (use diffusers_io)"
            )
        return save_unet(
            self.unet, directory, card=self.card if card is None else card, scheduler=self.scheduler_config
        )


def _weights_dir() -> Path:
    return Path(str(resources.files("innverse") / "weights"))


def shipped_priors() -> dict[str, dict]:
    """Name -> card of every diffusion prior shipped in ``innverse/weights``."""
    out = {}
    for cfg in sorted(_weights_dir().glob("*.json")):
        if cfg.name.endswith(".card.json") or not cfg.with_suffix(".safetensors").is_file():
            continue
        try:
            if json.loads(cfg.read_text()).get("kind") != KIND:
                continue
        except (ValueError, OSError, AttributeError):
            continue
        card = cfg.with_name(f"{cfg.stem}.card.json")
        out[cfg.stem] = json.loads(card.read_text()) if card.is_file() else {}
    return out


def _load_ours(weights: Path, cfg_file: Path, card_file: Path | None, device) -> DiffusionPrior:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    cfg = read_json(cfg_file)
    if cfg.get("kind") != KIND or not isinstance(cfg.get("config"), dict):
        raise UserError(f"{cfg_file}: not an innverse diffusion prior (kind {cfg.get('kind')!r})")
    sch = cfg.get("scheduler") or {}
    try:
        unet = UNet(**cfg["config"])
        schedule = NoiseSchedule.from_config(sch.get("schedule", {}))
    except TypeError as e:
        raise UserError(f"{cfg_file}: bad model config ({e})") from None
    try:
        sd = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{weights}: not a readable safetensors file ({e})") from None
    own = unet.state_dict()
    if set(own) != set(sd):
        raise UserError(f"{weights}: tensors do not match a UNet with this config")
    for k, v in sd.items():
        if own[k].shape != v.shape:
            raise UserError(
                f"{weights}: tensor {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}"
            )
    unet.load_state_dict(sd)
    card = read_json(card_file) if card_file is not None and card_file.is_file() else {}
    c = unet.config
    prior = DiffusionPrior(
        unet,
        schedule,
        sch.get("prediction", "epsilon"),
        sch.get("clip_sample", 1.0),
        c["sample_size"],
        c["in_channels"],
        card,
    )
    return prior


def load_prior(name_or_path: str | Path, device: str | torch.device = "cpu") -> DiffusionPrior:
    """A shipped prior by name (e.g. ``"ddpm-fmnist"``), one of our prior folders or ``.safetensors``
    files, or a diffusers ``UNet2DModel`` + ``DDPMScheduler`` folder; returned in eval mode."""
    s = str(name_or_path)
    p = Path(s).expanduser()
    if p.is_dir():
        cfg = p / "config.json"
        if (p / "unet" / "config.json").is_file() or (cfg.is_file() and "_class_name" in read_json(cfg)):
            prior = load_diffusers_prior(p)
        else:
            if not (p / "model.safetensors").is_file() or not cfg.is_file():
                raise UserError(
                    f"{p}: not a prior folder (no model.safetensors + config.json, nor diffusers files)"
                )
            prior = _load_ours(p / "model.safetensors", cfg, p / "card.json", device)
    elif p.is_file():
        if p.suffix != ".safetensors":
            raise UserError(f"{p}: expected a prior folder or a .safetensors file")
        cfg = p.with_suffix(".json") if p.with_suffix(".json").is_file() else p.parent / "config.json"
        if not cfg.is_file():
            raise UserError(f"{p}: no config JSON beside the weights")
        prior = _load_ours(p, cfg, p.with_name(f"{p.stem}.card.json"), device)
    elif "/" not in s and not s.endswith(".safetensors"):
        w = _weights_dir() / f"{s}.safetensors"
        if not w.is_file() or s not in shipped_priors():
            names = ", ".join(shipped_priors()) or "none shipped yet"
            raise UserError(f"unknown diffusion prior {s!r} (shipped: {names}; or give a folder)")
        prior = _load_ours(w, w.with_suffix(".json"), w.with_name(f"{s}.card.json"), device)
    else:
        raise UserError(f"{s}: prior not found")
    prior.source = s
    return prior.to(device).eval()


def load_diffusers_prior(path: str | Path, native: bool | None = None) -> DiffusionPrior:
    """A diffusers ``UNet2DModel`` + ``DDPMScheduler`` folder as a :class:`DiffusionPrior`.

    ``native=None`` converts to our UNet when the architecture allows it and wraps the diffusers
    model otherwise; ``True`` insists on conversion, ``False`` always wraps (needs diffusers).  See
    :func:`innverse.diffusion.diffusers_io.read_diffusers`.
    """
    from innverse.diffusion.diffusers_io import read_diffusers

    parts = read_diffusers(path, native)
    prior = DiffusionPrior(**parts)
    prior.source = str(path)
    return prior.eval()
