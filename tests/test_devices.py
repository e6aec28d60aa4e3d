"""Choosing the device (innverse.devices.resolve_device)."""

from __future__ import annotations

import pytest
import torch

from innverse.devices import resolve_device
from innverse.errors import UserError


def test_resolve_device():
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    assert (
        resolve_device().type == auto
        and resolve_device("auto").type == auto
        and resolve_device("").type == auto
    )
    assert resolve_device("cpu") == torch.device("cpu") and resolve_device(torch.device("cpu")).type == "cpu"
    assert resolve_device("cpu", local_rank=3) == torch.device("cpu")
    with pytest.raises(UserError, match="--device 'tpu'"):
        resolve_device("tpu", option="--device")
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("gpu:x")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            resolve_device("cuda")
    else:
        assert resolve_device("cuda", local_rank=0) == torch.device("cuda", 0)
        with pytest.raises(UserError, match="CUDA devices"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
