"""The 8-modes toy problem of Ardizzone et al., "Analyzing inverse problems with invertible neural
networks" (ICLR 2019), Sec. 4.1 / Fig. 2, as set up in the authors' released code.

* ``x`` in R^2 is drawn from an equal-weight mixture of 8 isotropic Gaussians with standard deviation
  0.2, centred on the vertices of a regular octagon, ``(±1, ±2.4142)`` and ``(±2.4142, ±1)``
  (``2.4142 = 1 + sqrt(2)`` to the 4 decimals of the published code).
* ``y`` is the mode's *label* (its colour in the paper's figures), encoded one-hot in 8 dimensions.
  The label maps of the published code: ``"all"`` (every mode its own label), ``"some"`` (labels
  ``0 0 0 0 1 1 2 3`` for the 8 modes in order: label 0 covers four modes, label 1 two, labels 2 and 3
  one each -- the default, the setup of the paper's figure and of the authors' training script) and
  ``"none"`` (one label for all).

The posterior is known in closed form: given label ``k``, ``x`` is an equal-weight mixture of the modes
mapped to ``k`` (the prior weights are equal, so Bayes' rule keeps them equal).  The forward process
(predicting the label from ``x``) is the categorical distribution ``p(label | x)``, also closed form.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from innverse.errors import UserError

__all__ = ["EightModes", "VERTICES", "LABEL_MAPS", "MODE_STD"]

#: the mode centres, in the order of the published code
VERTICES = (
    (-2.4142, 1.0),
    (-1.0, 2.4142),
    (1.0, 2.4142),
    (2.4142, 1.0),
    (2.4142, -1.0),
    (1.0, -2.4142),
    (-1.0, -2.4142),
    (-2.4142, -1.0),
)
#: mode -> label, per setup (published code)
LABEL_MAPS = {
    "all": (0, 1, 2, 3, 4, 5, 6, 7),
    "some": (0, 0, 0, 0, 1, 1, 2, 3),
    "none": (0, 0, 0, 0, 0, 0, 0, 0),
}
#: the standard deviation of every mode
MODE_STD = 0.2


class EightModes:
    """The 8-modes problem: ``x`` (B, 2) positions, ``y`` labels ``(B,)`` (one-hot (B, 8) in networks)."""

    x_dim = 2
    y_dim = 8
    name = "8modes"

    def __init__(self, labels: str = "some") -> None:
        if labels not in LABEL_MAPS:
            raise UserError(f"unknown 8-modes label map {labels!r} (expected one of {', '.join(LABEL_MAPS)})")
        self.labels = labels
        self.mode_label = torch.tensor(LABEL_MAPS[labels])
        self.centres = torch.tensor(VERTICES, dtype=torch.float64)
        #: the labels that occur, sorted
        self.label_values = sorted(set(LABEL_MAPS[labels]))

    # ------------------------------------------------------------------ sampling
    def sample_joint(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(x, label)``: ``n`` float32 positions ``(n, 2)`` and int64 labels ``(n,)``."""
        mode = torch.randint(0, 8, (n,), generator=generator)
        x = self.centres[mode] + MODE_STD * torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return x.float(), self.mode_label[mode]

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` labels from the marginal ``p(y)`` (a mode uniformly, then its label)."""
        return self.mode_label[torch.randint(0, 8, (n,), generator=generator)]

    def one_hot(self, labels: Tensor) -> Tensor:
        """``(B,)`` integer labels -> ``(B, 8)`` float32 one-hot vectors."""
        labels = self.check_labels(labels)
        return torch.nn.functional.one_hot(labels, 8).float()

    def check_labels(self, labels: Tensor) -> Tensor:
        """Validate ``(B,)`` integer labels of this setup (UserError otherwise)."""
        labels = torch.as_tensor(labels)
        if labels.dim() != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise UserError(
                f"8-modes labels must be a (B,) integer tensor; got {tuple(labels.shape)} {labels.dtype}"
            )
        bad = [int(v) for v in labels.unique() if int(v) not in self.label_values]
        if bad:
            raise UserError(
                f"8-modes labels {bad} do not occur in the {self.labels!r} setup ({self.label_values})"
            )
        return labels.long()

    def posterior_sample(self, labels: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Exact posterior samples ``(B, n, 2)`` (float32) given labels ``(B,)``."""
        labels = self.check_labels(labels)
        out = torch.empty(len(labels), n, 2, dtype=torch.float64)
        for i, k in enumerate(labels.tolist()):
            modes = torch.nonzero(self.mode_label == k).flatten()
            pick = modes[torch.randint(0, len(modes), (n,), generator=generator)]
            noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
            out[i] = self.centres[pick] + MODE_STD * noise
        return out.float()

    # ------------------------------------------------------------------ densities
    def _mode_log_density(self, x: Tensor) -> Tensor:
        """``log N(x; centre_m, 0.2^2 I)`` for every mode: ``(..., 8)``."""
        d2 = ((x.double()[..., None, :] - self.centres) ** 2).sum(-1)
        return -0.5 * d2 / MODE_STD**2 - math.log(2 * math.pi * MODE_STD**2)

    def log_posterior(self, x: Tensor, labels: Tensor) -> Tensor:
        """``log p(x | label)`` (float64), ``x`` of shape ``(B, n, 2)`` or ``(B, 2)``, labels ``(B,)``."""
        labels = self.check_labels(labels)
        lm = self._mode_log_density(x)  # (B, [n,] 8)
        member = self.mode_label[None, :] == labels[:, None]  # (B, 8)
        if lm.dim() == 3:
            member = member[:, None, :]
        lm = lm.masked_fill(~member, -math.inf)
        return torch.logsumexp(lm, dim=-1) - torch.log(member.sum(-1).double())

    def label_probabilities(self, x: Tensor) -> Tensor:
        """The forward process ``p(label | x)`` as ``(..., 8)`` probabilities (float64; zero for labels
        that do not occur)."""
        post_mode = torch.softmax(self._mode_log_density(x), dim=-1)  # equal mode weights
        out = torch.zeros(*post_mode.shape[:-1], 8, dtype=torch.float64)
        return out.index_add_(out.dim() - 1, self.mode_label, post_mode)
