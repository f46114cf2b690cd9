"""hotconf.pipeline.pieces: a YAML document loaded piece by piece, with the unchanged pieces
from the cache, gives exactly what parsing the whole text gives (the reference), or declines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotconf.errors import LoadError
from hotconf.pipeline.load import Limits, parse
from hotconf.pipeline.pieces import ParseCache
from hotconf.pipeline.snapshot import canonical_json, freeze, thaw

L = sys.modules["hotconf.pipeline.load"]


def reference(text: str) -> dict[str, Any] | None:
    try:
        return parse(text.encode(), "yaml")
    except LoadError:
        return None


def same_data(a: Any, b: Any) -> bool:
    """Equal, types and key order included."""
    return json.dumps(a) == json.dumps(b)


def frozen_all_the_way(value: Any) -> bool:
    if isinstance(value, dict):
        return False
    if hasattr(value, "items"):
        return all(frozen_all_the_way(v) for v in value.values())
    if isinstance(value, list):
        return False
    if isinstance(value, tuple):
        return all(frozen_all_the_way(v) for v in value)
    return True


def agrees(cache: ParseCache, text: str, previous: Any = None) -> bool:
    """Check one load against the whole parse; True when the pieces path was taken."""
    loaded = cache.load(text.encode(), previous)
    expected = reference(text)
    if loaded is None:
        return False
    assert expected is not None, f"pieces accepted what the whole parse refuses: {text!r}"
    assert same_data(loaded.data, expected)
    assert same_data(thaw(loaded.frozen), expected)
    assert frozen_all_the_way(loaded.frozen)
    assert loaded.canonical == canonical_json(expected)
    return True


KEYS = ["a", "b", "key_1", "host-name", "x.y", "e_1", "n1", "'q'", '"d q"', "c"]
ODD_KEYS = ["null", "true", "1", "a", "? a", ": b"]
VALUES = [
    " 1",
    " -0.0",
    " 1e-05",
    " 0.1",
    " 1e16",
    " " + "9" * 25,
    " true",
    " ~",
    " é",
    " x y",
    " 'a\n  b'",
    ' "a\n  b"',
    " [1,\n  2]",
    " {a: 1,\n  b: 2}",
    " |\n  text\n  more",
    " >\n  folded\n",
    " |-\n  kept\n\n",
    " # only a comment",
    " a # comment",
    "\n- 1\n- 2",
    "\n  - x\n  - y",
    "\n  k: v\n  k2: [1, 2]",
    "\n  a:\n    b: c",
    " !!str 1",
    " x\n  continued",
    " 'it''s'",
    ' "\\u00e9"',
    "",
    "\n  - a: 1\n    b: 2",
]
BAD_VALUES = [
    " 'open\nz: 1'", ' "open\nz: 1"', " [1,\nz: 2]", " {a: 1,\nz: 2}", "\n  k: v\n k2: bad",
    " !!int x", " &a 1", " *a", "\n\tk: 1", " : x",
]  # fmt: skip
BETWEEN = ["# between", "", "- stray", " x", "---", "...", "%YAML 1.2", "  # indented"]


@st.composite
def documents(draw: st.DrawFn) -> str:
    def pick(good: list[str], bad: list[str]) -> str:
        return draw(st.sampled_from(bad if draw(st.integers(0, 9)) == 9 else good))

    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["# head", "", "  # indented comment", "  z: 1"])))
    for key in draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=6, unique=True)):
        odd = draw(st.integers(0, 19)) == 19
        lines.append(
            f"{draw(st.sampled_from(ODD_KEYS)) if odd else key}:{pick(VALUES, BAD_VALUES)}"
        )
        if draw(st.integers(0, 4)) == 4:
            lines.append(draw(st.sampled_from(BETWEEN)))
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    if draw(st.integers(0, 3)) == 3:
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["\n", " ", "#", ":", "'", "\t", "- "])) + text[i:]
    return text


def edit(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    i = data.draw(st.integers(0, len(lines)))
    change = data.draw(st.sampled_from(["# new comment", "b: 2", "a: changed", "", "  x: 1"]))
    return "\n".join([*lines[:i], change, *lines[i:]])


@pytest.fixture(params=["fast", "libyaml"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("HOTCONF_FAST", raising=False)
    if request.param == "libyaml":
        monkeypatch.setattr(L, "_fast", None)
    elif L._fast is None:
        pytest.skip("yaml-rs 0.1.6 (the fast extra) not installed")
    return str(request.param)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(documents(), st.data())
def test_property_pieces_equal_the_whole_parse(loader: str, text: str, data: st.DataObject) -> None:
    cache = ParseCache()
    first = cache.load(text.encode())
    if first is not None:
        assert agrees(ParseCache(), text)
    edited = edit(text, data)
    previous = first.frozen if first is not None else None
    agrees(cache, edited, previous)  # with the first text's pieces in the cache
    agrees(cache, text, previous)  # and back


def config_text(leaves: int, seed: int = 0) -> str:
    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    try:
        from _gen import make_config, to_yaml
    finally:
        sys.path.pop(0)
    return to_yaml(make_config(leaves, seed)).decode()


def test_only_changed_pieces_are_parsed_and_unchanged_ones_are_shared() -> None:
    text = config_text(300)
    cache = ParseCache()
    first = cache.load(text.encode())
    assert first is not None and first.parsed == len(first.data) > 1
    commented = text.replace("\nsection_3:", "\n# a comment\nsection_3:")
    again = cache.load(commented.encode(), first.frozen)
    assert again is not None and again.parsed == 1
    assert again.canonical == first.canonical
    assert all(again.frozen[k] is first.frozen[k] for k in first.frozen)
    changed = commented.replace("section_5:\n", "section_5:\n  added: 1\n", 1)
    third = cache.load(changed.encode(), again.frozen)
    assert third is not None and third.parsed == 1
    assert third.data == parse(changed.encode(), "yaml")
    assert third.frozen["section_5"] is not again.frozen["section_5"]
    assert all(third.frozen[k] is again.frozen[k] for k in again.frozen if k != "section_5")


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: 2\na: 3\n",  # a duplicate across pieces: the whole parse reports it
        "a: &x 1\nb: *x\n",  # aliases reach across pieces
        "  a: 1\nb: 2\n",  # the first content is indented: the whole text is an error
        "a: 'open\nb: close'\n",  # a quoted scalar open at a cut
        "%YAML 1.2\n---\na: 1\nb: 2\n",
        "a: 1\n",  # one piece: nothing to gain
        "? a\n: 1\nb: 2\n",
    ],
)
def test_what_reaches_across_a_cut_is_left_to_the_whole_parse(text: str) -> None:
    assert ParseCache().load(text.encode()) is None


def test_the_node_limit_counts_every_piece() -> None:
    text = "a: [1, 2, 3]\nb: [4, 5, 6]\n"  # 1 + 2 * 2 + 6 nodes
    assert ParseCache(Limits(max_nodes=11)).load(text.encode()) is not None
    assert ParseCache(Limits(max_nodes=10)).load(text.encode()) is None
    with pytest.raises(LoadError):
        parse(text.encode(), "yaml", limits=Limits(max_nodes=10))


def test_frozen_matches_freeze() -> None:
    text = config_text(200, seed=3)
    loaded = ParseCache().load(text.encode())
    assert loaded is not None
    assert same_data(thaw(loaded.frozen), thaw(freeze(parse(text.encode(), "yaml"))))
