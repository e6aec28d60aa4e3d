"""Tiny stand-in models for the training tests, and the worker that tests run under torchrun.

``python -m torch.distributed.run --nproc_per_node 2 tests/_ddp_worker.py DATA OUT STEPS [resume]`` trains
a :class:`TinyDenoiser` to STEPS steps (global batch 8, 16x16 patches), resuming the run in OUT when
``resume`` is given, and exits with the trainer's code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class TinyDenoiser(nn.Module):
    """Same interface as WINNet: ``model(y, sigma)``, ``orthogonality_loss()``,
    ``spectral_norm_loss()``, ``config``, ``save(dir)`` -- a one-layer thresholding CNN."""

    kind = "winnet"

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        self.config = {"channels": channels}
        self.A = nn.Parameter(0.3 * torch.randn(channels, 1, 3, 3))
        self.S = nn.Parameter(0.01 * torch.randn(1, channels, 3, 3))  # starts near the identity map
        self.theta = nn.Parameter(torch.zeros(channels))

    def forward(self, y: Tensor, sigma: float | Tensor) -> Tensor:
        s = torch.as_tensor(sigma, dtype=y.dtype, device=y.device).reshape(-1, 1, 1, 1) * 255.0
        h = F.conv2d(y, self.A, padding=1)
        thr = F.softplus(self.theta, beta=20).reshape(1, -1, 1, 1) * s / 50.0
        h = h - torch.clamp(h, -thr, thr)
        return y - F.conv2d(h, self.S, padding=1)

    def orthogonality_loss(self) -> Tensor:
        comp = F.conv2d(self.A.permute(1, 0, 2, 3), torch.flip(self.S, (2, 3)), padding=2)  # (1, 1, 5, 5)
        eye = torch.zeros_like(comp)
        eye[0, 0, 2, 2] = 1.0
        return ((comp - eye) ** 2).sum()

    def spectral_norm_loss(self) -> Tensor:
        return torch.linalg.matrix_norm(self.A.reshape(self.A.shape[0], -1), ord=2)

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()},
            str(d / "model.safetensors"),
        )
        (d / "config.json").write_text(json.dumps({"kind": self.kind, "config": self.config}))
        return d


class TinyEstimator(nn.Module):
    """Same interface as NENet: ``model(y) -> sigma_hat`` (B,) on the data scale."""

    kind = "nenet"

    def __init__(self) -> None:
        super().__init__()
        self.config: dict = {}
        k = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]) / 20**0.5
        self.k = nn.Parameter(k.reshape(1, 1, 3, 3) + 0.05 * torch.randn(1, 1, 3, 3))
        self.scale = nn.Parameter(torch.tensor(0.5))

    def forward(self, y: Tensor) -> Tensor:
        h = F.conv2d(y, self.k)
        return h.square().mean(dim=(1, 2, 3)).add(1e-12).sqrt() * self.scale

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        return TinyDenoiser.save(self, directory, card)  # type: ignore[arg-type]


def winnet_task(data: str, **kw):
    """A WINNet task on ``data`` with small patches (the tests' recipe)."""
    from innverse.train.tasks.winnet import WINNetTask, WINNetTrainConfig

    seed = kw.pop("seed", 0)
    base = dict(data=data, sigma=25.0, patch_size=16)
    base.update(kw)
    return WINNetTask(WINNetTrainConfig(**base), seed=seed)


def main(argv: list[str]) -> int:
    from innverse.train import Engine, EngineConfig

    data, out, steps = argv[0], argv[1], int(argv[2])
    resume = len(argv) > 3 and argv[3] == "resume"
    torch.manual_seed(0)
    cfg = EngineConfig(
        out=out, batch_size=8, max_steps=steps, ckpt_every=2, device="cpu", progress=False, resume=resume
    )
    return Engine(winnet_task(data), cfg, model=TinyDenoiser()).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
