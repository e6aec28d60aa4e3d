"""The opt-in allocator setting: applied only on request (the CLI: by environment, or for ``train``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import innverse.runtime as runtime


def _in_fresh_process(code: str, env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != runtime.ENV_VAR}
    if env_value is not None:
        env[runtime.ENV_VAR] = env_value
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize(
    "value,default,applied",
    [(None, False, False), (None, True, True), ("0", True, False), ("no", True, False), ("1", False, True)],
)
def test_tune_from_environment(value, default, applied):
    code = f"import innverse.runtime as r; print(r.tune_from_environment(default={default}))"
    expect = applied and sys.platform.startswith("linux")
    assert _in_fresh_process(code, value) == str(expect)


def _calls(monkeypatch, argv, env_value=None):
    from innverse.cli import main

    seen = []
    monkeypatch.setattr(runtime, "tune_cpu_allocator", lambda *a, **k: seen.append(1) or True)
    if env_value is None:
        monkeypatch.delenv(runtime.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(runtime.ENV_VAR, env_value)
    main(argv)
    return len(seen)


def test_the_cli_changes_no_process_setting_unless_asked(monkeypatch, capsys):
    assert _calls(monkeypatch, ["models"]) == 0
    assert _calls(monkeypatch, ["models"], "1") == 1
    assert _calls(monkeypatch, ["train"]) == 1  # the training process keeps it by default ...
    assert _calls(monkeypatch, ["train"], "0") == 0  # ... unless turned off
    capsys.readouterr()
