"""diffusers interop: load ``UNet2DModel`` + ``DDPMScheduler`` folders as priors, and export to them.

A diffusers folder is either flat (``config.json`` of a ``UNet2DModel``, its weights
``diffusion_pytorch_model.safetensors`` and ``scheduler_config.json``) or a pipeline folder with
``unet/`` and ``scheduler/`` sub-folders.  Nothing is ever downloaded.

* **Native loading** (no diffusers needed): a ``UNet2DModel`` built from ``DownBlock2D`` /
  ``AttnDownBlock2D`` / ``UpBlock2D`` / ``AttnUpBlock2D`` with the default positional time embedding,
  ``UNetMidBlock2D``, conv down/upsampling and ``resnet_time_scale_shift="default"`` is exactly our
  :class:`~innverse.diffusion.unet.UNet` (same layers in the same order); its weights are renamed
  (q, k and v are stacked into our fused projection) and loaded into ours.
* **Wrapped loading** (needs the optional ``diffusers`` package): any other ``UNet2DModel`` is
  loaded with diffusers from the local folder and wrapped (:class:`DiffusersUNet`) so that it has
  our call signature ``model(x_t, t) -> output``.
* **Export** (:func:`export_diffusers`): a prior whose UNet has the same number of residual blocks
  on every level is written as a ``UNet2DModel`` folder (exact, the inverse renaming); a UNet with
  per-level block counts has no ``UNet2DModel`` equivalent (diffusers' ``layers_per_block`` is one
  number) and is refused with a clear error.  A wrapped diffusers prior is re-saved with diffusers.

Schedulers: ``beta_schedule`` ``linear`` and ``squaredcos_cap_v2`` (our ``cosine``),
``prediction_type`` ``epsilon`` and ``v_prediction``, ``clip_sample`` / ``clip_sample_range``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn

from innverse.diffusion.checkpoint import read_json
from innverse.diffusion.schedules import NoiseSchedule
from innverse.diffusion.unet import UNet
from innverse.errors import UserError

__all__ = [
    "DiffusersUNet",
    "read_diffusers",
    "export_diffusers",
    "unet_config_from_diffusers",
    "diffusers_config_from_unet",
    "state_dict_from_diffusers",
    "state_dict_to_diffusers",
]

WEIGHTS = "diffusion_pytorch_model.safetensors"

#: UNet2DModel's defaults for the keys a config.json may leave out
_UNET2D_DEFAULTS: dict = {
    "sample_size": None,
    "in_channels": 3,
    "out_channels": 3,
    "center_input_sample": False,
    "time_embedding_type": "positional",
    "time_embedding_dim": None,
    "freq_shift": 0,
    "flip_sin_to_cos": True,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
    "mid_block_type": "UNetMidBlock2D",
    "up_block_types": ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [224, 448, 672, 896],
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "downsample_padding": 1,
    "downsample_type": "conv",
    "upsample_type": "conv",
    "dropout": 0.0,
    "act_fn": "silu",
    "attention_head_dim": 8,
    "norm_num_groups": 32,
    "attn_norm_num_groups": None,
    "norm_eps": 1e-5,
    "resnet_time_scale_shift": "default",
    "add_attention": True,
    "class_embed_type": None,
    "num_class_embeds": None,
    "num_train_timesteps": None,
}
_SCHEDULERS = {"linear": "linear", "squaredcos_cap_v2": "cosine"}


# ---------------------------------------------------------------------------------------- configs
def unet_config_from_diffusers(config: dict) -> tuple[dict | None, str]:
    """Our UNet config for a ``UNet2DModel`` config, or ``(None, why not)``."""
    c = {**_UNET2D_DEFAULTS, **{k: v for k, v in config.items() if not k.startswith("_")}}
    fixed = {
        "center_input_sample": False,
        "time_embedding_type": "positional",
        "freq_shift": 0,
        "flip_sin_to_cos": True,
        "mid_block_type": "UNetMidBlock2D",
        "mid_block_scale_factor": 1,
        "downsample_padding": 1,
        "downsample_type": "conv",
        "upsample_type": "conv",
        "act_fn": "silu",
        "resnet_time_scale_shift": "default",
        "class_embed_type": None,
        "num_class_embeds": None,
    }
    for k, v in fixed.items():
        if c[k] != v:
            return None, f"{k}={c[k]!r} (only {v!r} converts)"
    chans = [int(x) for x in c["block_out_channels"]]
    width = chans[0]
    if any(ch % width for ch in chans):
        return None, f"block_out_channels {chans} are not multiples of the first"
    if c["time_embedding_dim"] not in (None, 4 * width):
        return None, f"time_embedding_dim={c['time_embedding_dim']} (only 4 x block_out_channels[0] converts)"
    if c["attn_norm_num_groups"] not in (None, c["norm_num_groups"]):
        return None, "attn_norm_num_groups differs from norm_num_groups"
    down, up = list(c["down_block_types"]), list(c["up_block_types"])
    if len(down) != len(chans) or len(up) != len(chans):
        return None, "block types and block_out_channels differ in length"
    if any(d not in ("DownBlock2D", "AttnDownBlock2D") for d in down):
        return None, f"down_block_types {down} (only DownBlock2D / AttnDownBlock2D convert)"
    if any(u not in ("UpBlock2D", "AttnUpBlock2D") for u in up):
        return None, f"up_block_types {up} (only UpBlock2D / AttnUpBlock2D convert)"
    attn = [i for i, d in enumerate(down) if d == "AttnDownBlock2D"]
    if attn != [len(chans) - 1 - i for i, u in enumerate(up) if u == "AttnUpBlock2D"][::-1]:
        return None, "attention on different levels of the encoder and the decoder"
    hd = c["attention_head_dim"]
    if hd is not None:
        for i in attn + ([len(chans) - 1] if c["add_attention"] else []):
            if chans[i] % int(hd):
                return None, f"attention_head_dim {hd} does not divide {chans[i]} channels"
    size = c["sample_size"]
    if isinstance(size, (list, tuple)):
        if len(set(size)) != 1:
            return None, f"non-square sample_size {size}"
        size = size[0]
    ours = {
        "in_channels": int(c["in_channels"]),
        "out_channels": int(c["out_channels"]),
        "width": width,
        "mults": [ch // width for ch in chans],
        "blocks": int(c["layers_per_block"]),
        "attention": attn,
        "mid_attention": bool(c["add_attention"]),
        "head_channels": None if hd is None else int(hd),
        "groups": int(c["norm_num_groups"]),
        "norm_eps": float(c["norm_eps"]),
        "dropout": float(c["dropout"]),
        "sample_size": int(size or 32),
    }
    return ours, ""


def diffusers_config_from_unet(config: dict) -> tuple[dict | None, str]:
    """The ``UNet2DModel`` config of our UNet config, or ``(None, why not)``."""
    blocks = config["blocks"]
    if isinstance(blocks, (list, tuple)):
        if len(set(blocks)) != 1:
            return None, (
                f"its blocks per level {list(blocks)} differ, and UNet2DModel has one layers_per_block "
                "for all levels"
            )
        blocks = blocks[0]
    n = len(config["mults"])
    attn = set(config["attention"])
    out = {
        "_class_name": "UNet2DModel",
        "_diffusers_version": _diffusers_version(),
        **{k: v for k, v in _UNET2D_DEFAULTS.items()},
        "sample_size": int(config["sample_size"]),
        "in_channels": int(config["in_channels"]),
        "out_channels": int(config["out_channels"]),
        "down_block_types": ["AttnDownBlock2D" if i in attn else "DownBlock2D" for i in range(n)],
        "up_block_types": ["AttnUpBlock2D" if (n - 1 - i) in attn else "UpBlock2D" for i in range(n)],
        "block_out_channels": [int(config["width"]) * int(m) for m in config["mults"]],
        "layers_per_block": int(blocks),
        "dropout": float(config["dropout"]),
        "attention_head_dim": config["head_channels"],
        "norm_num_groups": int(config["groups"]),
        "norm_eps": float(config["norm_eps"]),
        "add_attention": bool(config["mid_attention"]),
    }
    return out, ""


def _diffusers_version() -> str:
    try:
        import diffusers

        return str(diffusers.__version__)
    except ImportError:
        return "0.30.0"


def schedule_from_scheduler_config(cfg: dict, where: str) -> tuple[NoiseSchedule, str, float | None]:
    """``(schedule, prediction, clip_sample)`` from a DDPM/DDIM ``scheduler_config.json``."""
    if cfg.get("trained_betas") is not None:
        raise UserError(f"{where}: trained_betas are not supported")
    if cfg.get("thresholding") or cfg.get("rescale_betas_zero_snr"):
        raise UserError(f"{where}: thresholding / rescale_betas_zero_snr are not supported")
    bs = cfg.get("beta_schedule", "linear")
    if bs not in _SCHEDULERS:
        raise UserError(f"{where}: beta_schedule {bs!r} is not supported (linear, squaredcos_cap_v2)")
    pred = cfg.get("prediction_type", "epsilon")
    if pred not in ("epsilon", "v_prediction"):
        raise UserError(f"{where}: prediction_type {pred!r} is not supported (epsilon, v_prediction)")
    sched = NoiseSchedule(
        _SCHEDULERS[bs],
        int(cfg.get("num_train_timesteps", 1000)),
        float(cfg.get("beta_start", 1e-4)),
        float(cfg.get("beta_end", 0.02)),
    )
    clip = float(cfg.get("clip_sample_range", 1.0)) if cfg.get("clip_sample", True) else None
    return sched, pred, clip


def _scheduler_config(prior: nn.Module) -> dict:
    s = prior.schedule
    inv = {v: k for k, v in _SCHEDULERS.items()}
    return {
        "_class_name": "DDPMScheduler",
        "_diffusers_version": _diffusers_version(),
        "num_train_timesteps": s.T,
        "beta_start": s.beta_start,
        "beta_end": s.beta_end,
        "beta_schedule": inv[s.kind],
        "trained_betas": None,
        "variance_type": "fixed_small",
        "clip_sample": prior.clip_sample is not None,
        "clip_sample_range": float(prior.clip_sample or 1.0),
        "prediction_type": prior.prediction,
        "thresholding": False,
        "timestep_spacing": "leading",
        "steps_offset": 0,
        "rescale_betas_zero_snr": False,
    }


# ---------------------------------------------------------------------------------------- weights
_RES = {
    "norm1": "norm1",
    "conv1": "conv1",
    "time_emb_proj": "temb",
    "norm2": "norm2",
    "conv2": "conv2",
    "conv_shortcut": "skip",
}
_OLD_ATTN = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def _norm_attn_keys(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Old diffusers attention names (query/key/value/proj_attn) to the current ones."""
    out = {}
    for k, v in sd.items():
        parts = k.split(".")
        if "attentions" in parts and len(parts) >= 2 and parts[-2] in _OLD_ATTN:
            k = ".".join(parts[:-2] + [_OLD_ATTN[parts[-2]], parts[-1]])
        out[k] = v
    return out


