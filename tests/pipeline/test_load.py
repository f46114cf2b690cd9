"""hotconf.pipeline.load: YAML 1.2 core-schema rules, JSON, guards, errors, `locate`, the fast path.

Most rule tests run three ways (the `mode` fixture): libyaml's C parser, PyYAML's pure-Python
parser (used when libyaml is absent), and the default `parse` with the yaml-rs fast path on.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hotconf
from hotconf.errors import LoadError, SourceError
from hotconf.pipeline.load import DEFAULT_LIMITS, FORMATS, Limits, format_for, load, locate, parse

L = sys.modules["hotconf.pipeline.load"]  # the module (the package exports the `load` function)
FAST_LOADER = L._fast
FAST = FAST_LOADER is not None
needs_fast = pytest.mark.skipif(not FAST, reason="yaml-rs 0.1.6 (the fast extra) not installed")


MODES = ["libyaml", "pure", pytest.param("fast", marks=needs_fast)]


def once(test: Any) -> Any:
    """Run `test` in one mode only: the default one, fast path included if installed."""
    test.once = True
    return test


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "mode" in metafunc.fixturenames and not getattr(metafunc.function, "once", False):
        metafunc.parametrize("mode", MODES, indirect=True)


@pytest.fixture(autouse=True)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with the C parser, the pure-Python parser, and the fast path on."""
    param = str(getattr(request, "param", "default"))
    monkeypatch.delenv("HOTCONF_FAST", raising=False)
    if param in ("libyaml", "pure"):
        monkeypatch.setattr(L, "_fast", None)
    if param == "pure":
        monkeypatch.setattr(L, "_EventParser", L._Parser)
    return param


def y(text: str, **kw: Any) -> dict[str, Any]:
    return parse(text.encode(), "yaml", name="c.yaml", **kw)


def error(text: str | bytes, fmt: str = "yaml", **kw: Any) -> LoadError:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(LoadError) as info:
        parse(data, fmt, name=f"c.{fmt}", **kw)
    err = info.value
    assert len(err.problems) == 1 and err.problems[0].source == f"c.{fmt}"
    assert err.message.startswith(f"c.{fmt}")
    return err


def code_line(err: LoadError) -> tuple[str, int | None]:
    return err.problems[0].code, err.problems[0].line


# -- scalars ---------------------------------------------------------------------------------

SCALARS = [
    # booleans: only the core spellings
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False),
    ("FALSE", False), ("tRue", "tRue"), ("yes", "yes"), ("no", "no"), ("NO", "NO"),
    ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"), ("Y", "Y"), ("N", "N"),
    # null
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None), ("nULL", "nULL"),
    # integers: decimal (leading zeros are decimal), 0o, 0x
    ("0", 0), ("-0", 0), ("+12", 12), ("-12", -12), ("0755", 755), ("09", 9), ("007", 7),
    ("0o17", 15), ("0x1F", 31), ("0xff", 255), ("12345678901234567890", 12345678901234567890),
    ("0O17", "0O17"), ("0X1F", "0X1F"), ("0b101", "0b101"), ("0o8", "0o8"), ("-0x1", "-0x1"),
    ("+0o7", "+0o7"), ("1_000", "1_000"), ("_1", "_1"), ("1__0", "1__0"), ("0x", "0x"),
    # floats
    ("1.5", 1.5), ("1e3", 1000.0), ("1E3", 1000.0), ("1e+3", 1000.0), ("1.5e-3", 0.0015),
    (".5", 0.5), ("-.5", -0.5), ("+.5", 0.5), ("5.", 5.0), ("-0.0", -0.0), ("1.", 1.0),
    ("1.2.3", "1.2.3"), ("1e", "1e"), (".e5", ".e5"), ("1._e5", "1._e5"), (".", "."),
    # things YAML 1.1 resolved that YAML 1.2 keeps as strings
    ("22:30", "22:30"), ("1:20:30", "1:20:30"), ("2024-01-01", "2024-01-01"),
    ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"), ("inf", "inf"), ("nan", "nan"),
    ("Infinity", "Infinity"), (".iNf", ".iNf"), ("-.nan", "-.nan"), ("=", "="),
    # quoted and block scalars are always strings
    ("'true'", "true"), ('"1"', "1"), ("'0x1F'", "0x1F"), ('"null"', "null"), ("''", ""),
    ("'it''s'", "it's"), ('"a\\tb"', "a\tb"), ("|\n  x", "x\n"), (">\n  a\n  b", "a b\n"),
    # core-schema tags
    ("!!str 1", "1"), ("!!str true", "true"), ("!!int 7", 7), ("!!int '7'", 7),
    ("!!int 0x10", 16), ("!!float 1", 1.0), ("!!float '2.5'", 2.5), ("!!bool true", True),
    ("!!bool False", False), ("!!null ''", None), ("!!null ~", None), ("! 12", "12"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "want"), SCALARS)
