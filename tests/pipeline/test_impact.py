"""Impact reports: exact changes, levels with reasons, redaction, renderings, the gate."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

import hotconf
from hotconf.cli import main
from hotconf.pipeline.diff import changes
from hotconf.pipeline.snapshot import canonical_json
from hotconf.testing import EventRecorder, MemorySource

ROOT = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = json.loads((ROOT / "schemas" / "impact-report.schema.json").read_text())

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "timeout": {"type": "integer", "default": 30},
        "ratio": {"type": "number"},
        "port": {"type": "integer", "x-hotconf-reload": "restart"},
        "server": {
            "type": "object",
            "x-hotconf-reload": "restart",
            "properties": {"threads": {"type": "integer"}},
        },
        "routing": {"type": "object", "x-hotconf-impact": "risky"},
        "tags": {"type": "array", "x-hotconf-set": True},
        "hosts": {"type": "array"},
        "db": {
            "type": "object",
            "properties": {
                "password": {"type": "string"},
                "dsn": {"type": "string", "x-hotconf-sensitive": True},
                "pool": {"type": "integer", "minimum": 1},
            },
        },
    },
}


def report_of(old: dict[str, Any], new: dict[str, Any]) -> hotconf.ImpactReport:
    report = hotconf.diff(old, new, schema=SCHEMA)
    jsonschema.validate(report.to_dict(), REPORT_SCHEMA)
    return report


@pytest.mark.parametrize(
    ("old", "new", "pointer", "kind", "level", "reason"),
    [
        ({"timeout": 10}, {"timeout": 20}, "/timeout", "value_changed", "safe", "within"),
        ({"timeout": 10}, {"timeout": 100}, "/timeout", "value_changed", "risky", "10x"),
        ({"timeout": 100}, {"timeout": 10}, "/timeout", "value_changed", "risky", "10x"),
        ({"ratio": 1.5}, {"ratio": -1.5}, "/ratio", "value_changed", "risky", "sign"),
        ({"timeout": 10}, {}, "/timeout", "key_removed", "risky", "fall back to default 30"),
        ({"ratio": 1.0}, {}, "/ratio", "key_removed", "risky", "no default"),
        ({}, {"ratio": 2.0}, "/ratio", "key_added", "safe", "optional key added"),
        ({"ratio": 4}, {"ratio": 4.0}, "/ratio", "type_changed", "risky", "integer to number"),
        ({"port": 80}, {"port": 81}, "/port", "value_changed", "restart", "needs restart"),
        (
            {"server": {"threads": 4}},
            {"server": {"threads": 8}},
            "/server/threads",
            "value_changed",
            "restart",
            "x-hotconf-reload: restart",
        ),
        (
            {"routing": {"a": 1}},
            {"routing": {"a": 2}},
            "/routing/a",
            "value_changed",
            "risky",
            "x-hotconf-impact: risky",
        ),
        ({"hosts": ["a", "b"]}, {"hosts": ["b", "a"]}, "/hosts", "list_reordered", "risky", ""),
        ({"hosts": ["a"]}, {"hosts": ["a", "b"]}, "/hosts/1", "item_added", "safe", ""),
        ({"hosts": ["a", "b"]}, {"hosts": ["a"]}, "/hosts/1", "item_removed", "safe", ""),
        ({"tags": ["x", "y"]}, {"tags": ["y", "z"]}, "/tags/0", "item_removed", "safe", ""),
    ],
)
def test_levels_and_reasons(
    old: dict[str, Any],
    new: dict[str, Any],
    pointer: str,
    kind: str,
    level: str,
    reason: str,
) -> None:
    report = report_of(old, new)
    [change] = [c for c in report.changes if c.pointer == pointer]
    assert (change.kind, change.level) == (kind, level)
    assert reason in change.reason
    assert report.level == max(c.level for c in report.changes)


def test_set_reorder_is_none() -> None:
    report = report_of({"tags": ["x", "y"]}, {"tags": ["y", "x"]})
    assert report.idempotent and report.level == "none"


def test_invalid_candidate_is_breaking_with_problems() -> None:
    report = report_of({"db": {"pool": 5}}, {"db": {"pool": 0}})
    assert report.level == "breaking"
    assert [p.path for p in report.problems] == ["/db/pool"]


# -- an invalid candidate: its changes say what the problems say ----------------------

STRICT: dict[str, Any] = {
    "type": "object",
    "required": ["port", "db"],
    "additionalProperties": False,
    "properties": {
        "port": {"type": "integer", "maximum": 100},
        "mode": {"enum": ["a", "b"]},
        "ratio": {"type": "number"},
        "n": {"type": "integer"},
        "db": {
            "type": "object",
            "required": ["host"],
            "properties": {"host": {"type": "string"}, "pool": {"type": "integer"}},
        },
        "backend": {"oneOf": [{"required": ["url"]}, {"required": ["path"]}]},
    },
}
STRICT_OLD = {"port": 10, "mode": "a", "n": 1, "ratio": 1, "db": {"host": "h", "pool": 1}}
CLAIMS = ("within the schema", "optional key added", "the schema allows both")


@pytest.mark.parametrize(
    ("new", "pointer", "reason"),
    [
        ({**STRICT_OLD, "port": 1000}, "/port", "invalid: 1000 is greater than the maximum"),
        ({**STRICT_OLD, "mode": "c"}, "/mode", "invalid: 'c' is not one of ['a', 'b']"),
        ({**STRICT_OLD, "n": "x"}, "/n", "invalid: 'x' is not of type 'integer'"),
        ({**STRICT_OLD, "extra": 1}, "/extra", "invalid: Additional properties are not allowed"),
        ({**STRICT_OLD, "db": {"pool": 1}}, "/db/host", "invalid: 'host' is a required property"),
        ({**STRICT_OLD, "db": 5}, "/db", "invalid: 5 is not of type 'object'"),
        (
            {k: v for k, v in STRICT_OLD.items() if k != "db"},
            "/db",
            "invalid: 'db' is a required property",
        ),
        (  # a value added whole, with a problem inside it
            {**STRICT_OLD, "backend": {"u": 1}},
            "/backend",
            "invalid: ",
        ),
    ],
)
def test_a_change_at_a_path_with_a_problem_is_breaking_for_that_problem(
    new: dict[str, Any], pointer: str, reason: str
) -> None:
    report = hotconf.diff(STRICT_OLD, new, schema=STRICT)
    jsonschema.validate(report.to_dict(), REPORT_SCHEMA)
    assert report.level == "breaking" and report.problems
    [change] = [c for c in report.changes if c.pointer == pointer]
    assert change.level == "breaking" and change.reason.startswith(reason), change
    assert not any(claim in c.reason for c in report.changes for claim in CLAIMS)


def test_changes_away_from_the_problems_keep_their_own_level_and_reason() -> None:
    new = {**STRICT_OLD, "port": 1000, "n": 2, "ratio": 1.5}
    report = hotconf.diff(STRICT_OLD, new, schema=STRICT)
    by_path = {c.pointer: (c.level, c.reason) for c in report.changes}
    assert by_path["/port"][0] == "breaking"
    assert by_path["/n"] == ("safe", "value changed within the schema")
    assert by_path["/ratio"] == (
        "risky",
        "type changed from integer to number; the schema allows both",
    )
    # under a value that fails as a whole (oneOf here), nothing is claimed about the schema
    old = {**STRICT_OLD, "backend": {"url": "u"}}
    report = hotconf.diff(old, {**old, "backend": {"url": "v", "path": "p"}}, schema=STRICT)
    [added, changed] = sorted(report.changes, key=lambda c: c.kind)
    assert (added.pointer, added.reason) == ("/backend/path", "key added")
    assert (changed.pointer, changed.reason) == ("/backend/url", "value changed")


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["port", "mode", "ratio", "n", "extra", "db", "backend"]),
        st.one_of(
            st.none(), st.booleans(), st.integers(-5, 500), st.floats(-2, 2, allow_nan=False),
            st.sampled_from(["a", "b", "c"]), st.just({"host": "h"}), st.just({"pool": "x"}),
            st.just({"url": "u"}), st.just("<remove>"),
        ),
    ),
    min_size=1,
    max_size=4,
)  # fmt: skip


@settings(max_examples=300, deadline=None, database=None)
@given(MUTATIONS)
def test_a_schema_claim_holds_for_the_change_alone(edits: list[tuple[str, Any]]) -> None:
    """Whatever the candidate, a reason that says the schema accepts a change is true: the
    old config with that one change applied passes the schema."""
    new = dict(STRICT_OLD)
    for key, value in edits:
        if value == "<remove>":
            new.pop(key, None)
        else:
            new[key] = value
    schema = hotconf.Schema.from_dict(STRICT)
    report = hotconf.diff(STRICT_OLD, new, schema=schema)
    at_problem = {p.path for p in report.problems}
    for change in report.changes:
        if change.pointer in at_problem:
            assert change.level == "breaking" and change.reason.startswith("invalid: ")
        if any(claim in change.reason for claim in CLAIMS):
            alone = json.loads(json.dumps(STRICT_OLD))
            parent = alone
            for step in change.path[:-1]:
                parent = parent[step]
            parent[change.path[-1]] = change.new
            assert schema.validate(alone) == (), (change, report.problems)


def test_the_live_pipeline_reports_an_invalid_candidate_the_same_way() -> None:
    source = MemorySource(STRICT_OLD)
    with hotconf.watch(source, schema=STRICT) as live:
        dry = live.validate(
            b"port: 1000\nmode: a\nn: 1\nratio: 1\nextra: 1\ndb: {host: h, pool: 1}\n"
        )
        assert {c.pointer: c.level for c in dry.changes} == {
            "/port": "breaking",
            "/extra": "breaking",
        }
        results: list[hotconf.ReloadResult] = []
        live._on_result = results.append
        source.set({**STRICT_OLD, "mode": "c"})
        [result] = results
        assert result.status == "rejected" and result.report is not None
        [change] = result.report.changes
        assert (change.level, change.reason) == (
            "breaking",
            "invalid: 'c' is not one of ['a', 'b']",
        )


SAME_YAML = [
    (b"a: 1\nb: 2\n", b"b: 2\na: 1\n"),
    (b"a: 1  # comment\n", b"# header\na: 1\n"),
    (b"a: 'x'\nb: \"y\"\n", b"a: x\nb: y\n"),
    (b"a: [1, 2]\nb: {c: 3}\n", b"a:\n  - 1\n  - 2\nb:\n  c: 3\n"),
    (
        b"base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\n",
        b"base: {x: 1, y: 2}\nchild: {x: 1, y: 3}\n",
    ),
    (b"a: &v hello\nb: *v\n", b"a: hello\nb: hello\n"),
]


@pytest.mark.parametrize(("old", "new"), SAME_YAML)
def test_form_only_edits_are_none(old: bytes, new: bytes) -> None:
    report = hotconf.diff(old, new)
    assert report.idempotent and report.level == "none" and report.changes == ()


class Server(BaseModel):
    model_config = ConfigDict(frozen=True)
    host: str
    password: str


class Servers(BaseModel):
    model_config = ConfigDict(frozen=True)
    servers: tuple[Server, ...] = (Server(host="h", password="dev-pw-default"),)  # noqa: S106


CONN = {
    "type": "object",
    "properties": {
        "conn": {"type": ["object", "string"], "default": {"user": "u", "token": "tok-default-1"}}
    },
}


def test_secrets_never_appear_in_any_rendering() -> None:
    old = {"db": {"password": "old-secret-1", "dsn": "pg://u:old-secret-2@h", "pool": 2}}
    new = {"db": {"password": "new-secret-1", "dsn": "pg://u:new-secret-2@h", "pool": 3}}
    report = report_of(old, new)
    assert {c.pointer for c in report.changes if c.sensitive} == {"/db/password", "/db/dsn"}
    reports = [report]
    # a default that falls back in (or that a removed key falls back to) holds a secret: the
    # reason shows it as the values do
    for apply_defaults in (True, False):
        reports += [
            hotconf.diff({"servers": []}, {}, model=Servers, apply_defaults=apply_defaults),
            hotconf.diff({"conn": "plain"}, {}, CONN, apply_defaults=apply_defaults),
            hotconf.diff({"conn": {"other": 1}}, {}, CONN, apply_defaults=apply_defaults),
        ]
    for report in reports:
        assert report.changes
        text = report.to_json() + report.to_text(color=True) + report.to_markdown() + repr(report)
        for secret in ("old-secret-1", "new-secret-1", "old-secret-2", "new-secret-2"):
            assert secret not in text
        assert "dev-pw-default" not in text and "tok-default-1" not in text, text
        assert hotconf.REDACTED in text
    # the reasons still say what consumers get
    assert '"password": "<redacted>"' in reports[1].changes[0].reason
    assert '"token": "<redacted>"' in reports[2].changes[0].reason


def test_renderings() -> None:
    report = report_of({"timeout": 10, "port": 1}, {"timeout": 100, "port": 2, "ratio": 1.0})
    text = report.to_text()
    assert text.splitlines()[0] == "restart: 3 changes (1 restart, 1 risky, 1 safe)"
    assert "\x1b[" not in text and "\x1b[" in report.to_text(color=True)
    md = report.to_markdown()
    assert md.startswith("**Config impact: restart") and "| `/timeout` |" in md
    assert report.counts == {
        "none": 0, "safe": 1, "risky": 1, "restart": 1, "breaking": 0, "total": 3,
    }  # fmt: skip


# -- exactness: every changed path, nothing extra --------------------------------------

leaves = st.one_of(
    st.integers(-5, 5),
    st.floats(-3, 3, allow_nan=False),
    st.booleans(),
    st.none(),
    st.text("ab", max_size=2),
)
trees = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text("xyz", min_size=1, max_size=2), children, max_size=3)
    ),
    max_leaves=12,
)


def apply(old: Any, found: tuple[hotconf.Change, ...]) -> Any:
    """Rebuild ``new`` from ``old`` and the changes: proves they are complete and exact."""
    data = json.loads(json.dumps(old))

    def order(c: hotconf.Change) -> tuple[int, list[int]]:
        # removals from the highest index down, then additions from the lowest index up
        idx = [i if isinstance(i, int) else 0 for i in c.path]
        return (0, [-i for i in idx]) if c.kind == "item_removed" else (1, idx)

    for c in sorted(found, key=order):
        *parent_path, last = c.path or (None,)
        if not c.path:
            return json.loads(json.dumps(c.new))
        parent = data
        for seg in parent_path:
            parent = parent[seg]
        if c.kind in ("key_removed", "item_removed"):
            del parent[last]
        elif c.kind == "item_added":
            parent.insert(last, json.loads(json.dumps(c.new)))
        else:
            parent[last] = json.loads(json.dumps(c.new))
    return data


@settings(max_examples=300, deadline=None)
@given(trees, trees)
@example({"x": 0.0}, {"x": -0.0})  # equal by ==, not in the canonical form
@example([-0.0], [0.0])
@example(0.0, -0.0)
def test_changes_are_exact(old: Any, new: Any) -> None:
    found = changes(old, new)
    assert (not found) == (canonical_json(old) == canonical_json(new))
    assert canonical_json(apply(old, found)) == canonical_json(new)


def test_large_configs_report_exactly_the_mutated_paths() -> None:
    rng = random.Random(7)
    old = {f"s{i}": {f"k{j}": j for j in range(100)} for i in range(100)}
    new = json.loads(json.dumps(old))
    picked = {(f"s{rng.randrange(100)}", f"k{rng.randrange(100)}") for _ in range(100)}
    for s, k in picked:
        new[s][k] += 1
    assert {c.path for c in changes(old, new)} == picked


# -- the live pipeline carries reports, and the gate holds what it must ----------------


def test_events_and_results_carry_the_report() -> None:
    source = MemorySource({"timeout": 10, "port": 80})
    with hotconf.watch(source, schema=SCHEMA) as live:
        events = EventRecorder()
        live.subscribe(events)
        source.set({"timeout": 10, "port": 81})
        [event] = events.changes
        assert event.level == "restart" and event.report.new_version == 2
        assert event.report.old_version == 1
        result = live.reload()
        assert result.status == "noop"


def test_the_sign_of_a_zero_is_a_change() -> None:
    # 0.0 == -0.0 in Python, but the canonical form (and the checksum) tells them apart,
    # and so does a consumer dividing by the value
    report = hotconf.diff({"a": 0.0}, {"a": -0.0})
    assert [(c.pointer, c.kind, str(c.old), str(c.new)) for c in report.changes] == [
        ("/a", "value_changed", "0.0", "-0.0")
    ]
    assert report.old_checksum != report.new_checksum
    in_set = report_of({"tags": [1, 0.0]}, {"tags": [1, -0.0]})  # DeepDiff's hash: equal
    assert [(c.pointer, c.kind, str(c.old), str(c.new)) for c in in_set.changes] == [
        ("/tags/1", "item_removed", "0.0", "None"),
        ("/tags/1", "item_added", "None", "-0.0"),
    ]
    source = MemorySource({"a": 0.0})
    with hotconf.watch(source) as live:
        events = EventRecorder()
        live.subscribe(events)
        source.set({"a": -0.0})
        [event] = events.changes
        assert event.report.new_version == 2 and live.version == 2
        assert [c.pointer for c in event.report.changes] == ["/a"]
        assert str(live.get("a")) == "-0.0"
        source.set({"a": 0.0})
        assert live.version == 3 and str(live.get("a")) == "0.0"
        assert live.reload().status == "noop"


def test_gate_holds_a_risky_change_until_forced() -> None:
    source = MemorySource({"timeout": 10})
    with hotconf.watch(source, schema=SCHEMA, gate="safe") as live:
        source.set({"timeout": 11})
        assert live.version == 2  # safe: applied
        source.set({"timeout": 1000})  # risky: held
        assert live.version == 2 and live.get("timeout") == 11
        rejection = live.last_rejection
        assert rejection is not None and rejection.problems[0].code == "gate"
        assert "10x" in rejection.problems[0].message
        result = live.reload(force=True)
        assert result.status == "applied" and live.get("timeout") == 1000
        assert result.report is not None and result.report.level == "risky"


def test_set_reorder_in_the_live_pipeline_is_a_noop() -> None:
    source = MemorySource({"tags": ["a", "b"]})
    with hotconf.watch(source, schema=SCHEMA) as live:
        source.set({"tags": ["b", "a"]})
        assert live.version == 1


def test_invalid_gate_is_refused() -> None:
    with pytest.raises(ValueError, match="gate must be one of"):
        hotconf.watch(MemorySource({}), gate="yolo")  # type: ignore[arg-type]


# -- hotconf diff ----------------------------------------------------------------------


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_cli_diff_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = write(tmp_path / "s.json", json.dumps(SCHEMA))
    old = write(tmp_path / "old.yaml", "timeout: 10\n")
    risky = write(tmp_path / "risky.yaml", "timeout: 100\n")
    invalid = write(tmp_path / "invalid.yaml", "db: {pool: 0}\n")
    assert main(["diff", old, risky, "--schema", schema]) == 0
    assert main(["diff", old, risky, "--schema", schema, "--fail-on", "risky"]) == 1
    assert main(["diff", old, invalid, "--schema", schema]) == 1
    assert main(["diff", old, str(tmp_path / "missing.yaml")]) == 2
    capsys.readouterr()
    assert main(["diff", old, risky, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    jsonschema.validate(out, REPORT_SCHEMA)
    assert out["changes"][0]["reason"] == "changed by 10x or more"
    assert main(["diff", old, invalid, "--schema", schema, "--format", "markdown"]) == 1
    assert "invalid.yaml:1" in capsys.readouterr().out


@pytest.mark.parametrize("key", ["²", "٣", "①"])
def test_a_key_of_unicode_digits_is_classified_not_crashed(key: str) -> None:
    # str.isdigit() says yes to these, int() says no: the annotation lookup took them for a
    # list index and raised ValueError, an internal error at every reload (found by tests/fuzz)
    schema = {"type": "object", "properties": {key: {"x-hotconf-reload": "restart"}}}
    report = hotconf.diff({"a": 1}, {"a": 1, key: 2}, schema)
    assert [(c.pointer, c.level) for c in report.changes] == [(f"/{key}", "restart")]