def _pairs(unet: UNet) -> list[tuple[str, str]]:
    """(our module prefix, diffusers module prefix) of every residual block, and plain layers."""
    pairs = [
        ("time_in", "time_embedding.linear_1"),
        ("time_out", "time_embedding.linear_2"),
        ("conv_in", "conv_in"),
        ("norm_out", "conv_norm_out"),
        ("conv_out", "conv_out"),
    ]
    for i, lev in enumerate(unet.down):
        for j in range(len(lev.res)):
            pairs.append((f"down.{i}.res.{j}", f"down_blocks.{i}.resnets.{j}"))
        if lev.resample is not None:
            pairs.append((f"down.{i}.resample.conv", f"down_blocks.{i}.downsamplers.0.conv"))
    for i, lev in enumerate(unet.up):
        for j in range(len(lev.res)):
            pairs.append((f"up.{i}.res.{j}", f"up_blocks.{i}.resnets.{j}"))
        if lev.resample is not None:
            pairs.append((f"up.{i}.resample.conv", f"up_blocks.{i}.upsamplers.0.conv"))
    pairs += [("mid.res1", "mid_block.resnets.0"), ("mid.res2", "mid_block.resnets.1")]
    return pairs


def _attn_pairs(unet: UNet) -> list[tuple[str, str]]:
    out = []
    for side, name in (("down", "down_blocks"), ("up", "up_blocks")):
        for i, lev in enumerate(getattr(unet, side)):
            for j in range(len(lev.attn)):
                out.append((f"{side}.{i}.attn.{j}", f"{name}.{i}.attentions.{j}"))
    if unet.mid.attn is not None:
        out.append(("mid.attn", "mid_block.attentions.0"))
    return out