def test_scalar_resolves_by_the_core_schema(text: str, want: Any) -> None:
    got = y(f"k: {text}\n")["k"]
    assert type(got) is type(want) and got == want
    if isinstance(want, float):
        assert str(got) == str(want)  # -0.0 stays -0.0


@pytest.mark.parametrize(
    "text", [".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN", "1e400", "-1e999"]
)
def test_infinity_and_nan_are_refused(text: str) -> None:
    err = error(f"a: 1\nk: {text}\n")
    assert code_line(err) == ("number", 2)
    assert err.problems[0].path == "/k"


def test_an_integer_too_long_for_python_is_refused() -> None:
    assert code_line(error("a:\n  b: " + "1" * 5000 + "\n")) == ("limit", 2)


@pytest.mark.parametrize("digits", ["0x" + "f" * 3600, "0o" + "7" * 4800, "!!int 0x" + "f" * 3600])
def test_a_hex_or_octal_integer_too_long_to_print_is_refused(digits: str) -> None:
    # Python reads them, then cannot print them in decimal (4300 digits): a LoadError, not a
    # ValueError from the canonical JSON later.
    err = error(f"a: 1\nb: {digits}\n")
    assert code_line(err) == ("limit", 2)
    assert "4300" in err.problems[0].message and err.problems[0].path == "/b"


def test_a_long_hex_integer_that_prints_is_fine() -> None:
    assert parse(b"a: 0x" + b"f" * 3500 + b"\n", "yaml")["a"] == 16**3500 - 1


# -- tags ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system ['echo hi']",
        "!!python/name:os.system ''",
        "!!python/object:collections.OrderedDict {}",
        "!!binary aGk=",
        "!!timestamp 2024-01-01",
        "!!set {a: null}",
        "!!omap [a: 1]",
        "!!pairs [a: 1]",
        "!custom x",
        "!custom {a: 1}",
        "!!map [a]",
        "!!seq {a: 1}",
        "!!int abc",
        "!!bool yes",
        "!!null 0",
        "!!float x",
    ],
)
def test_tags_outside_the_core_set_are_refused(value: str) -> None:
    err = error(f"ok: 1\nx:\n  v: {value}\n")
    assert code_line(err) == ("tag", 3)
    assert err.problems[0].path == "/x/v"


def test_a_redefined_tag_handle_cannot_sneak_a_tag_in() -> None:
    err = error("%TAG !! tag:evil.example,2000:\n---\na: !!str x\n")
    assert code_line(err) == ("tag", 3)


# -- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\n1: x\n", 2),
        ("true: x\n", 1),
        ("null: x\n", 1),
        ("~: x\n", 1),
        ("1.5: x\n", 1),
        ("a:\n  b:\n    0x1F: x\n", 3),
        ("[a]: x\n", 1),
        ("{a: 1}: x\n", 1),
        ("a: 1\n? [a, b]\n: x\n", 2),
        ("n: &n 3\nm:\n  *n : x\n", 3),
    ],
)
def test_keys_must_be_strings(text: str, line: int) -> None:
    err = error(text)
    assert code_line(err) == ("key-type", line)
    assert "keys must be strings" in err.message


