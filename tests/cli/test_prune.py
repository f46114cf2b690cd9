"""``hotconf prune``: what it would drop and what it dropped; ``history`` says what is gone;
``watch --keep-versions`` prunes as it commits."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest

import hotconf
from hotconf.cli import main
from hotconf.testing import MemorySource

from ..conftest import config_text
from .test_cli import Lines, _spawn_watch, write


def _big(n: int) -> dict[str, object]:
    return {"n": n, "sections": {f"s{i}": {"k": i * n, "v": [i, "x" * 40]} for i in range(300)}}


@pytest.fixture
def ten_versions(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    source = MemorySource(_big(1))
    with hotconf.watch(source, state_dir=state):
        for n in range(2, 11):
            source.set(_big(n))
    return state


def _listed(out: str) -> list[int]:
    return [int(m.group(1)) for m in re.finditer(r"^[* ] v(\d+)", out, re.MULTILINE)]


def test_prune_dry_run_then_prune_and_history_says_what_is_gone(
    ten_versions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(ten_versions)
    assert main(["prune", "--state-dir", state, "--keep-versions", "4", "--dry-run"]) == 0
    assert capsys.readouterr().out == "would drop 6 versions (v1-v6)\n"
    assert main(["history", "--state-dir", state]) == 0
    assert _listed(capsys.readouterr().out) == list(range(10, 0, -1))  # nothing dropped
    assert main(["prune", "--state-dir", state, "--keep-versions", "4"]) == 0
    assert capsys.readouterr().out == "dropped 6 versions (v1-v6)\n"
    assert main(["prune", "--state-dir", state, "--keep-versions", "4"]) == 0
    assert capsys.readouterr().out == "nothing to prune\n"
    assert main(["history", "--state-dir", state]) == 0
    out = capsys.readouterr().out
    assert _listed(out) == [10, 9, 8, 7]
    assert out.endswith("pruned (no longer in the history): v1-v6\n")
    assert main(["history", "--state-dir", state, "--format", "json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["pruned"] == [[1, 6]] and listing["current"] == 10
    # rolling back to a pruned version says so, offline too
    schema = ten_versions.parent / "schema.json"
    schema.write_text(json.dumps({"type": "object"}))
    argv = ["rollback", "--state-dir", state, "--schema", str(schema), "--to", "3"]
    assert main(argv) == 2
    assert "version 3 was pruned from the history" in capsys.readouterr().err


def test_prune_vacuum_gives_the_space_back(
    ten_versions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ten_versions / "hotconf.db"
    source = MemorySource(_big(11))
    with hotconf.watch(source, state_dir=ten_versions):
        for n in range(12, 60):  # each version changes everything: whole rows, compressed
            source.set(_big(n * 7))
    before = db.stat().st_size
    argv = ["prune", "--state-dir", str(ten_versions), "--keep-versions", "1", "--vacuum"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "dropped 58 versions (v1-v58)"
    assert lines[1].startswith("vacuumed: ")
    assert db.stat().st_size < before / 2
    with hotconf.watch(MemorySource(_big(59 * 7)), state_dir=ten_versions) as live:
        assert live.version == 59 and [v.version for v in live.history()] == [59]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--state-dir", "{state}"], "give --keep-versions N, --keep-days D, or both"),
        (["--state-dir", "{state}", "--keep-versions", "0"], "0 is not in the range x>=1"),
        (["--state-dir", "{state}", "--keep-days", "-1"], "-1.0 is not in the range x>=0"),
        (
            ["--state-dir", "{state}", "--keep-days", "1", "--dry-run", "--vacuum"],
            "--vacuum drops nothing in a dry run",
        ),
        (["--keep-versions", "3"], "give CONFIG"),
        (["--state-dir", "{tmp}/none", "--keep-versions", "3"], "no hotconf state database"),
    ],
)
def test_prune_that_cannot_run_exits_2(
    ten_versions: Path,
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [a.format(state=ten_versions, tmp=ten_versions.parent) for a in args]
    assert main(["prune", *argv]) == 2
    assert message in capsys.readouterr().err
    assert main(["history", "--state-dir", str(ten_versions)]) == 0
    assert len(_listed(capsys.readouterr().out)) == 10  # nothing dropped


def test_watch_keep_versions_prunes_as_it_commits(tmp_path: Path, schema_file: Path) -> None:
    config = write(tmp_path / "config.yaml", config_text(pool=1))
    state = tmp_path / "s"
    proc = _spawn_watch(
        str(config), "--schema", str(schema_file), "--state-dir", str(state), "--keep-versions", "2"
    )
    lines = Lines(proc)
    try:
        lines.wait("watching")
        for pool in (2, 3, 4):
            config.write_text(config_text(pool=pool))
            lines.wait(f"applied v{pool}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    with hotconf.watch(config, schema_file, state_dir=state) as live:
        assert [v.version for v in live.history()] == [4, 3]
