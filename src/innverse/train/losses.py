"""Training losses.

The model-specific regularisers live on the models (``WINNet.orthogonality_loss()``,
``WINNet.spectral_norm_loss()``); this module holds the data terms, the learning-rate schedule,
and :class:`TrainLoss`, the module that turns one batch into one scalar loss (it is what
DistributedDataParallel and ``torch.compile`` wrap).
"""

from __future__ import annotations

import contextlib
import inspect

import torch
from torch import Tensor, nn

__all__ = ["denoising_loss", "sigma_loss", "step_lr", "TrainLoss"]


def denoising_loss(x_hat: Tensor, x: Tensor) -> Tensor:
    """``0.5 * sum ||x_hat - x||^2 / B``: sum of squares per image, averaged over the batch.

    This is the released WINNet code's ``MSELoss(reduction='sum')(x_hat, x) / (2 B)``.  Computed in
    float32 whatever the autocast dtype of ``x_hat``.
    """
    d = x_hat.float() - x.float()
    return 0.5 * d.square().sum() / x.shape[0]


def sigma_loss(sigma_hat: Tensor, sigma: Tensor, scale: float = 255.0) -> Tensor:
    """``mean((scale * (sigma_hat - sigma))^2)``: NENet's squared error on the 0-255 scale.

    The released NENet code regresses sigma on the 0-255 scale; on the data scale (sigma ~ 0.1)
    the squared error and its gradient are ~ 6.5e4 times smaller, which starves Adam's early
    updates relative to its epsilon.  Measuring the error in grey levels keeps the loss O(1..100).
    """
    return (scale * (sigma_hat.float().reshape(-1) - sigma.float().reshape(-1))).square().mean()


def step_lr(
    step: int, total_steps: int, base_lr: float, drop_at: float = 0.6, drop: float = 0.1, scale: float = 1.0
) -> float:
    """Learning rate of optimizer step ``step`` (0-based) in a run of ``total_steps`` steps.

    ``base_lr * scale`` until ``drop_at`` of the run, then ``base_lr * drop * scale`` (the paper's
    1e-3 -> 1e-4 at 60%).  A pure function of the step, so a resumed run gets the same rates;
    ``scale`` is the NaN back-off factor kept in the checkpoint.
    """
    boundary = int(round(drop_at * total_steps))
    lr = base_lr * (drop if step >= boundary else 1.0)
    return lr * scale


class TrainLoss(nn.Module):
    """One batch -> total loss, for WINNet (``kind='winnet'``) or NENet (``kind='nenet'``).

    ``forward(noisy, clean, sigma, with_spec)`` returns ``(total, data_term)``:

    * WINNet: ``denoising_loss(model(noisy, sigma), clean) + w_orth * model.orthogonality_loss()``
      ``+ w_spec * model.spectral_norm_loss()`` (the last only when ``with_spec``);
    * NENet: ``sigma_loss`` of the estimate pooled over the batch's patches (``clean`` unused).

    ``pad`` (WINNet) overrides the model's reflect padding during training (``None``: the model's own).
    ``amp_dtype`` (bf16/fp16) autocasts the model forward only; the data term is evaluated in
    float32 and the regularisers (kernel compositions, SVDs) run with autocast disabled.
    Soft-thresholding and the lifting updates are fine in bf16 for *training*: the gradient noise
    they add is far below the SGD noise, and exact invertibility is a property of the structure
    (``c + U(d)`` is undone by ``c - U(d)`` with the same ``U``), which inference runs in float32.
    """

    def __init__(
        self,
        model: nn.Module,
        kind: str,
        w_orth: float = 10.0,
        w_spec: float = 0.1,
        amp_dtype: torch.dtype | None = None,
        pad: int | None = None,
    ) -> None:
        super().__init__()
        if kind not in ("winnet", "nenet"):
            raise ValueError(f"unknown model kind {kind!r}")
        self.model = model
        self.kind = kind
        self.w_orth = float(w_orth)
        self.w_spec = float(w_spec)
        self.amp_dtype = amp_dtype
        # only models whose forward takes ``pad`` (WINNet) get it; others keep their own borders
        takes_pad = "pad" in inspect.signature(model.forward).parameters
        self.pad = pad if takes_pad else None

    def _autocast(self, x: Tensor) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=x.device.type, dtype=self.amp_dtype)

    def _pooled_sigma(self, noisy: Tensor) -> Tensor:
        """NENet's estimate from the patches of the whole batch pooled (one sigma per batch, as the
        trainer draws it).  As in the released training, a 50x50 patch alone holds too few 8x8
        patches for a well-conditioned smallest eigenvalue; pooling the batch (16 x 1849 patches)
        is closer to the whole images NENet sees at inference.  Float32 throughout: the smallest
        eigenvalue of the scatter is ~1e-4 of the largest, beyond bf16's precision."""
        scat, wsum = self.model.scatter(noisy.float())
        lam = torch.linalg.eigvalsh(scat.sum(0).double())[0].clamp_min(0)
        return torch.sqrt(lam / wsum.sum().double()).float().reshape(1)

    def forward(
        self, noisy: Tensor, clean: Tensor, sigma: Tensor, with_spec: bool = False
    ) -> tuple[Tensor, Tensor]:
        """Loss of one (shard of a) batch; ``sigma`` (B,) on the data scale."""
        if self.kind == "nenet":
            if hasattr(self.model, "scatter"):  # NENet: pool the batch's patches
                data = sigma_loss(self._pooled_sigma(noisy), sigma[:1])
            else:  # any other estimator: one estimate per image
                with self._autocast(noisy):
                    data = sigma_loss(self.model(noisy), sigma)
            return data, data.detach()
        with self._autocast(noisy):
            x_hat = self.model(noisy, sigma) if self.pad is None else self.model(noisy, sigma, pad=self.pad)
        data = denoising_loss(x_hat, clean)
        total = data
        with torch.autocast(device_type=noisy.device.type, enabled=False):
            if self.w_orth:
                total = total + self.w_orth * self.model.orthogonality_loss()
            if with_spec and self.w_spec:
                total = total + self.w_spec * self.model.spectral_norm_loss()
        return total, data.detach()