def test_a_key_type_error_says_how_to_fix_it() -> None:
    assert "quote it, as in '1'" in error("1: x\n").message


@pytest.mark.parametrize("text", ["'1': x\n", '"true": x\n', "!!str 1: x\n", "? a\n: x\n"])
def test_quoted_and_tagged_keys_are_strings(text: str) -> None:
    (key,) = y(text)
    assert isinstance(key, str)


@pytest.mark.parametrize(
    ("text", "path", "lines"),
    [
        ("port: 1\nhost: x\nport: 2\n", "/port", (3, 1)),
        ("db:\n  a: 1\n  b: 2\n  a: 3\n", "/db/a", (4, 2)),
        ("l:\n  - x: 1\n    x: 2\n", "/l/0/x", (3, 2)),
        ("a: 1\n'a': 2\n", "/a", (2, 1)),
        ("m: {a: 1, a: 2}\n", "/m/a", (1, 1)),
    ],
)
def test_duplicate_keys_are_refused_with_both_lines(
    text: str, path: str, lines: tuple[int, int]
) -> None:
    err = error(text)
    assert code_line(err) == ("duplicate-key", lines[0])
    assert err.problems[0].path == path
    assert f"(first at line {lines[1]})" in err.message


def test_a_key_from_an_alias_can_be_a_duplicate() -> None:
    assert code_line(error("k: &k a\n*k : 1\na: 2\n")) == ("duplicate-key", 3)


def test_duplicate_message_reads_well() -> None:
    err = error("a: 1\nport: 80\nb: 2\nport: 81\n")
    assert err.message == "c.yaml:4: duplicate key 'port' (first at line 2)"


# -- merge keys, anchors, aliases ------------------------------------------------------------


def test_merge_keys() -> None:
    data = y(
        "base: &base {a: 1, b: 1, c: 1}\n"
        "more: &more {b: 2, d: 2}\n"
        "one:\n  <<: *base\n  c: 3\n"
        "two:\n  a: 0\n  <<: [*more, *base]\n"
        "inline:\n  <<: {x: 1}\n  y: 2\n"
    )
    assert data["one"] == {"a": 1, "b": 1, "c": 3}  # the mapping's own keys win
    assert data["two"] == {"a": 0, "b": 2, "c": 1, "d": 2}  # earlier merged maps win
    assert data["inline"] == {"x": 1, "y": 2}
    assert "<<" not in data["one"]


def test_several_merge_keys_merge_in_order() -> None:
    data = y("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: *a\n  <<: *b\n  w: 0\n")
    assert data["c"] == {"x": 1, "y": 1, "z": 2, "w": 0}


def test_a_redefined_anchor_means_its_latest_definition() -> None:
    assert y("a: &x 1\nb: &x 2\nc: *x\n")["c"] == 2


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    assert y("'<<': 1\n") == {"<<": 1}


@pytest.mark.parametrize("text", ["a: 1\nb:\n  <<: 5\n", "a: 1\nb:\n  <<: [x]\n", "b:\n  <<: []\n"])
def test_a_merge_key_needs_mappings(text: str) -> None:
    assert code_line(error(text))[0] == "syntax"


def test_anchors_and_aliases() -> None:
    data = y("a: &x [1, 2]\nb: *x\nc: &s hi\nd: *s\n")
    assert data == {"a": [1, 2], "b": [1, 2], "c": "hi", "d": "hi"}


@pytest.mark.parametrize(
    ("text", "words"),
    [("a: *nope\n", "is not defined"), ("a: &x [1, *x]\n", "refers to a node that contains it")],
)
def test_bad_aliases_are_refused(text: str, words: str) -> None:
    err = error(text)
    assert code_line(err) == ("syntax", 1) and words in err.message


# -- documents -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "   \n\n", " \t \n", "\t", "\r\n\t\r\n", "# only a comment\n", "---\n", "--- # c\n"],
)
def test_an_empty_file_is_an_error(text: str) -> None:
    assert code_line(error(text))[0] == "empty"


