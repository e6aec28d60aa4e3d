"""Stand-in models for the pretrained names, for every command-line test."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import innverse.models
from _standins import MadEstimator

_real_load_model = innverse.models.load_model


class BlurDenoiser(nn.Module):
    """Stand-in denoiser (3×3 box blur); records the name it was loaded under."""

    kind = "winnet"
    blind = True
    min_size = 8

    def __init__(self, name: str = "stand-in"):
        super().__init__()
        self.name = name

    def forward(self, y: torch.Tensor, sigma) -> torch.Tensor:
        c = y.shape[1]
        w = torch.full((c, 1, 3, 3), 1 / 9, dtype=y.dtype)
        return F.conv2d(F.pad(y, (1, 1, 1, 1), mode="reflect"), w, groups=c)


@pytest.fixture(autouse=True)
def loaded(monkeypatch):
    """Pretrained names load stand-ins (the names are recorded); paths go to the real loader."""
    names: list[str] = []

    def fake(name_or_path, device="cpu"):
        name = str(name_or_path)
        if name == "nenet":
            names.append(name)
            return MadEstimator()
        if name.startswith("winnet-"):
            names.append(name)
            m = BlurDenoiser(name)
            m.blind = name == "winnet-blind"
            return m
        return _real_load_model(name_or_path, device)

    monkeypatch.setattr(innverse.models, "load_model", fake)
    return names
