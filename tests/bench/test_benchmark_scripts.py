"""Scripts in ``benchmarks/`` refuse bad input with one line and exit 2: ``attack_ceiling.py`` (what is
not an untargeted attack report) and ``steg_amplitude.py`` (scale factors outside (0, 1])."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(*args: str, script: str = "attack_ceiling.py") -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPTS / script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "content, says",
    [
        (None, "is not an attack benchmark report"),
        ("{}", "is not an attack benchmark report"),
        ("nonsense", "is not an attack benchmark report"),
        ("[]", "is not an attack benchmark report"),
    ],
)
def test_bad_reports_get_one_line(tmp_path: Path, content: str | None, says: str):
    rep = tmp_path / "attack.json"
    if content is not None:
        rep.write_text(content)
    out = tmp_path / "ceiling.json"
    r = _run("--report", str(rep), "--out", str(out))
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and says in lines[0], r.stderr
    assert not out.exists()


def test_a_targeted_report_is_refused(tmp_path: Path):
    rep = tmp_path / "attack.json"
    rows = [{"per_image": {"success": [True]}}]
    rep.write_text(json.dumps({"rows": rows, "protocol": {"eps_255": 8, "goal": "targeted"}}))
    r = _run("--report", str(rep), "--out", str(tmp_path / "c.json"))
    assert r.returncode == 2 and "untargeted" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("alphas", ["0", "1.5", "x", "0.5,-1"])
def test_steg_amplitude_refuses_bad_factors(tmp_path: Path, alphas: str):
    out = tmp_path / "amp.json"
    r = _run("--alphas", alphas, "--out", str(out), script="steg_amplitude.py")
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "--alphas must be numbers in (0, 1]" in lines[0], (
        r.stderr
    )
    assert not out.exists()
