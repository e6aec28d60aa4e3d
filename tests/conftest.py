import pytest
import torch

from innverse.paths import data_path


@pytest.fixture(autouse=True)
def _threads():
    """One intra-op thread: the test tensors are small, and extra threads only add OpenMP
    wake-up stalls on a shared machine (measured: up to 30x slower with 2 threads here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def require_data(*parts: str):
    """Return the path under the data root, or skip the test cleanly when it is absent."""
    p = data_path(*parts)
    if p is None:
        pytest.skip(f"data not available: {'/'.join(parts)} (set INNVERSE_DATA)")
    return p