@pytest.mark.parametrize("text", ["", " \n\t\n"])
def test_an_empty_json_file_is_an_error(text: str) -> None:
    assert code_line(error(text, "json"))[0] == "empty"


def test_a_second_document_is_refused() -> None:
    assert code_line(error("a: 1\n---\nb: 2\n")) == ("document", 2)
    assert code_line(error("---\na: 1\n...\n---\nb: 2\n")) == ("document", 4)


@pytest.mark.parametrize("text", ["---\na: 1\n", "a: 1\n...\n", "%YAML 1.1\n---\na: 1\n"])
def test_document_markers_around_one_document_are_fine(text: str) -> None:
    assert y(text) == {"a": 1}


@pytest.mark.parametrize(
    ("text", "fmt"),
    [("- a\n", "yaml"), ("hello\n", "yaml"), ("42\n", "yaml"), ("null\n", "yaml"),
     ("[1]", "json"), ('"s"', "json"), ("3", "json"), ("null", "json")],
)  # fmt: skip
def test_the_top_level_must_be_a_mapping(text: str, fmt: str) -> None:
    assert code_line(error(text, fmt)) == ("root-type", 1)


# -- guards ----------------------------------------------------------------------------------


def nested_yaml(depth: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(depth - 1)) + "  " * (depth - 1) + "k: v\n"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_depth_at_the_limit_is_fine_and_over_it_is_refused(fmt: str) -> None:
    limits = Limits(max_depth=10)
    ok, over = '{"a": ' * 10 + "1" + "}" * 10, '{"a": ' * 11 + "1" + "}" * 11
    assert parse(ok.encode(), fmt, limits=limits)
    assert code_line(error(over, fmt, limits=limits))[0] == "limit"
    if fmt == "yaml":
        assert y(nested_yaml(10), limits=limits)
        err = error(nested_yaml(11), limits=limits)
        assert code_line(err) == ("limit", 11)
        assert err.problems[0].path == "/" + "/".join(f"k{i}" for i in range(10))


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("a: " + "[" * 100_000, "yaml"),
        ("a: " + "{b: " * 100_000, "yaml"),
        ("a:\n" + "- " * 100_000 + "x\n", "yaml"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "json"),
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, "json"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "yaml"),
    ],
)
def test_very_deep_nesting_is_refused_cleanly(text: str, fmt: str) -> None:
    assert code_line(error(text, fmt))[0] == "limit"


@pytest.mark.parametrize(
    "text",
    [
        "".join(f"k{i}: 1\n" for i in range(50)) + "a: " + "[" * 1100 + "1" + "]" * 1100,
        "a: " + "[{b: " * 700,  # libyaml reads about 1000 of these ahead, then stops
        "a:\n  - " + "[" * 999 + "\n" + "[" * 999 + "\n",  # split over lines
        "a: [" + "'x', [" * 600 + "]" * 601 + "\nb: 1\n",  # quoted scalars between them
    ],
)
@once
@pytest.mark.parametrize("max_depth", [64, 256])
def test_the_depth_cap_fires_before_libyamls_own_limit(text: str, max_depth: int) -> None:
    err = error(text, limits=Limits(max_depth=max_depth))
    assert code_line(err)[0] == "limit"
    assert f"nested deeper than {max_depth} levels" in err.message


@once
def test_a_cap_above_libyamls_own_limit_is_the_one_that_applies() -> None:
    deep = "a: " + "[" * 1100 + "1" + "]" * 1100 + "\n"
    data: Any = y(deep, limits=Limits(max_depth=1200))["a"]
    for _ in range(1099):
        data = data[0]
    assert data == [1]
    assert code_line(error(nested_yaml(1050), limits=Limits(max_depth=1040))) == ("limit", 1041)


