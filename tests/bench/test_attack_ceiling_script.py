"""``benchmarks/attack_ceiling.py`` refuses what is not an untargeted attack report with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "attack_ceiling.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


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