def _key_map(unet: UNet) -> dict[str, str]:
    """Our parameter name -> diffusers name, for every tensor but the fused q/k/v."""
    m = {}
    own = set(unet.state_dict())
    for ours, theirs in _pairs(unet):
        for p in ("weight", "bias"):
            if f"{ours}.{p}" in own:
                m[f"{ours}.{p}"] = f"{theirs}.{p}"
            for a, b in _RES.items():
                if f"{ours}.{b}.{p}" in own:
                    m[f"{ours}.{b}.{p}"] = f"{theirs}.{a}.{p}"
    for ours, theirs in _attn_pairs(unet):
        for p in ("weight", "bias"):
            m[f"{ours}.norm.{p}"] = f"{theirs}.group_norm.{p}"
            m[f"{ours}.out.{p}"] = f"{theirs}.to_out.0.{p}"
    return m


def state_dict_from_diffusers(unet: UNet, sd: dict[str, Tensor], where: str = "weights") -> dict[str, Tensor]:
    """Our state dict for ``unet`` from a ``UNet2DModel`` state dict (float32)."""
    sd = _norm_attn_keys(sd)
    out: dict[str, Tensor] = {}
    used = set()
    for ours, theirs in _key_map(unet).items():
        if theirs not in sd:
            raise UserError(f"{where}: tensor {theirs} missing")
        out[ours] = sd[theirs]
        used.add(theirs)
    for ours, theirs in _attn_pairs(unet):
        for p in ("weight", "bias"):
            names = [f"{theirs}.to_{x}.{p}" for x in "qkv"]
            if any(n not in sd for n in names):
                raise UserError(f"{where}: attention tensors of {theirs} missing")
            out[f"{ours}.qkv.{p}"] = torch.cat([sd[n] for n in names], 0)
            used.update(names)
    extra = sorted(set(sd) - used)
    if extra:
        raise UserError(f"{where}: unexpected tensors for this config, e.g. {extra[0]}")
    own = unet.state_dict()
    for k, v in out.items():
        if own[k].shape != v.shape:
            raise UserError(
                f"{where}: tensor for {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}"
            )
    return {k: v.to(torch.float32) for k, v in out.items()}