def test_a_syntax_error_among_many_brackets_is_still_a_syntax_error() -> None:
    text = "a: [" + "[1], " * 100 + "]\nb: [1, 2\nc: 3\n"
    assert code_line(error(text))[0] == "syntax"
    assert code_line(error("a: [[[[[[[[[[1]]]]]]]]]]\nb: {\n", limits=Limits(max_depth=4))) == (
        "limit",
        1,
    )


BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_an_alias_bomb_is_refused_quickly() -> None:
    assert len(BOMB) < 400
    start = time.monotonic()
    err = error(BOMB)
    assert time.monotonic() - start < 5  # a hang guard, not a speed claim
    assert code_line(err) == ("limit", 5)  # 9**5 nodes: over the default 50,000 at `e`


def test_aliases_count_as_their_expansion() -> None:
    text = "a: &a [1, 2, 3, 4]\nb: [*a, *a, *a]\n"
    n = 1 + 2 + 5 + 1 + 3 * 5  # root, 2 keys, a's list and 4 items, b's list, 3 copies of a
    assert y(text, limits=Limits(max_nodes=n))
    assert code_line(error(text, limits=Limits(max_nodes=n - 1))) == ("limit", 2)


def test_depth_counts_through_aliases() -> None:
    deep = "a: &a [[[[x]]]]\n"
    assert y(deep + "b: *a\n", limits=Limits(max_depth=5))
    err = error(deep + "b: [*a]\n", limits=Limits(max_depth=5))
    assert code_line(err) == ("limit", 2)


def test_many_nodes_are_refused_in_json_too() -> None:
    assert code_line(error('{"a": [1, 2, 3, 4]}', "json", limits=Limits(max_nodes=5)))[0] == "limit"


@pytest.mark.parametrize("fmt", FORMATS)
def test_size_cap(fmt: str) -> None:
    err = error('{"a": "' + "x" * 100 + '"}', fmt, limits=Limits(max_bytes=50))
    assert code_line(err) == ("limit", None)


def test_the_size_cap_applies_before_reading_a_file(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * 1000 + b"\n")
    with pytest.raises(LoadError) as info:
        load(big, limits=Limits(max_bytes=100))
    assert info.value.problems[0].code == "limit"
    assert "Limits.max_bytes" in info.value.message


# -- encoding --------------------------------------------------------------------------------


def test_invalid_utf8_is_refused_with_its_line() -> None:
    err = error(b"a: 1\nb: caf\xe9\n")
    assert code_line(err) == ("encoding", 2)
    assert "0xe9" in err.message


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_utf8_bom_is_accepted(fmt: str) -> None:
    assert parse(b'\xef\xbb\xbf{"a": "\xc3\xa9"}', fmt) == {"a": "é"}
    assert parse(b'\xef\xbb\xbfa = "\xc3\xa9"', "toml") == {"a": "é"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_utf16_is_refused(fmt: str) -> None:
    assert code_line(error('{"a": 1}'.encode("utf-16"), fmt))[0] == "encoding"


def test_control_characters_are_refused_with_their_line() -> None:
    assert code_line(error("a: é\nb: x\x01y\n")) == ("encoding", 2)


# -- syntax ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fmt", "line"),
    [
        ("a: 1\nb: [1, 2\n", "yaml", 3),
        ("a: 1\n  b: 2\n", "yaml", 2),
        ("a: 'x\n", "yaml", 2),
        ("a:\n\tb: 1\n", "yaml", 2),
        ('{"a": 1,\n "b": }', "json", 2),
        ("{'a': 1}", "json", 1),
        ('{"a": 1}\n{"b": 2}', "json", 2),
    ],
)
def test_syntax_errors_carry_their_line(text: str, fmt: str, line: int) -> None:
    assert code_line(error(text, fmt)) == ("syntax", line)


def test_a_tab_gets_a_hint() -> None:
    assert "tab" in error("a:\n\tb: 1\n").message


# -- JSON ------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_json_numbers_must_be_finite(token: str) -> None:
    assert code_line(error('{"a": 1,\n "b": ' + token + "}", "json")) == ("number", 2)


