"""Helpers of the command-line tests: small images, running ``innverse.cli.main`` in-process, and
checking a clean failure (one line naming the command, no traceback)."""

from __future__ import annotations

import numpy as np

from innverse.cli import main
from innverse.data.io import write_image


def noisy(h=40, w=36, c=1, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.5 + 0.3 * np.sin(7 * xx + 3 * yy)
    if c == 3:
        base = np.stack([base, base[::-1], 1 - base], axis=2)
    return np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1).astype(np.float32)


def put(path, a=None, bits=8):
    """Write a test image (default: :func:`noisy`) and return its path."""
    return write_image(path, noisy() if a is None else a, bits)


def cli(capsys, *argv):
    """(exit code, stdout, stderr) of ``innverse ARGV`` run in-process."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_failure(code, err, *needles, expect=2, prefix="innverse "):
    assert code == expect, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[0].startswith(prefix), err
    for n in needles:
        assert n in err, err


def files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def bad_inputs(tmp_path):
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    full = put(tmp_path / "full.png", noisy(64, 64)).read_bytes()
    (tmp_path / "cut.png").write_bytes(full[: len(full) // 2])
    put(tmp_path / "tiny.png", noisy(5, 6))
    (tmp_path / "adir.png").mkdir()
    return {
        "missing.png": "no such file",
        "zero.png": "empty file",
        "text.png": "not a recognised image",
        "cut.png": "truncated",
        "tiny.png": "at least 8×8",
        "adir.png": "is a directory",
    }
