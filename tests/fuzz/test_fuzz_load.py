"""Fuzzing the loader: any bytes either load into plain, canonical data or raise `LoadError`."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotconf.errors import LoadError
from hotconf.pipeline.load import Limits, parse
from hotconf.pipeline.snapshot import canonical_json, freeze

from .conftest import FUZZ, FUZZ_SLOW

LIMITS = Limits(max_bytes=64 * 1024, max_depth=16, max_nodes=5_000)

# Pieces YAML gives meaning to, so that random text reaches the interesting paths.
TOKENS = [
    "a", "b", "k", ":", ": ", "\n", "  ", "- ", "-", "[", "]", "{", "}", ",", "'", '"', "#",
    "&x ", "*x", "<<: ", "!!str ", "!!int ", "!!float ", "!!binary ", "!x ", "|", ">", "?",
    "---\n", "...\n", "0x", "0o", "1", "9", "_", ".", "e5", "-.inf", ".nan", "true", "null",
    "~", "yes", "\t", "\\", "\\u", "é", "\U0001f600", "%YAML 1.2\n", "0x" + "f" * 20,
]  # fmt: skip
yaml_text = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


def _plain(value: Any) -> None:
    """Is it what `parse` promises: dict/list/str/int/float/bool/None, str keys, finite?"""
    todo = [value]
    while todo:
        node = todo.pop()
        if type(node) is dict:
            assert all(type(k) is str for k in node)
            todo.extend(node.values())
        elif type(node) is list:
            todo.extend(node)
        elif type(node) is float:
            assert math.isfinite(node)
        else:
            assert node is None or type(node) in (str, int, bool)


def _check(data: bytes, fmt: str) -> None:
    try:
        result = parse(data, fmt, limits=LIMITS)
    except LoadError as exc:
        refused: LoadError | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.problems and refused.problems[0].code  # a typed refusal
        return
    assert type(result) is dict
    _plain(result)
    canonical_json(result)  # what the pipeline does next: it must never raise
    freeze(result)


@FUZZ
@given(st.binary(max_size=300))
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_any_bytes(fmt: str, data: bytes) -> None:
    _check(data, fmt)


@FUZZ
@given(yaml_text)
def test_yaml_shaped_text(text: str) -> None:
    _check(text.encode(), "yaml")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@FUZZ_SLOW
@given(st.dictionaries(st.text(), json_values, min_size=1, max_size=5))
def test_json_round_trips(data: dict[str, Any]) -> None:
    text = json.dumps(data)
    try:
        assert parse(text.encode(), "json", limits=LIMITS) == data
    except LoadError as exc:
        refused: LoadError | None = exc
    else:
        refused = None
    if refused is not None:  # only a limit may refuse valid JSON
        assert refused.problems[0].code == "limit"