def test_json_duplicate_keys_are_refused_with_both_lines() -> None:
    err = error('{"x": [{"a": 1},\n {"a": 1,\n  "a": 2}]}', "json")
    assert code_line(err) == ("duplicate-key", 3)
    assert err.problems[0].path == "/x/1/a"
    assert "(first at line 2)" in err.message


def test_json_refuses_half_a_surrogate_pair() -> None:
    assert code_line(error('{"a": "\\ud800"}', "json"))[0] == "encoding"
    assert parse(b'{"a": "\\ud83d\\ude00"}', "json") == {"a": "\U0001f600"}


def test_json_refuses_an_integer_too_long_for_python() -> None:
    assert code_line(error('{"a": ' + "1" * 5000 + "}", "json"))[0] == "limit"


def test_json_reads_json() -> None:
    text = '{"a": [1, 2.5, "s", true, null, {"b": "\\u00e9"}], "yes": "no"}'
    assert parse(text.encode(), "json") == json.loads(text)


# -- load, format_for ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt"),
    [("c.json", "json"), ("C.JSON", "json"), ("c.yaml", "yaml"), ("c.yml", "yaml"),
     ("C.YML", "yaml"), ("c.toml", "toml"), ("C.Toml", "toml"), ("dir.json/c.yaml", "yaml")],
)  # fmt: skip
def test_format_for(path: str, fmt: str) -> None:
    assert format_for(path) == fmt == format_for(Path(path))


@pytest.mark.parametrize("path", ["c", "c.conf", "c.ini", "c.yaml.bak", "dir.yaml/c", ".yaml"])
def test_an_unknown_extension_is_an_error_not_a_guess(path: str) -> None:
    with pytest.raises(SourceError, match=r"\.yaml, \.yml, \.json and \.toml") as info:
        format_for(path)
    assert info.value.problems[0].source == path
    assert info.value.exit_code == 2


