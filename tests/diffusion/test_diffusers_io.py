"""Tests of :mod:`innverse.diffusion.diffusers_io` (offline: tiny random models in tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from innverse.diffusion.diffusers_io import DiffusersUNet, export_diffusers
from innverse.diffusion.prior import DiffusionPrior, load_diffusers_prior, load_prior
from innverse.diffusion.schedules import NoiseSchedule
from innverse.diffusion.unet import UNet
from innverse.errors import UserError

diffusers = pytest.importorskip("diffusers")


def _tiny_diffusers(folder: Path, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = dict(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        attention_head_dim=8,
    )
    cfg.update(kw)
    m = diffusers.UNet2DModel(**cfg).eval()
    with torch.no_grad():  # move away from the init so every layer matters
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    m.save_pretrained(folder, safe_serialization=True)
    diffusers.DDPMScheduler(num_train_timesteps=200, beta_schedule="squaredcos_cap_v2").save_pretrained(
        folder
    )
    return m


def test_round_trip_load_sample_export_reload(tmp_path: Path) -> None:
    ref = _tiny_diffusers(tmp_path / "d")
    prior = load_prior(tmp_path / "d")  # dispatches to diffusers_io
    assert isinstance(prior.unet, UNet)  # converted natively
    assert prior.schedule == NoiseSchedule("cosine", 200) and prior.sample_size == 8
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0, 57, 199])
    with torch.no_grad():
        torch.testing.assert_close(prior(x, t), ref(x, t).sample, rtol=1e-5, atol=1e-5)
    a = prior.generate(4, steps=10, seed=1)
    export_diffusers(prior, tmp_path / "e")
    again = load_prior(tmp_path / "e")
    b = again.generate(4, steps=10, seed=1)
    assert (a - b).abs().max() <= 1e-6
    # the exported folder is a genuine diffusers model with the same outputs
    back = diffusers.UNet2DModel.from_pretrained(tmp_path / "e", local_files_only=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(back(x, t).sample, ref(x, t).sample, rtol=0, atol=0)
    sch = diffusers.DDPMScheduler.from_pretrained(tmp_path / "e")
    assert sch.config.beta_schedule == "squaredcos_cap_v2" and sch.config.num_train_timesteps == 200
    with pytest.raises(UserError, match="already holds"):
        export_diffusers(prior, tmp_path / "e")


def test_wrapped_model_matches_native(tmp_path: Path) -> None:
    _tiny_diffusers(tmp_path / "d")
    native = load_diffusers_prior(tmp_path / "d")
    wrapped = load_diffusers_prior(tmp_path / "d", native=False)
    assert isinstance(wrapped.unet, DiffusersUNet)
    a = native.generate(2, steps=8, sampler="ddpm", seed=3)
    b = wrapped.generate(2, steps=8, sampler="ddpm", seed=3)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    export_diffusers(wrapped, tmp_path / "w")
    c = load_diffusers_prior(tmp_path / "w", native=False).generate(2, steps=8, sampler="ddpm", seed=3)
    assert (b - c).abs().max() <= 1e-6


def test_unconvertible_architecture_is_wrapped(tmp_path: Path) -> None:
    ref = _tiny_diffusers(tmp_path / "d", resnet_time_scale_shift="scale_shift")
    with pytest.raises(UserError, match="does not convert"):
        load_diffusers_prior(tmp_path / "d", native=True)
    prior = load_prior(tmp_path / "d")
    assert isinstance(prior.unet, DiffusersUNet)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([3, 100])
    with torch.no_grad():
        torch.testing.assert_close(prior(x, t), ref(x, t).sample, rtol=0, atol=0)


def test_export_of_our_unet_and_its_limits(tmp_path: Path) -> None:
    torch.manual_seed(0)
    unet = UNet(
        1, width=8, mults=(1, 2, 2), blocks=2, attention=(1, 2), head_channels=8, groups=4, sample_size=8
    )
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    prior = DiffusionPrior(unet, NoiseSchedule("linear", 100), sample_size=8)
    export_diffusers(prior, tmp_path / "e")
    ref = diffusers.UNet2DModel.from_pretrained(tmp_path / "e", local_files_only=True).eval()
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([1, 99])
    with torch.no_grad():
        torch.testing.assert_close(ref(x, t).sample, unet(x, t), rtol=1e-5, atol=1e-5)
    back = load_prior(tmp_path / "e")
    assert back.unet.config == unet.config
    odd = UNet(1, width=8, mults=(1, 2), blocks=(1, 2), groups=4)
    with pytest.raises(UserError, match="layers_per_block"):
        export_diffusers(DiffusionPrior(odd, NoiseSchedule()), tmp_path / "o")


def test_bad_folders(tmp_path: Path) -> None:
    _tiny_diffusers(tmp_path / "d")
    (tmp_path / "d" / "scheduler_config.json").unlink()
    with pytest.raises(UserError, match="scheduler_config"):
        load_prior(tmp_path / "d")
    _tiny_diffusers(tmp_path / "s")
    cfg = json.loads((tmp_path / "s" / "scheduler_config.json").read_text())
    cfg["beta_schedule"] = "scaled_linear"
    (tmp_path / "s" / "scheduler_config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="beta_schedule"):
        load_prior(tmp_path / "s")


def test_pipeline_layout(tmp_path: Path) -> None:
    ref = _tiny_diffusers(tmp_path / "flat")
    ref.save_pretrained(tmp_path / "pipe" / "unet", safe_serialization=True)
    diffusers.DDPMScheduler(num_train_timesteps=200).save_pretrained(tmp_path / "pipe" / "scheduler")
    prior = load_prior(tmp_path / "pipe")
    assert prior.schedule == NoiseSchedule("linear", 200)
    x, t = torch.randn(1, 1, 8, 8), torch.tensor([10])
    with torch.no_grad():
        torch.testing.assert_close(prior(x, t), ref(x, t).sample, rtol=1e-5, atol=1e-5)
