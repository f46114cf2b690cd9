"""`evaluate`, the one candidate check: every caller that decides on a candidate gets the same
problems, level and report for it (docs/architecture.md, invariant 11)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.cli import main
from hotconf.fleet import publisher as fleet
from hotconf.testing import MemorySource

from ..conftest import SCHEMA

OLD = "db:\n  host: db.local\n  pool_size: 5\n  password: old-secret-1\n"
# a host changed (safe), a pool 10x larger (risky), a secret changed, a key added
NEW = "db:\n  host: db.remote\n  pool_size: 50\n  password: new-secret-2\nfeatures:\n  beta: true\n"
# two problems: a pool below its minimum (line 3), a password too short (line 4)
INVALID = "db:\n  host: db.local\n  pool_size: 0\n  password: pw-1\n"

needs_etcd = pytest.mark.skipif(shutil.which("etcd") is None, reason="etcd is not installed")


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report's JSON without the version numbers: only a caller with a history has them."""
    out = {k: v for k, v in report.items() if k not in ("old", "new")}
    out["checksums"] = (report["old"]["checksum"], report["new"]["checksum"])
    return out


def located(problems: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    return [(p["path"], p["code"], p["message"], p["line"]) for p in problems]


def files(tmp_path: Path, candidate: str) -> tuple[str, str, str]:
    old, new, schema = tmp_path / "old.yaml", tmp_path / "new.yaml", tmp_path / "schema.json"
    old.write_text(OLD)
    new.write_text(candidate)
    schema.write_text(json.dumps(SCHEMA))
    return str(old), str(new), str(schema)


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_every_caller_gets_the_same_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, schema = files(tmp_path, NEW)
    reports: dict[str, dict[str, Any]] = {}
    code, reports["hotconf diff"] = cli_json(capsys, "diff", old, new, "--schema", schema)
    assert code == 0
    reports["hotconf.diff"] = hotconf.diff(old, new, schema).to_dict()
    results: list[hotconf.ReloadResult] = []
    source = MemorySource(OLD)
    with hotconf.watch(source, schema=SCHEMA, on_result=results.append) as live:
        reports["live.validate"] = live.validate(NEW.encode()).to_dict()
        rollout = live.rollout(NEW.encode(), fraction=0.5)
        reports["live.rollout"] = rollout.report.to_dict()
        rollout.abort("only its report was wanted")
        source.set(NEW)
        assert results[-1].status == "applied"
        assert results[-1].report is not None
        reports["reload"] = results[-1].report.to_dict()

    expected = comparable(reports["hotconf diff"])
    assert expected["level"] == "risky"
    assert [c["path"] for c in expected["changes"]] == [
        "/db/host",
        "/db/pool_size",
        "/db/password",
        "/features",
    ]
    assert "new-secret-2" not in json.dumps(expected)
    for caller, report in reports.items():
        assert comparable(report) == expected, caller


def test_every_caller_refuses_an_invalid_candidate_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, schema = files(tmp_path, INVALID)
    found: dict[str, list[tuple[object, ...]]] = {}
    code, body = cli_json(capsys, "validate", new, "--schema", schema)
    assert code == 1 and not body["valid"]
    found["hotconf validate"] = located(body["problems"])
    code, body = cli_json(capsys, "diff", old, new, "--schema", schema)
    assert code == 1 and body["level"] == "breaking"
    found["hotconf diff"] = located(body["problems"])
    results: list[hotconf.ReloadResult] = []
    source = MemorySource(OLD)
    with hotconf.watch(source, schema=SCHEMA, on_result=results.append) as live:
        report = live.validate(INVALID.encode())
        assert report.level == "breaking"
        found["live.validate"] = located([p.to_dict() for p in report.problems])
        with pytest.raises(hotconf.ValidationError) as refused:
            live.rollout(INVALID.encode())
        found["live.rollout"] = located([p.to_dict() for p in refused.value.problems])
        source.set(INVALID)
        rejection = results[-1].rejection
        assert results[-1].status == "rejected" and rejection is not None
        found["reload"] = located([p.to_dict() for p in rejection.problems])
        assert live.version == 1

    expected = found["hotconf validate"]
    assert [(path, code, line) for path, code, _, line in expected] == [  # in line order
        ("/db/pool_size", "minimum", 3),
        ("/db/password", "minLength", 4),
    ]
    assert not any("pw-1" in str(message) for _, _, message, _ in expected)
    for caller, problems in found.items():
        assert problems == expected, caller


@needs_etcd
def test_fleet_publish_gets_the_same_report_as_the_cli(
    etcd: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, schema = files(tmp_path, NEW)
    _, expected = cli_json(capsys, "diff", old, new, "--schema", schema)
    Path(new).write_text(INVALID)
    _, refused = cli_json(capsys, "validate", new, "--schema", schema)
    checked = hotconf.Schema.from_dict(SCHEMA)
    assert fleet.publish(etcd.url, "app", OLD.encode(), schema=checked).status == "published"
    held = fleet.publish(etcd.url, "app", INVALID.encode(), schema=checked)
    assert held.status == "held"
    assert located([p.to_dict() for p in held.report.problems]) == located(refused["problems"])
    published = fleet.publish(etcd.url, "app", NEW.encode(), schema=checked)
    assert published.status == "published"
    assert comparable(published.report.to_dict()) == comparable(expected)