def test_load_refuses_an_unknown_extension_unless_told_the_format(tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("a: 1\n")
    with pytest.raises(SourceError, match=r"unknown extension '\.conf'"):
        load(tmp_path / "app.conf")
    assert load(tmp_path / "app.conf", "yaml") == {"a": 1}


def test_load_reads_files_by_their_suffix(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("a: NaN\n")
    (tmp_path / "c.json").write_text('{"a": NaN}')
    assert load(tmp_path / "c.yaml") == {"a": "NaN"}
    assert load(str(tmp_path / "c.json"), "yaml") == {"a": "NaN"}
    with pytest.raises(LoadError) as info:
        load(tmp_path / "c.json")
    assert info.value.problems[0].code == "number"
    assert info.value.problems[0].source == str(tmp_path / "c.json")


def test_load_reads_bytes_as_yaml() -> None:
    assert load(b'{"a": 1}') == {"a": 1}
    assert load(b"a: yes\n") == {"a": "yes"}


@pytest.mark.parametrize("make", [lambda p: p / "missing.yaml", lambda p: p])
def test_an_unreadable_source_is_a_source_error(tmp_path: Path, make: Any) -> None:
    with pytest.raises(SourceError) as info:
        load(make(tmp_path))
    assert info.value.problems[0].code == "source"


def test_load_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("a: 1\nport: 80\nb: 2\nport: 81\n")
    with pytest.raises(LoadError) as info:
        load(path)
    assert info.value.message == f"{path}:4: duplicate key 'port' (first at line 2)"


def test_an_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        parse(b"a: 1", "ini")


# -- never anything but LoadError ------------------------------------------------------------

CODES = {"syntax", "duplicate-key", "tag", "key-type", "limit", "empty", "encoding", "document",
         "root-type", "number"}  # fmt: skip
YAMLISH = st.text(alphabet="ab01 :-[]{},'\"#&*!|>?<.~\n\t_\\eE+%@`é", max_size=60)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(YAMLISH.map(str.encode), st.binary(max_size=40)), st.sampled_from(FORMATS))
def test_any_input_gives_data_or_a_load_error(data: bytes, fmt: str) -> None:
    try:
        out: Any = parse(data, fmt)
    except LoadError as err:
        out = err
    if isinstance(out, LoadError):
        assert out.problems[0].code in CODES
    else:
        assert type(out) is dict
        assert json.loads(json.dumps(out, allow_nan=False)) == out  # JSON-compatible


# -- locate ----------------------------------------------------------------------------------

LOCATE_YAML = """\
defaults: &d
  timeout: 5
service:
  <<: *d
  name: api
  hosts:
    - a
    - b
  copy: *d
"""


def test_locate_finds_keys_items_merges_and_aliases() -> None:
    want = {"": 1, "/service/name": 5, "/service/hosts/1": 8, "/service/timeout": 2,
            "/service/copy/timeout": 2, "/defaults": 1}  # fmt: skip
    assert locate(LOCATE_YAML.encode(), "yaml", [*want, "/nope", "/service/hosts/9"]) == want


def test_locate_reads_json() -> None:
    text = '{\n  "a": {\n    "b": [1,\n      2]\n  }\n}'
    assert locate(text.encode(), "json", ["/a/b", "/a/b/1", "/x"]) == {"/a/b": 3, "/a/b/1": 4}


@pytest.mark.parametrize(
    "data", [b"a: [", b"\xff", b"", b"a: " + b"[" * 100_000, b"- 1\n---\n- 2\n", BOMB.encode()]
)
def test_locate_never_raises(data: bytes) -> None:
    assert isinstance(locate(data, "yaml", ["/a", "/a/0", "bad pointer"]), dict)


# -- the fast path ---------------------------------------------------------------------------

CORPUS = [
    *(f"k: {text}\n" for text, _ in SCALARS),
    *(f"{text}: v\n" for text, _ in SCALARS),
    *(f"k:\n  - {text}\n" for text, _ in SCALARS),
    "a: 1\na: 2\n", "a:\n  b: 1\n c: 2\n", "a: b: c\n", "- a\n", "a\n", "[1]\n", "{a: 1}\n",
    "a: [1, 2]\n", "a: {b: 1}\n", "a: [:x]\n", "a: {x:}\n", ": a\n", "a:\n  :\n", "? a\n: b\n",
    "a: 1\n---\n", "a: 1\n... \nb: 2\n", "--- a: 1\n", "a: x\n #c\n  y\n", "a: b\n  c\n",
    'a: "x\n  y"\n', "a: 1 # c\n  # d\nb: 2\n", "a:\n-\n-\n", "a:\n  -  - x\n     - y\n",
    "a: e_1\n", "a: 1e99\n", "a: 1e-99\n", "a: " + "9" * 199 + "\n", "a: " + "9" * 400 + "\n",
    "a: 5e-324\n", "a: 1.7976931348623157e308\n", "a: 0.1000000000000000055511151231257827\n",
    "a: http://h:80/p?q=1#f\n", "a: x#y\n", "a: x # y\n", "'': 1\n", "a: ''\n", "-a: 1\n",
    "a: 1\r\nb: 2\r\n", "a:\tb\n", "a: b\n" + " " * 120 + "c\n", "k" * 1100 + ": v\n",
    "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 70)) + "  " * 70 + "x\n",
    # differences the fuzzing found, now caught by the scan
    "a: 0o7_\n", "a: 0x1F_\n", "a:\n  - 0x_1F\n", "a: 0x_1\n", "a: -_1\n", "a: 1e1_0\n",
    "... # c\nb: 1\n", "a: 1\n...\nb: 2\n", "--- \na: 1\n",
]  # fmt: skip


def outcome(fast: bool, text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setattr(L, "_fast", FAST_LOADER if fast else None)
    try:
        return "ok", json.dumps(parse(text.encode(), "yaml"))
    except LoadError as err:
        return "error", err.problems[0].code


@once
@needs_fast
@pytest.mark.parametrize("text", CORPUS)
def test_the_fast_path_gives_the_reference_result(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert outcome(True, text, monkeypatch) == outcome(False, text, monkeypatch)


KEYS = st.sampled_from(["a", "b", "key_1", "host-name", "x.y", "'q'", '"d q"', "e_1", "n1"])
TOKENS = st.sampled_from(
    [text for text, _ in SCALARS if "\n" not in text]
    + ["a b", "x: y", "- z", "#c", "http://h/p", "1e99", "-0.0", "9" * 30, "a,b", "--", "..."]
)
NUMBERS = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"[-+]?[0-9]{0,3}\.?[0-9]{0,3}([eE][-+]?[0-9]{1,2})?", fullmatch=True),
)


@st.composite
def block_yaml(draw: st.DrawFn) -> str:
    """Block-style YAML: what the fast path takes, plus near misses and damage."""
    scalar = st.one_of(TOKENS, NUMBERS)

    def node(indent: int, depth: int) -> str:
        kind = draw(st.integers(0, 9)) if depth < 4 else 0
        if kind < 5:
            return " " + draw(scalar) if kind else ""
        step = draw(st.sampled_from([1, 2, 2, 4]))
        pad = " " * (indent + step)
        if kind < 8:
            keys = draw(st.lists(KEYS, min_size=1, max_size=3))
            return "".join(f"\n{pad}{k}:{node(indent + step, depth + 1)}" for k in keys)
        pad = pad if draw(st.booleans()) else " " * indent
        n = draw(st.integers(1, 3))
        return "".join(f"\n{pad}-{node(len(pad), depth + 1)}" for _ in range(n))

    keys = draw(st.lists(KEYS, min_size=1, max_size=4))
    text = "".join(f"{k}:{node(0, 0)}\n" for k in keys)
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(text)))
        text = (
            text[:i] + draw(st.sampled_from([" ", "\n", "- ", ": ", "#", "'", "_", "0"])) + text[i:]
        )
    return text


