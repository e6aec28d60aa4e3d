"""AdvINN (Chen, Wang, Huang et al., AAAI 2023): adversarial images from an invertible network fitted
per image.

**The network** (:class:`AdvINN`).  The image ``x`` and a *guide* image ``g`` (a picture of the class to
head for: :mod:`innverse.attacks.guides`) are each split into Haar bands (``HaarSplit``: ``4C`` channels at
half size) and stacked; a chain of ``blocks`` pairs of affine couplings (HiNet's pattern) lets each
branch update the other: first the image bands from the guide bands, ``a <- a * exp(s(b)) + t(b)``, then
the guide bands from the new image bands, ``b <- b * exp(s'(a)) + t'(a)``.  Inverse Haar of each branch
gives ``(x', r)``.  The map ``(x, g) -> (x', r)`` is a bijection of the pixels (the Haar split is
orthonormal, each coupling has the closed-form inverse of :class:`innverse.nn.AffineCoupling`); its
log-det is the couplings' sum of log-scales.  Every sub-network's last convolution starts at zero, so the
network starts as the identity (``x' = x``).

**Per image.**  Every image of a batch gets its *own* network (grouped convolutions: the parameters of
image ``i`` see only image ``i``), all initialised alike from ``seed``; so a result does not depend on
the batch it was computed in.  Each step (the official code's loop):

* ``x_adv = P(x')``: clipped to the L∞ ball of radius ``eps`` around ``x`` and to ``[0, 1]``;
* loss = ``w_image * ||x' - x||^2`` (image fidelity, summed) ``+ w_low * ||LL(x') - LL(x)||^2``
  (low-frequency fidelity on the Haar LL band) ``+ w_adv * L_cls(f(x_adv))``, with ``L_cls`` the
  cross-entropy of the target (targeted) or ``-log(1 - p_y)`` (untargeted,
  :func:`innverse.attacks.base.attack_loss`).  The image fidelity is measured on the network's output
  before the projection (the official code measures it after): a pixel the network pushes past the
  budget is then pulled back instead of being left without any gradient, which raises the success rate
  markedly at the short step counts used here;
* Adam on the network's parameters (betas 0.5, 0.999 as in the official code);
* with a *learned* guide (CGT), Adam on the guide too (step ``guide_lr``, 1/255 as in the official
  code), along the gradient of the loss above plus the cross-entropy of the guide class on the guide
  itself, ``CE(f(g), c)`` -- the guide becomes an image the classifier reads as class ``c``.

An image stops as soon as its 8-bit rounding succeeds with adversarial probability >= ``confidence``
(the official code stops at 85 % confidence); the result is that rounded image.  Images that never
succeed return their last iterate, rounded.

Left out: the official loss also has a VGG-16 perceptual term (weight 0.001); its ImageNet weights
cannot be had offline, so it is not computed.  The official code starts each image from an INN
pre-trained on image hiding; this one starts from the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.attacks.base import (
    AttackResult,
    Goal,
    adversarial_probability,
    attack_loss,
    check_eps,
    check_images,
    project,
    quantize,
    succeeded,
)
from innverse.errors import UserError
from innverse.nn import AffineCoupling, HaarSplit, InvertibleModule, Sequential

__all__ = ["BatchedConv2d", "AdvINN", "AdvINNConfig", "advinn"]


class BatchedConv2d(nn.Module):
    """``n`` independent ``k x k`` convolutions, the ``i``-th applied to sample ``i`` of a batch of ``n``
    (one grouped convolution).  ``weight`` is ``(n, cout, cin, k, k)``, ``bias`` ``(n, cout)``; every sample
    starts with the same values: ``init_std * N(0, 1)`` from ``generator`` (zeros with ``zero``)."""

    def __init__(
        self,
        n: int,
        cin: int,
        cout: int,
        kernel: int = 3,
        init_std: float = 0.01,
        zero: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if n < 1 or cin < 1 or cout < 1 or kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"bad BatchedConv2d shape: n={n}, cin={cin}, cout={cout}, kernel={kernel}")
        self.n, self.cin, self.cout, self.kernel = int(n), int(cin), int(cout), int(kernel)
        if zero:
            w = torch.zeros(cout, cin, kernel, kernel)
            b = torch.zeros(cout)
        else:
            w = init_std * torch.randn(cout, cin, kernel, kernel, generator=generator)
            b = init_std * torch.randn(cout, generator=generator)
        self.weight = nn.Parameter(w.expand(n, -1, -1, -1, -1).clone())
        self.bias = nn.Parameter(b.expand(n, -1).clone())

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[0] != self.n or x.shape[1] != self.cin:
            raise ValueError(
                f"BatchedConv2d for {self.n} samples of {self.cin} channels got {tuple(x.shape)}"
            )
        n, _, h, w = x.shape
        out = F.conv2d(
            x.reshape(1, n * self.cin, h, w),
            self.weight.reshape(n * self.cout, self.cin, self.kernel, self.kernel),
            self.bias.reshape(n * self.cout),
            padding=self.kernel // 2,
            groups=n,
        )
        return out.reshape(n, self.cout, h, w)

    @torch.no_grad()
    def keep_(self, index: Tensor) -> None:
        """Keep only the convolutions of the samples ``index`` (in that order)."""
        self.weight = nn.Parameter(self.weight.detach()[index].clone())
        self.bias = nn.Parameter(self.bias.detach()[index].clone())
        self.n = int(self.weight.shape[0])

    def extra_repr(self) -> str:
        return f"n={self.n}, cin={self.cin}, cout={self.cout}, kernel={self.kernel}"


def _subnet(n: int, hidden: int, init_std: float, generator: torch.Generator):
    """A ``subnet_constructor`` of per-sample sub-networks: conv3x3-LReLU-conv3x3-LReLU-conv3x3, the
    last convolution zero."""

    def make(c_in: int, c_out: int) -> nn.Module:
        return nn.Sequential(
            BatchedConv2d(n, c_in, hidden, init_std=init_std, generator=generator),
            nn.LeakyReLU(0.2),
            BatchedConv2d(n, hidden, hidden, init_std=init_std, generator=generator),
            nn.LeakyReLU(0.2),
            BatchedConv2d(n, hidden, c_out, zero=True),
        )

    return make


class AdvINN(InvertibleModule):
    """The AdvINN bijection ``[x | g] -> [x' | r]`` for a batch of ``n`` images, one network per image.

    Input and output ``(n, 2C, H, W)`` (image channels first, guide / ``r`` channels second; ``H``, ``W``
    even).  Forward (data -> latent): Haar split of each half, ``blocks`` x (image-from-guide coupling,
    guide-from-image coupling), inverse Haar of each half; ``log_det = log|det d[x'|r]/d[x|g]|`` of shape
    ``(n,)`` = the couplings' summed log-scales (the Haar steps are orthonormal).  ``inverse`` is exact.
    ``clamp`` bounds each log-scale (:class:`~innverse.nn.AffineCoupling`).
    """

    def __init__(
        self,
        n: int,
        channels: int = 1,
        blocks: int = 2,
        hidden: int = 16,
        clamp: float = 2.0,
        init_std: float = 0.01,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if blocks < 1 or hidden < 1 or channels < 1:
            raise ValueError(f"bad AdvINN config: blocks={blocks}, hidden={hidden}, channels={channels}")
        self.n, self.channels = int(n), int(channels)
        self.haar = HaarSplit()
        g = torch.Generator().manual_seed(int(seed))
        make = _subnet(self.n, int(hidden), float(init_std), g)
        band = 4 * self.channels
        layers: list[nn.Module] = []
        for _ in range(blocks):
            layers.append(
                AffineCoupling(2 * band, clamp=clamp, subnet_constructor=make, split=band, update="first")
            )
            layers.append(AffineCoupling(2 * band, clamp=clamp, subnet_constructor=make, split=band))
        self.couplings = Sequential(*layers)

    def _halves(self, t: Tensor, name: str) -> tuple[Tensor, Tensor]:
        if t.dim() != 4 or t.shape[1] != 2 * self.channels:
            raise ValueError(f"{name} must be (n, {2 * self.channels}, H, W); got {tuple(t.shape)}")
        return t[:, : self.channels], t[:, self.channels :]

    def forward(self, xg: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """``[x | g] -> ([x' | r], log_det)``."""
        x, g = self._halves(xg, "AdvINN input")
        v = torch.cat((self.haar(x)[0], self.haar(g)[0]), dim=1)
        y, log_det = self.couplings(v)
        band = 4 * self.channels
        return torch.cat((self.haar.inverse(y[:, :band]), self.haar.inverse(y[:, band:])), dim=1), log_det

    def inverse(self, yr: Tensor, **cond) -> Tensor:
        """``[x' | r] -> [x | g]`` (exact)."""
        a, r = self._halves(yr, "AdvINN.inverse input")
        v = self.couplings.inverse(torch.cat((self.haar(a)[0], self.haar(r)[0]), dim=1))
        band = 4 * self.channels
        return torch.cat((self.haar.inverse(v[:, :band]), self.haar.inverse(v[:, band:])), dim=1)

    def keep_(self, index: Tensor) -> None:
        """Keep only the networks of the images ``index`` (the batch shrinks as images finish)."""
        for m in self.modules():
            if isinstance(m, BatchedConv2d):
                m.keep_(index)
        self.n = int(index.numel())


@dataclass(frozen=True)
class AdvINNConfig:
    """AdvINN's settings (see the module docstring).  The fidelity weights and the guide step are the
    official code's; its classification weight (3) and Adam step (1e-4 for up to 5,000 steps) are for
    224 x 224 x 3 images, here 1 and 2e-3 for at most 300 steps on 28 x 28.  ``w_adv_growth`` multiplies
    the classification weight every step (1: fixed, as in the paper); on a classifier with weak input
    gradients the fixed weights can hold an image short of the decision boundary, and a growing weight
    (e.g. 1.05) walks it across."""

    steps: int = 300
    lr: float = 2e-3
    guide_lr: float = 1 / 255
    w_image: float = 1.0
    w_low: float = 1.0
    w_adv: float = 1.0
    w_adv_growth: float = 1.0
    confidence: float = 0.0
    blocks: int = 2
    hidden: int = 16
    init_std: float = 0.01
    seed: int = 0


class _Adam:
    """Adam on tensors whose first dimension is the image (so that images can be dropped mid-way)."""

    def __init__(self, lr: float, betas: tuple[float, float], eps: float) -> None:
        self.lr, self.betas, self.eps = lr, betas, eps
        self.t = 0
        self.m: list[Tensor] = []
        self.v: list[Tensor] = []

    @torch.no_grad()
    def step(self, params: list[Tensor], grads: list[Tensor]) -> None:
        if not self.m:
            self.m = [torch.zeros_like(p) for p in params]
            self.v = [torch.zeros_like(p) for p in params]
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_(self.lr * (m / c1) / ((v / c2).sqrt() + self.eps))

    def keep_(self, index: Tensor) -> None:
        self.m = [m[index] for m in self.m]
        self.v = [v[index] for v in self.v]


def advinn(
    classifier: nn.Module,
    x: Tensor,
    goal: Goal,
    guide: Tensor,
    eps: float = 8 / 255,
    learn_guide: bool = False,
    guide_labels: Tensor | None = None,
    config: AdvINNConfig = AdvINNConfig(),
) -> AttackResult:
    """AdvINN on images ``x`` (B, C, H, W) in [0, 1] with guides ``guide`` (same shape, or one image for all).

    ``learn_guide`` (CGT): the guides are optimised too, towards the classes ``guide_labels`` (B,).
    Returns the 8-bit adversarial images and the step at which each succeeded (``config.steps`` when it
    did not).  See the module docstring.
    """
    check_images(x)
    eps = check_eps(eps)
    cfg = config
    if cfg.steps < 1 or not cfg.lr > 0 or not 0 <= cfg.confidence < 1:
        raise UserError(f"AdvINN needs steps >= 1, lr > 0 and confidence in [0, 1); got {cfg}")
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise UserError(f"AdvINN needs an even image size (Haar bands); got {x.shape[-2]}x{x.shape[-1]}")
    b, c = x.shape[:2]
    guide = guide.to(x).expand_as(x) if guide.shape[0] == 1 else guide.to(x)
    if guide.shape != x.shape:
        raise UserError(f"the guide images {tuple(guide.shape)} do not match the images {tuple(x.shape)}")
    if learn_guide and (guide_labels is None or guide_labels.shape != (b,)):
        raise UserError("a learned guide (CGT) needs one guide class per image")
    device = x.device
    x = x.detach()
    inn = AdvINN(b, c, cfg.blocks, cfg.hidden, init_std=cfg.init_std, seed=cfg.seed).to(device, x.dtype)
    opt = _Adam(cfg.lr, (0.5, 0.999), 1e-6)
    opt_g = _Adam(cfg.guide_lr, (0.9, 0.999), 1e-8)
    active = torch.arange(b, device=device)
    xa, ga = x, guide.detach().clone()
    labels = goal.labels.to(device)
    glab = guide_labels.to(device) if guide_labels is not None else None
    ll_x = inn.haar(x)[0][:, :c]
    out = torch.empty_like(x)
    iterations = torch.full((b,), cfg.steps, dtype=torch.int64)
    for step in range(cfg.steps + 1):
        params = list(inn.parameters())
        g_in = ga.detach().requires_grad_(learn_guide)
        sub = Goal(labels, goal.targeted)
        with torch.enable_grad():
            y, _ = inn(torch.cat((xa, g_in), dim=1))
            x_inn = y[:, :c]
            x_adv = project(x_inn, xa, eps)
            if learn_guide:
                both = classifier(torch.cat((x_adv, g_in), dim=0))
                logits, g_logits = both[: xa.shape[0]], both[xa.shape[0] :]
            else:
                logits, g_logits = classifier(x_adv), None
        with torch.no_grad():
            ok = succeeded(logits, sub)
            if bool(ok.any()):  # the continuous image succeeds: does its 8-bit rounding, confidently?
                q = quantize(x_adv[ok])
                lq = classifier(q)
                g_ok = Goal(labels[ok], goal.targeted)
                ok_q = succeeded(lq, g_ok) & (adversarial_probability(lq, g_ok) >= cfg.confidence)
                ok[ok.clone()] = ok_q
                out[active[ok]] = q[ok_q]
                iterations[active[ok].cpu()] = step
        if step == cfg.steps:  # out of steps: the rest keep their last iterate
            rest = ~ok
            out[active[rest]] = quantize(x_adv[rest].detach())
            break
        keep = ~ok
        with torch.enable_grad():
            fid = (x_inn - xa).flatten(1).square().sum(dim=1)
            low = (inn.haar(x_inn)[0][:, :c] - ll_x[active]).flatten(1).square().sum(dim=1)
            w_adv = cfg.w_adv * cfg.w_adv_growth**step
            loss_i = cfg.w_image * fid + cfg.w_low * low + w_adv * attack_loss(logits, sub)
            if g_logits is not None:
                loss_i = loss_i + F.cross_entropy(g_logits, glab, reduction="none")
            wrt = [*params, g_in] if learn_guide else params
            grads = torch.autograd.grad(loss_i[keep].sum(), wrt, allow_unused=True)
        grads = [torch.zeros_like(p) if gr is None else gr for p, gr in zip(wrt, grads, strict=True)]
        opt.step(params, list(grads[: len(params)]))
        ga = ga.detach()
        if learn_guide:
            opt_g.step([ga], [grads[-1]])
            ga.clamp_(0.0, 1.0)
        if not bool(keep.all()):
            kept = keep.nonzero()[:, 0]
            if kept.numel() == 0:
                break
            inn.keep_(kept)
            opt.keep_(kept)
            if learn_guide:
                opt_g.keep_(kept)
            active, xa, ga, labels = active[kept], xa[kept], ga[kept], labels[kept]
            glab = glab[kept] if glab is not None else None
    return AttackResult(out, iterations)
