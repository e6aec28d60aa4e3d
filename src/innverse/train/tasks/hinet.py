"""``innverse train hinet``: invertible image hiding (HiNet), one or several secrets in one cover.

Images: the colour photographs of ``<data root>/photos`` and CBSD68's images 0-55 (sorted order) form
the training pool (:func:`innverse.train.tasks.durrnet.load_pool`); CBSD68's images 56-67 are the
fixed test split, cut into the test tiles of :func:`held_out_tiles`, which no training or validation
touches.  A training example is ``1 + N`` independent random crops of the pool (``--crop``, random
flips): the cover and its ``N`` secrets, all drawn from a generator seeded by ``(seed, step)``, as is
the ``z ~ N(0, I)`` the secrets are revealed with.

Loss (HiNet's three terms and an optional fourth, means over pixels)::

    w_hide |stego - cover|^2 + w_reveal sum_i |secret'_i - secret_i|^2 / N + w_low |LL(stego) - LL(cover)|^2
      + w_highpass sum_K |K * stego8 - K * cover|^2 / 3

where ``secret'`` is revealed from the *8-bit quantised* stego image ``stego8`` (``round(255 x) / 255``,
clipped, straight-through gradient: :func:`innverse.models.hinet.quantize_8bit`) with ``z ~ N(0, I)``
in place of the lost information ``r``, and ``LL`` is the Haar low-pass band.  Validation reveals from
the quantised stego image too (exactly what an 8-bit PNG round trip gives) with a fixed ``z``.

The fourth term (``--w-highpass``, off by default) conceals the hidden data from steganalysis: the
low-frequency term pushes the stego residual ``stego - cover`` into the high frequencies, which is
exactly where a steganalyser looks (:mod:`innverse.models.steganalysis` starts from fixed high-pass
residuals).  It penalises the energy of the residual in that detector's own residual domain: ``K``
runs over the fixed kernels of :func:`innverse.models.steganalysis.residual_kernels` (the SRM "KV"
5x5 kernel and the horizontal and vertical first differences), applied to each colour channel with
the detector's replicate padding, on the [0, 1] scale, to the 8-bit stego image the revealing loss
uses (what a PNG round trip hands a detector).  :func:`highpass_mse` computes it; it is logged as
``highpass_mse`` whatever its weight.  With ``--w-highpass 0`` the loss and the recipe are those of a
run without the term.

The fifth term (``--w-adv``, off by default) is adversarial: a
:class:`~innverse.models.steganalysis.Steganalyser` (``--adv-width``) is trained alongside the hider,
one Adam step (``--adv-lr``) per training step on the batch's covers and their 8-bit stego images
(detached), and the hider then minimises ``w_adv mean softplus(D(stego8))``, the detector's
cross-entropy for calling the stego images covers (straight-through through the rounding).  The
detector is the task's own training state (:meth:`HiNetTask.state_dict`): its weights and its
optimizer are saved in every checkpoint, so ``--resume`` continues it exactly; it is not part of the
exported model.  Its initialisation is seeded by the run's seed alone.  Logged: ``adv_loss`` (the
hider's term) and ``steg_acc`` (the detector's accuracy on the batch, before its step).  With
``--w-adv 0`` the loss and the recipe are those of a run without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.train.patches import mix_seed
from innverse.train.task import Batch, TrainTask

__all__ = ["HiNetTask", "HiNetTrainConfig", "held_out_tiles", "held_out_pairs", "highpass_mse", "TILE"]

#: side of the test tiles (the non-overlapping tiles of each CBSD68[56:] image)
TILE = 128


def held_out_tiles(test: list[np.ndarray], size: int = TILE) -> np.ndarray:
    """Every non-overlapping ``size`` x ``size`` tile of each test image (a centred grid), stacked
    ``(T, size, size, 3)`` uint8, image by image, row-major; CBSD68[56:] gives 72 tiles of 128."""
    out = []
    for im in test:
        h, w = im.shape[:2]
        ny, nx = h // size, w // size
        y0, x0 = (h - ny * size) // 2, (w - nx * size) // 2
        for i in range(ny):
            for j in range(nx):
                out.append(im[y0 + i * size : y0 + (i + 1) * size, x0 + j * size : x0 + (j + 1) * size])
    return np.stack(out)


def held_out_pairs(tiles: np.ndarray, secrets: int) -> tuple[Tensor, Tensor]:
    """The fixed test pairs: cover ``k`` is tile ``k``, its secret ``j`` (``j = 1..N``) is tile
    ``(k + 7 j) mod T`` (another image: CBSD68 images give 6 tiles each).  Returns ``(covers (T, 3, s,
    s), secrets (T, N, 3, s, s))`` in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(tiles)).permute(0, 3, 1, 2).float() / 255.0
    n = t.shape[0]
    idx = torch.arange(n)
    sec = torch.stack([t[(idx + 7 * j) % n] for j in range(1, secrets + 1)], dim=1)
    return t, sec


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Per-image PSNR (dB, peak 1) of ``(B, ...)`` tensors."""
    mse = (a - b).square().flatten(1).mean(1)
    return 10 * torch.log10(1 / mse.clamp_min(1e-12))


def highpass_mse(stego: Tensor, cover: Tensor) -> Tensor:
    """``mean |K * stego - K * cover|^2`` over the steganalyser's fixed high-pass kernels ``K``
    (:func:`innverse.models.steganalysis.residual_kernels`: KV and first differences), each applied
    to every colour channel of ``(B, C, H, W)`` images with replicate padding (as the steganalyser
    does), on the images' own scale; the mean runs over batch, kernels, channels and pixels.  Computed
    in float32 (outside any autocast); zero exactly when ``stego == cover``."""
    from innverse.models.steganalysis import high_pass

    if stego.shape != cover.shape or stego.dim() != 4:
        raise ValueError(
            f"highpass_mse needs two (B, C, H, W) images of one shape, "
            f"got {tuple(stego.shape)} and {tuple(cover.shape)}"
        )
    with torch.autocast(device_type=stego.device.type, enabled=False):
        d = stego.float() - cover.float()  # the kernels are linear: K * stego - K * cover = K * d
        return high_pass(d).square().mean()


@dataclass
class HiNetTrainConfig:
    """HiNet settings."""

    data: str = field(
        default="",
        metadata={
            "help": "data root holding photos/ and CBSD68/ (default: the innverse data root)",
            "recipe": False,
            "metavar": "DIR",
        },
    )
    secrets: int = field(default=1, metadata={"help": "secret images per cover (1 or 4)", "choices": [1, 4]})
    blocks: int = field(default=4, metadata={"help": "invertible blocks"})
    hidden: int = field(default=16, metadata={"help": "channels of each dense block's layers"})
    clamp: float = field(default=2.0, metadata={"help": "bound of the affine log-scales"})
    crop: int = field(default=32, metadata={"help": "training crop size (even)"})
    w_hide: float = field(default=2.0, metadata={"help": "weight of the concealing loss |stego - cover|^2"})
    w_reveal: float = field(
        default=5.0, metadata={"help": "weight of the revealing loss |secret' - secret|^2"}
    )
    w_low: float = field(default=1.0, metadata={"help": "weight of the low-frequency (LL band) loss"})
    w_highpass: float = field(
        default=0.0,
        metadata={
            "help": "weight of the high-pass concealing loss |K*stego8 - K*cover|^2 over the steganalyser's "
            "fixed residual kernels K (SRM KV 5x5, first differences) per colour channel: keeps the hidden "
            "data out of the high frequencies a steganalyser looks at (0: off)"
        },
    )

    w_adv: float = field(
        default=0.0,
        metadata={
            "help": "weight of the adversarial concealing loss: a steganalyser trained alongside (one Adam "
            "step per training step on the batch's covers and 8-bit stego images) and the hider minimises "
            "its cross-entropy of calling the stego images covers (0: off)"
        },
    )
    adv_lr: float = field(default=1e-3, metadata={"help": "learning rate of the --w-adv steganalyser (Adam)"})
    adv_width: int = field(default=16, metadata={"help": "width of the --w-adv steganalyser"})


#: the recipe fields that only matter with the adversarial term on
_ADV_FIELDS = ("w_adv", "adv_lr", "adv_width")


class HiNetTask(TrainTask):
    """Train HiNet to hide N secret images in a cover, with 8-bit quantisation in the loop."""

    name = "hinet"
    #: command lines shown by ``innverse train hinet --help``
    examples = (
        "innverse train hinet --secrets 1 --out runs/hinet",
        "innverse train hinet --secrets 4 --out runs/hinet-4",
    )
    summary = "HiNet invertible image hiding (1 or 4 secrets per cover, 8-bit stego in the loop)"
    Config = HiNetTrainConfig
    engine_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 8,
        "lr": 1e-3,
        "init_lr": 2e-4,
        "lr_schedule": "cosine",
        "lr_drop": 0.02,
        "warmup": 50,
        "clip": 1.0,
        "max_steps": 4000,
    }
    log_fields = ("hide_mse", "reveal_mse", "low_mse", "highpass_mse", "adv_loss", "steg_acc")
    val_fields = ("val_stego_psnr", "val_secret_psnr")
    cfg: HiNetTrainConfig

    def check(self) -> None:
        c = self.cfg
        if c.secrets < 1:
            raise UserError("--secrets must be at least 1")
        if c.blocks < 1 or c.hidden < 1:
            raise UserError("--blocks and --hidden must be at least 1")
        if not c.clamp > 0:
            raise UserError("--clamp must be positive")
        if c.crop < 8 or c.crop % 2:
            raise UserError("--crop must be an even number >= 8")
        if min(c.w_hide, c.w_reveal, c.w_low) < 0 or c.w_reveal == 0:
            raise UserError("loss weights must be >= 0 (and --w-reveal > 0)")
        if not (math.isfinite(c.w_highpass) and c.w_highpass >= 0):
            raise UserError(f"--w-highpass must be a finite number >= 0, got {c.w_highpass}")
        if not (math.isfinite(c.w_adv) and c.w_adv >= 0):
            raise UserError(f"--w-adv must be a finite number >= 0, got {c.w_adv}")
        if not (math.isfinite(c.adv_lr) and c.adv_lr > 0) or c.adv_width < 1:
            raise UserError("--adv-lr must be a positive number and --adv-width at least 1")

    def recipe(self) -> dict:
        r = super().recipe()
        if not r["w_highpass"]:  # off: the recipe of a run without the term (old checkpoints resume)
            del r["w_highpass"]
        if not r["w_adv"]:
            for k in _ADV_FIELDS:
                del r[k]
        return r

    # ------------------------------------------------------------------ the adversary (--w-adv)
    def _fresh_adversary(self) -> tuple[nn.Module, torch.optim.Optimizer]:
        """A new steganalyser (CPU, seeded by the run's seed alone) and its Adam optimizer."""
        from innverse.models.steganalysis import Steganalyser

        with torch.random.fork_rng(devices=[]):  # its own seed: the global RNG stream is untouched
            torch.manual_seed(mix_seed(self.seed, 19, 0))
            net = Steganalyser(width=self.cfg.adv_width)
        return net, torch.optim.Adam(net.parameters(), self.cfg.adv_lr)

    def _adversary(self, device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
        """The steganalyser trained alongside and its optimizer, on ``device`` (built on first use,
        from the state :meth:`load_state_dict` was given if any)."""
        adv = getattr(self, "_adv", None)
        if adv is None:
            net = self._fresh_adversary()[0].to(device).train()
            opt = torch.optim.Adam(net.parameters(), self.cfg.adv_lr)
            pending = getattr(self, "_adv_pending", None)
            if pending is not None:
                net.load_state_dict(pending["steganalyser"])
                opt.load_state_dict(pending["optimizer"])  # moves its state to the parameters' device
                self._adv_pending = None
            adv = self._adv = (net, opt)
        return adv

    def state_dict(self) -> dict:
        """The ``--w-adv`` steganalyser's weights and optimizer state (``{}`` with the term off)."""
        if not self.cfg.w_adv:
            return {}
        pending = getattr(self, "_adv_pending", None)
        if pending is not None:  # loaded and not used yet
            return pending
        adv = getattr(self, "_adv", None)
        net, opt = adv if adv is not None else self._fresh_adversary()
        return {
            "steganalyser": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
            "optimizer": opt.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        if not self.cfg.w_adv:
            super().load_state_dict(state)
            return
        if "steganalyser" not in state or "optimizer" not in state:
            raise UserError("--resume: the checkpoint holds no --w-adv steganalyser state")
        self._adv = None  # rebuilt on first use, then loaded (on the training device)
        self._adv_pending = state

    def _adversarial(self, cover: Tensor, stego8: Tensor) -> tuple[Tensor, Tensor]:
        """One step of the detector on ``(cover, stego8)``, then the hider's term against it:
        ``(adv_loss, steg_acc)``; the term carries gradient into ``stego8`` only."""
        import torch.nn.functional as F

        from innverse.train.distributed import all_reduce_sum, env_world

        net, opt = self._adversary(cover.device)
        n = cover.shape[0]
        x = torch.cat([cover, stego8.detach()]).float()
        y = torch.cat([torch.zeros(n), torch.ones(n)]).to(x.device)
        with torch.autocast(device_type=x.device.type, enabled=False), torch.enable_grad():
            logits = net(x)
            d_loss = F.binary_cross_entropy_with_logits(logits, y)
            opt.zero_grad(set_to_none=True)
            d_loss.backward()
            world = env_world()
            if world.enabled:
                for p in net.parameters():  # every rank keeps the same detector
                    if p.grad is not None:
                        all_reduce_sum(p.grad, world).div_(world.world_size)
            opt.step()
            acc = ((logits.detach() > 0).float() == y).float().mean()
            for p in net.parameters():
                p.requires_grad_(False)
            try:  # covers again: in train mode the BatchNorm statistics are those of a mixed batch
                adv = F.softplus(net(torch.cat([cover, stego8]).float())[n:]).mean()
            finally:
                for p in net.parameters():
                    p.requires_grad_(True)
        return adv, acc

    def prepare(self, rank: int, world_size: int) -> None:
        from innverse.train.tasks.durrnet import load_pool

        self.pool, _ = load_pool(self.cfg.data or None)
        small = [im for im in self.pool if min(im.shape[:2]) < self.cfg.crop]
        if small:
            raise UserError(f"{len(small)} training images are smaller than --crop {self.cfg.crop}")
        self.sizes = [im.shape[:2] for im in self.pool]
        self.val_size = min(64, min(min(hw) for hw in self.sizes) // 2 * 2)
        self.val = self._examples(10**9, 16, self.val_size)  # fixed validation examples from the pool

    def build_model(self) -> nn.Module:
        from innverse.models.hinet import HiNet

        c = self.cfg
        return HiNet(secrets=c.secrets, blocks=c.blocks, hidden=c.hidden, clamp=c.clamp)

    def fingerprint(self) -> dict:
        return {"images": len(self.pool), "pixels": int(sum(h * w for h, w in self.sizes))}

    def epoch_size(self) -> int:
        return 1000 * len(self.pool)  # crops are drawn at random; an "epoch" is a nominal 1000 per image

    def _crop(self, g: torch.Generator, s: int) -> np.ndarray:
        im = self.pool[int(torch.randint(len(self.pool), (1,), generator=g))]
        h, w = im.shape[:2]
        y = int(torch.randint(h - s + 1, (1,), generator=g))
        x = int(torch.randint(w - s + 1, (1,), generator=g))
        out = im[y : y + s, x : x + s]
        if float(torch.rand((), generator=g)) < 0.5:
            out = out[:, ::-1]
        if float(torch.rand((), generator=g)) < 0.5:
            out = out[::-1]
        return out

    def _examples(self, step: int, n: int, size: int | None = None) -> Batch:
        s = size or self.cfg.crop
        k = self.cfg.secrets
        g = torch.Generator().manual_seed(mix_seed(self.seed, 18, step))
        crops = np.stack([self._crop(g, s) for _ in range(n * (1 + k))]).reshape(n, 1 + k, s, s, 3)
        x = torch.from_numpy(crops.copy()).permute(0, 1, 4, 2, 3).float() / 255.0
        z = torch.randn(n, 12 * k, s // 2, s // 2, generator=g)
        return {"cover": x[:, 0].contiguous(), "secrets": x[:, 1:].contiguous(), "z": z}

    def batch(self, step: int, batch_size: int, shard: tuple[int, int]) -> Batch:
        full = self._examples(step, batch_size)
        i, n = shard
        b = batch_size // n
        return {k: v[i * b : (i + 1) * b] for k, v in full.items()}

    def losses(
        self, model: nn.Module, cover: Tensor, secrets: Tensor, z: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, list[Tensor]]:
        """``(hide_mse, reveal_mse, low_mse, 8-bit stego, revealed secrets)`` of one batch."""
        from innverse.models.hinet import quantize_8bit

        sec = list(secrets.unbind(1))
        stego, _ = model.hide(cover, sec)
        stego8 = quantize_8bit(stego)
        _, revealed = model.reveal(stego8, z)
        hide_mse = (stego - cover).square().mean()
        reveal_mse = torch.stack([(a - b).square().mean() for a, b in zip(revealed, sec, strict=True)]).mean()
        low_mse = (model.low_frequency(stego) - model.low_frequency(cover)).square().mean()
        return hide_mse, reveal_mse, low_mse, stego8, revealed

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        c = self.cfg
        cover = batch["cover"]
        with self.autocast(cover.device.type):
            h, r, lo, stego8, _ = self.losses(model, cover, batch["secrets"], batch["z"])
        total = c.w_hide * h.float() + c.w_reveal * r.float() + c.w_low * lo.float()
        if c.w_highpass > 0:
            hp = highpass_mse(stego8, cover)
            total = total + c.w_highpass * hp
        else:  # logged only: the loss and its gradient are exactly those without the term
            with torch.no_grad():
                hp = highpass_mse(stego8, cover)
        parts = {"hide_mse": h.detach(), "reveal_mse": r.detach(), "low_mse": lo.detach()}
        if c.w_adv > 0:
            adv, acc = self._adversarial(cover, stego8)
            total = total + c.w_adv * adv
            parts.update(adv_loss=adv.detach(), steg_acc=acc)
        return total, {**parts, "highpass_mse": hp.detach()}

    def has_validation(self) -> bool:
        return True

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        v = {k: t.to(device) for k, t in self.val.items()}
        _, _, _, stego8, revealed = self.losses(model, v["cover"], v["secrets"], v["z"])
        sec = v["secrets"].unbind(1)
        s_psnr = torch.stack([psnr(a.clamp(0, 1), b) for a, b in zip(revealed, sec, strict=True)]).mean()
        return {"val_stego_psnr": float(psnr(stego8, v["cover"]).mean()), "val_secret_psnr": float(s_psnr)}

    def describe_validation(self, scores: dict[str, float]) -> str:
        return (
            f"on 16 validation 64x64 examples from the training pool, after 8-bit quantisation: "
            f"stego {scores['val_stego_psnr']:.2f} dB, revealed secret {scores['val_secret_psnr']:.2f} dB"
        )