@once
@needs_fast
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(block_yaml())
def test_property_fast_equals_reference(text: str) -> None:
    fast = FAST_LOADER(text, DEFAULT_LIMITS)
    if fast is None:
        return
    reference = L._parse_yaml(text, "x", DEFAULT_LIMITS)
    assert json.dumps(fast) == json.dumps(reference)  # types and key order too


@once
@needs_fast
def test_the_fast_path_is_taken_for_plain_block_yaml() -> None:
    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    try:
        from _gen import make_config, to_yaml
    finally:
        sys.path.pop(0)
    config = make_config(300)
    assert FAST_LOADER(to_yaml(config).decode(), DEFAULT_LIMITS) == config


@once
@needs_fast
def test_hotconf_fast_0_turns_the_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(L, "_fast", lambda text, limits: calls.append(text))
    parse(b"a: 1\n", "yaml")
    monkeypatch.setenv("HOTCONF_FAST", "0")
    parse(b"b: 1\n", "yaml")
    assert calls == ["a: 1\n"]


# -- the default limits: about a second of reload at most (bench/bench_limits.py) -------------


def _flat(keys: int) -> bytes:
    return "".join(f"k{i}: {i}\n" for i in range(keys)).encode()


def test_default_limits_keep_a_reload_near_a_second() -> None:
    assert (DEFAULT_LIMITS.max_bytes, DEFAULT_LIMITS.max_nodes) == (4 * 1024 * 1024, 50_000)
    assert len(parse(_flat(24_999), "yaml")) == 24_999  # 1 + 2 * 24,999 nodes: at the cap
    err = error(_flat(25_000))
    assert err.problems[0].code == "limit" and "Limits.max_nodes" in err.message
    assert error(b"a: " + b"x" * DEFAULT_LIMITS.max_bytes).problems[0].code == "limit"


def test_watch_takes_bigger_limits(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(_flat(30_000))
    with pytest.raises(hotconf.NoValidConfigError, match="max_nodes"):
        hotconf.watch(path, state_dir=None)
    limits = hotconf.Limits(max_nodes=100_000)
    with hotconf.watch(path, state_dir=None, limits=limits) as live:
        assert len(live.current) == 30_000 and live.limits is limits
