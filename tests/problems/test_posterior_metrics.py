"""MMD and calibration scores: known values, and that they react to a wrong distribution."""

from __future__ import annotations

import torch

from innverse.problems.metrics import BACKWARD_KERNELS, calibration_error, imq_mmd_matrix, mmd2


def test_imq_mmd_matrix_formula() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 3, generator=g, dtype=torch.float64)
    y = torch.randn(7, 3, generator=g, dtype=torch.float64)
    m = imq_mmd_matrix(x, y, BACKWARD_KERNELS)

    def k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d = ((a[:, None] - b[None]) ** 2).sum(-1)
        return sum(c**e * ((c + d) / e) ** -e for c, e in BACKWARD_KERNELS)

    torch.testing.assert_close(m, k(x, x) + k(y, y) - 2 * k(x, y), atol=1e-12, rtol=0)
    assert float(imq_mmd_matrix(x, x, BACKWARD_KERNELS).abs().max()) < 1e-12


def test_mmd2_unbiased_and_sensitive() -> None:
    g = torch.Generator().manual_seed(1)
    same = [mmd2(torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g)) for _ in range(10)]
    shifted = mmd2(torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g) + 0.3)
    assert abs(sum(same) / 10) < 2e-3 and max(abs(v) for v in same) < 0.01
    assert shifted > 0.02


def test_calibration_error() -> None:
    g = torch.Generator().manual_seed(2)
    truth = torch.randn(2000, 2, generator=g)
    good = torch.randn(2000, 200, 2, generator=g)
    narrow = 0.5 * good
    err_good, curve = calibration_error(good, truth)
    err_narrow, _ = calibration_error(narrow, truth)
    assert len(curve) == 99 and err_good < 0.02
    assert err_narrow > 0.1  # overconfident posteriors miss the truth too often