def state_dict_to_diffusers(unet: UNet) -> dict[str, Tensor]:
    """The ``UNet2DModel`` state dict of ``unet`` (contiguous CPU tensors)."""
    sd = unet.state_dict()
    out = {theirs: sd[ours] for ours, theirs in _key_map(unet).items()}
    for ours, theirs in _attn_pairs(unet):
        for p in ("weight", "bias"):
            for x, part in zip("qkv", sd[f"{ours}.qkv.{p}"].chunk(3, 0), strict=True):
                out[f"{theirs}.to_{x}.{p}"] = part
    return {k: v.detach().to("cpu").contiguous() for k, v in out.items()}


# ---------------------------------------------------------------------------------------- models
class DiffusersUNet(nn.Module):
    """A diffusers ``UNet2DModel`` with our call signature: ``forward(x_t, t) -> output tensor``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = dict(model.config)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return self.model(x, t).sample


def _folders(path: Path) -> tuple[Path, Path]:
    """(UNet folder, scheduler config file) of a flat or pipeline diffusers folder."""
    if (path / "unet" / "config.json").is_file():
        unet_dir = path / "unet"
        sched = path / "scheduler" / "scheduler_config.json"
    else:
        unet_dir, sched = path, path / "scheduler_config.json"
    if not (unet_dir / "config.json").is_file():
        raise UserError(f"{path}: no UNet2DModel config.json")
    if not sched.is_file():
        raise UserError(f"{path}: no scheduler_config.json (a DDPMScheduler config is needed)")
    return unet_dir, sched


def read_diffusers(path: str | Path, native: bool | None = None) -> dict:
    """The parts of a prior in a diffusers ``UNet2DModel`` + ``DDPMScheduler`` folder.

    Returns the keyword arguments of :class:`~innverse.diffusion.prior.DiffusionPrior` (``unet``,
    ``schedule``, ``prediction``, ``clip_sample``, ``sample_size``, ``channels``, ``card``);
    :func:`innverse.diffusion.prior.load_diffusers_prior` builds the prior.

    ``native=None`` converts to our UNet when the architecture allows it and wraps the diffusers
    model otherwise; ``True`` insists on conversion, ``False`` always wraps (needs diffusers).
    """
    p = Path(path)
    unet_dir, sched_file = _folders(p)
    cfg = read_json(unet_dir / "config.json")
    if cfg.get("_class_name", "UNet2DModel") != "UNet2DModel":
        raise UserError(f"{unet_dir / 'config.json'}: a {cfg.get('_class_name')}, not a UNet2DModel")
    schedule, prediction, clip = schedule_from_scheduler_config(read_json(sched_file), str(sched_file))
    ours, why = unet_config_from_diffusers(cfg)
    if native and ours is None:
        raise UserError(f"{unet_dir}: this UNet2DModel does not convert to an innverse UNet: {why}")
    if ours is not None and native is not False:
        weights = unet_dir / WEIGHTS
        if not weights.is_file():
            raise UserError(f"{unet_dir}: no {WEIGHTS}")
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            sd = load_file(str(weights), device="cpu")
        except (SafetensorError, OSError, ValueError) as e:
            raise UserError(f"{weights}: not a readable safetensors file ({e})") from None
        unet = UNet(**ours)
        unet.load_state_dict(state_dict_from_diffusers(unet, sd, str(weights)))
        size, ch = ours["sample_size"], ours["in_channels"]
    else:
        try:
            from diffusers import UNet2DModel
        except ImportError:
            raise UserError(
                f"{unet_dir}: this UNet2DModel ({why or 'wrapped'}) needs the optional diffusers package "
                "(pip install 'innverse[diffusers]')"
            ) from None
        try:
            model = UNet2DModel.from_pretrained(str(unet_dir), local_files_only=True)
        except (OSError, ValueError, RuntimeError) as e:
            raise UserError(f"{unet_dir}: diffusers could not load it ({e})") from None
        unet = DiffusersUNet(model.float().eval())
        size = model.config.sample_size
        size = int(size[0] if isinstance(size, (list, tuple)) else (size or 32))
        ch = int(model.config.in_channels)
    card = (
        read_json(p / "card.json") if (p / "card.json").is_file() else {"source": "diffusers", "path": str(p)}
    )
    return {
        "unet": unet,
        "schedule": schedule,
        "prediction": prediction,
        "clip_sample": clip,
        "sample_size": size,
        "channels": ch,
        "card": card,
    }


def export_diffusers(prior: nn.Module, directory: str | Path, force: bool = False) -> Path:
    """Write ``prior`` (a :class:`~innverse.diffusion.prior.DiffusionPrior`) as a flat diffusers
    folder (``UNet2DModel`` + ``DDPMScheduler`` config).

    Raises :class:`UserError` when the UNet has no ``UNet2DModel`` equivalent, or when the folder
    already holds a model and ``force`` is false.
    """
    d = Path(directory)
    if (d / "config.json").exists() and not force:
        raise UserError(f"{d}: already holds a model (use force=True / --force to overwrite)")
    unet = prior.unet
    if isinstance(unet, UNet):
        cfg, why = diffusers_config_from_unet(unet.config)
        if cfg is None:
            raise UserError(f"this UNet has no diffusers UNet2DModel equivalent: {why}")
        tensors = state_dict_to_diffusers(unet)
    elif isinstance(unet, DiffusersUNet):
        cfg = {"_class_name": "UNet2DModel", "_diffusers_version": _diffusers_version(), **unet.config}
        tensors = {k: v.detach().cpu().contiguous() for k, v in unet.model.state_dict().items()}
    else:
        raise UserError(f"cannot export a {type(unet).__name__} to diffusers")
    from safetensors.torch import save

    from innverse.data.io import atomic_write_bytes

    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{d}: cannot create the folder ({e.strerror or e})") from None
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items() if k != "_use_default_values"}
    atomic_write_bytes(d / WEIGHTS, save(tensors, metadata={"format": "pt"}), force=True)
    atomic_write_bytes(d / "config.json", (json.dumps(cfg, indent=2) + "\n").encode(), force=True)
    scheduler = (json.dumps(_scheduler_config(prior), indent=2) + "\n").encode()
    atomic_write_bytes(d / "scheduler_config.json", scheduler, force=True)
    if prior.card:
        atomic_write_bytes(d / "card.json", (json.dumps(prior.card, indent=2) + "\n").encode(), force=True)
    return d
