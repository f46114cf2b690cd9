"""TOML: read by tomllib under hotconf's rules (lines, caps, duplicates), lines for problems,
and no more guessing a format from an unknown extension."""

from __future__ import annotations

from pathlib import Path

import pytest

import hotconf
from hotconf.errors import LoadError, SourceError
from hotconf.pipeline.load import Limits, load, locate, parse
from hotconf.sources.files import FileSource

from ..conftest import wait_for

CONFIG = """\
# the service
title = "api"

[db]
host = "db.internal"
pool_size = 10
"quoted.key" = 1
timeouts.connect = 2.5
notes = \"\"\"
line = 3 is not a key
\"\"\"
hosts = [
  "a", # first
  "b",
]

[[servers]]
name = "a"
[servers.tls]
on = true

[[servers]]
name = "b"
ports = [{ p = 80 }, { p = 443 }]
"""


def problem(text: str, **kw: object) -> tuple[str, int | None, str, str]:
    with pytest.raises(LoadError) as info:
        parse(text.encode(), "toml", name="c.toml", **kw)  # type: ignore[arg-type]
    p = info.value.problems[0]
    assert info.value.message.startswith(f"c.toml:{p.line}: " if p.line else "c.toml: ")
    return p.code, p.line, p.path, p.message


def test_toml_reads_as_plain_data() -> None:
    assert parse(CONFIG.encode(), "toml") == {
        "title": "api",
        "db": {
            "host": "db.internal",
            "pool_size": 10,
            "quoted.key": 1,
            "timeouts": {"connect": 2.5},
            "notes": "line = 3 is not a key\n",
            "hosts": ["a", "b"],
        },
        "servers": [
            {"name": "a", "tls": {"on": True}},
            {"name": "b", "ports": [{"p": 80}, {"p": 443}]},
        ],
    }


def test_dates_and_times_become_rfc3339_strings() -> None:
    text = (
        "at = 1979-05-27T07:32:00Z\nlocal = 1979-05-27T07:32:00\nday = 1979-05-27\nt = 07:32:00\n"
    )
    assert parse(text.encode(), "toml") == {
        "at": "1979-05-27T07:32:00+00:00",
        "local": "1979-05-27T07:32:00",
        "day": "1979-05-27",
        "t": "07:32:00",
    }


@pytest.mark.parametrize(
    ("text", "line", "path", "first"),
    [
        ("a = 1\nb = 2\na = 3\n", 3, "/a", 1),
        (
            "a = 1\nb = 2\na = 3",
            3,
            "/a",
            1,
        ),  # no newline at the end: tomllib says "end of document"
        ("[t]\nx = 1\n[u]\n[t]\ny = 2\n", 4, "/t", 1),
        ("[a]\nb = 1\n[a.b]\n", 3, "/a/b", 2),
        ("[[s]]\nx = 1\nx = 2\n", 3, "/s/0/x", 2),
        ("p.q = 1\np.q = 2\n", 2, "/p/q", 1),
    ],
)
def test_duplicate_keys_are_refused_with_both_lines(
    text: str, line: int, path: str, first: int
) -> None:
    code, at, where, message = problem(text)
    assert (code, at, where) == ("duplicate-key", line, path)
    assert message.endswith(f"(first at line {first})")


def test_a_duplicate_in_an_inline_table_keeps_tomllib_words_and_line() -> None:
    assert problem("a = 1\nx = {k = 1, k = 2}\n")[:2] == ("duplicate-key", 2)


def test_syntax_errors_have_their_line() -> None:
    code, line, _, message = problem("a = 1\n\nb = = 2\n")
    assert (code, line) == ("syntax", 3)
    assert message == "Invalid value"


@pytest.mark.parametrize("value", ["nan", "+inf", "-inf"])
def test_non_finite_numbers_are_refused_at_their_key(value: str) -> None:
    assert problem(f"a = 1\n[b]\nc = {value}\n")[:3] == ("number", 3, "/b/c")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_file_is_an_error(text: str) -> None:
    assert problem(text)[0] == "empty"


def test_depth_and_node_limits_apply() -> None:
    assert problem("a = [[[[1]]]]\n", limits=Limits(max_depth=4))[0] == "limit"
    assert parse(b"a = [[[1]]]\n", "toml", limits=Limits(max_depth=4)) == {"a": [[[1]]]}
    assert problem("a = [1, 2, 3, 4]\n", limits=Limits(max_nodes=5))[0] == "limit"
    assert problem("a = 1\n", limits=Limits(max_bytes=3))[0] == "limit"


def test_very_deep_nesting_is_refused_cleanly() -> None:
    assert problem("a = " + "[" * 100_000 + "]" * 100_000 + "\n")[0] == "limit"


def test_invalid_utf8_is_refused_with_its_line() -> None:
    with pytest.raises(LoadError) as info:
        parse(b'a = 1\nb = "caf\xe9"\n', "toml")
    assert (info.value.problems[0].code, info.value.problems[0].line) == ("encoding", 2)


@pytest.mark.parametrize(
    ("pointer", "line"),
    [
        ("", 1),
        ("/title", 2),
        ("/db", 4),
        ("/db/pool_size", 6),
        ("/db/quoted.key", 7),
        ("/db/timeouts", 8),
        ("/db/timeouts/connect", 8),
        ("/db/hosts", 12),
        ("/servers", 17),
        ("/servers/0", 17),
        ("/servers/0/tls/on", 20),
        ("/servers/1/name", 23),
        ("/servers/1/ports", 24),
    ],
)
def test_locate_finds_toml_lines(pointer: str, line: int) -> None:
    assert locate(CONFIG.encode(), "toml", [pointer]) == {pointer: line}


def test_locate_leaves_out_what_it_cannot_find() -> None:
    # inside a multi-line string and an inline array: not keys
    assert (
        locate(CONFIG.encode(), "toml", ["/line", "/db/notes/line", "/servers/1/ports/0/p"]) == {}
    )


def test_a_schema_problem_in_a_toml_file_has_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.replace("pool_size = 10", 'pool_size = "ten"'))
    schema = {"properties": {"db": {"properties": {"pool_size": {"type": "integer"}}}}}
    with pytest.raises(hotconf.NoValidConfigError) as info:
        hotconf.watch(path, schema=schema, state_dir=None)
    found = info.value.problems[0]
    assert (found.source, found.line, found.path) == (str(path), 6, "/db/pool_size")


def test_toml_files_are_watched_and_directories_pick_them_up(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("db: {host: a, pool_size: 1}\n")
    (tmp_path / "b.toml").write_text("[db]\npool_size = 2\n")
    (tmp_path / "notes.txt").write_text("not a config\n")
    (tmp_path / "c.TOML").write_text("extra = true\n")
    with hotconf.watch(tmp_path, state_dir=None) as live:
        assert live.current == {"db": {"host": "a", "pool_size": 2}, "extra": True}
        (tmp_path / "b.toml").write_text("[db]\npool_size = 3\n")
        wait_for(lambda: live.get("db.pool_size") == 3, what="the edited .toml file")


@pytest.mark.parametrize("name", ["config.conf", "config", "config.yaml.orig"])
def test_a_file_source_with_an_unknown_extension_fails_at_once(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("a: 1\n")
    with pytest.raises(SourceError, match="does not guess"):
        FileSource(tmp_path / name)
    with pytest.raises(SourceError, match="does not guess"):
        hotconf.watch(tmp_path / name, state_dir=None)
    assert load(tmp_path / name, "yaml") == {"a": 1}
