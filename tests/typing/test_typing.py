"""Type checkers infer typed configs: ``watch(model=AppConfig)`` is a ``LiveConfig[AppConfig]``.

tests/typing/typed_usage.py holds the ``assert_type`` checks; mypy (strict, as CI runs it)
and pyright must pass it, and must fail a file whose ``assert_type`` is wrong: the checks can
fail, so passing them means something.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USAGE = ROOT / "tests" / "typing" / "typed_usage.py"

WRONG = """
from typing import assert_type

from pydantic import BaseModel, ConfigDict

import hotconf


class Config(BaseModel):
    model_config = ConfigDict(frozen=True)
    port: int = 1


def _wrong() -> None:
    live = hotconf.watch("config.yaml", model=Config)
    assert_type(live.current, hotconf.Snapshot)
    assert_type(live.current.port, str)
    assert_type(hotconf.watch("config.yaml").current, Config)
"""


def checked(tmp_path: Path, command: list[str]) -> tuple[str, list[int]]:
    """Runs a checker on typed_usage.py and the wrong file: its output and the lines of the
    wrong file it reports."""
    wrong = tmp_path / "wrong_usage.py"
    wrong.write_text(WRONG)
    run = subprocess.run(
        [*command, str(USAGE), str(wrong)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    lines = sorted({int(n) for n in re.findall(r"wrong_usage\.py:(\d+)", out)})
    return out, lines


def test_mypy_infers_the_models_type(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache")]
    out, lines = checked(tmp_path, command)
    assert "typed_usage.py" not in out, out  # every assert_type there holds
    assert lines == [16, 17, 18], out


@pytest.mark.skipif(
    importlib.util.find_spec("pyright") is None or shutil.which("node") is None,
    reason="pyright (pip) and Node.js are not both installed",
)
def test_pyright_infers_the_models_type(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pyright", "--pythonpath", sys.executable]
    out, lines = checked(tmp_path, command)
    assert "typed_usage.py:" not in out, out
    assert lines == [16, 17, 18], out
