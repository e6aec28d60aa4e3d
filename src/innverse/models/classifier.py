"""Small Fashion-MNIST classifiers, trained by this project.

They are the networks the adversarial-attack tools attack (``fmnist-classifier``, a residual network)
and test transfer on (``fmnist-classifier-b``, a plain VGG-style network), and the feature extractor
of the "FID (local features)" sample-quality score: :meth:`features` returns the penultimate
activations.  Neither is an ImageNet network, so that score is never comparable with published FIDs.

Input: ``(B, 1, 28, 28)`` (any size that survives two halvings works) in ``[0, 1]``; the
normalisation by the data set's mean and standard deviation happens inside.  Output: logits ``(B, 10)``
in :data:`innverse.data.fashion_mnist.CLASSES` order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.nn import records_graph

__all__ = ["ResNetClassifier", "ConvNetClassifier", "FMNIST_MEAN", "FMNIST_STD"]

#: pixel mean and standard deviation of the Fashion-MNIST training images on [0, 1]
FMNIST_MEAN = 0.2860
FMNIST_STD = 0.3530


class _Block(nn.Module):
    """Pre-activation residual block: BN-ReLU-conv3x3-BN-ReLU-conv3x3, projection when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.skip = None if (cin == cout and stride == 1) else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(x))
        skip = x if self.skip is None else self.skip(h)
        h = self.conv1(h)
        h = self.conv2(F.relu(self.bn2(h)))
        return skip + h


class _Classifier(nn.Module):
    """Shared face: normalisation, ``features``, ``predict_proba``, save/load config."""

    kind = ""
    config: dict[str, Any]
    head: nn.Linear

    def _normalise(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"expected images of shape (B, 1, H, W) in [0, 1]; got {tuple(x.shape)}")
        return (x - FMNIST_MEAN) / FMNIST_STD

    def features(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Penultimate activations ``(B, feature_dim)``."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, 10)`` of images ``x`` in [0, 1].  In eval mode a graph is recorded only when ``x``
        requires grad (:func:`innverse.nn.records_graph`; attacks differentiate through the input)."""
        with torch.set_grad_enabled(records_graph(self, x)):
            return self.head(self.features(x))

    @torch.no_grad()
    def predict_proba(self, x: Tensor) -> Tensor:
        """Class probabilities ``(B, 10)`` (eval mode is the caller's choice)."""
        return torch.softmax(self.forward(x), dim=1)

    def save(self, directory: str | Path, card: dict | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` (+ ``card.json``) into ``directory``."""
        from innverse.models.io import save_model

        return save_model(self, directory, card=card)


class ResNetClassifier(_Classifier):
    """A pre-activation ResNet: a 3x3 stem, stages of width ``width * 2**k`` (the 2nd and 3rd halve the
    size), global average pooling, a linear head.  ``features`` is the pooled vector (``4 * width``)."""

    kind = "classifier-resnet"

    def __init__(
        self, width: int = 24, blocks: tuple[int, ...] | list[int] = (1, 1, 1), classes: int = 10
    ) -> None:
        super().__init__()
        blocks = tuple(int(b) for b in blocks)
        if width < 1 or not blocks or min(blocks) < 1:
            raise ValueError(f"width and every stage's block count must be >= 1; got {width}, {blocks}")
        self.config = {"width": int(width), "blocks": list(blocks), "classes": int(classes)}
        self.stem = nn.Conv2d(1, width, 3, 1, 1, bias=False)
        layers: list[nn.Module] = []
        cin = width
        for k, n in enumerate(blocks):
            cout = width * 2**k
            for j in range(n):
                layers.append(_Block(cin, cout, 2 if (j == 0 and k > 0) else 1))
                cin = cout
        self.stages = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(cin)
        self.head = nn.Linear(cin, classes)
        self.feature_dim = cin

    def features(self, x: Tensor) -> Tensor:
        h = self.stages(self.stem(self._normalise(x)))
        return F.relu(self.bn(h)).mean(dim=(2, 3))


class ConvNetClassifier(_Classifier):
    """A plain VGG-style network (no skips, no batch norm): [conv3x3-ReLU x2, max-pool] x 2, then a
    ReLU hidden layer of ``hidden`` units with dropout and a linear head (``features`` = the hidden layer)."""

    kind = "classifier-convnet"

    def __init__(self, width: int = 32, hidden: int = 128, dropout: float = 0.3, classes: int = 10) -> None:
        super().__init__()
        if width < 1 or hidden < 1 or not (0.0 <= dropout < 1.0):
            raise ValueError(
                f"bad ConvNetClassifier config: width={width}, hidden={hidden}, dropout={dropout}"
            )
        self.config = {
            "width": int(width),
            "hidden": int(hidden),
            "dropout": float(dropout),
            "classes": int(classes),
        }
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.fc = nn.Linear(2 * w * 16, hidden)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, classes)
        self.feature_dim = hidden

    def features(self, x: Tensor) -> Tensor:
        h = self.body(self._normalise(x)).flatten(1)
        return self.drop(F.relu(self.fc(h)))
