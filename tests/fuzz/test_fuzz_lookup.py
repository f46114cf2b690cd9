"""Fuzzing key lookups: a dotted key resolves only through canonical list indexes, and a
lookup answers a value or `KeyError`, nothing else, the same with and without the memo."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hotconf.pipeline.snapshot import Snapshot, VersionInfo, list_index

from .conftest import FUZZ

KEYS = st.sampled_from(["a", "b", "0", "1", "01", "-1", "", "a.b", " 1", "+1", "٣"])
values = st.recursive(
    st.none() | st.integers() | st.text(max_size=2),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)
SEGMENTS = st.sampled_from(
    ["a", "b", "0", "1", "2", "00", "01", "-1", "+1", " 1", "1 ", "1_0", "٣", "", "a.b"]
)


def _walk(data: Any, segments: list[str]) -> Any:
    """The reference: mappings by exact key, lists by canonical non-negative index only."""
    node = data
    for seg in segments:
        if isinstance(node, dict):
            if seg not in node:
                raise KeyError(seg)
            node = node[seg]
        elif isinstance(node, list):
            ok = seg.isascii() and seg.isdigit() and (seg == "0" or not seg.startswith("0"))
            if not ok or int(seg) >= len(node):
                raise KeyError(seg)
            node = node[int(seg)]
        else:
            raise KeyError(seg)
    return node


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    if hasattr(value, "items"):
        return {k: _thaw(v) for k, v in value.items()}
    return value


@FUZZ
@given(
    st.dictionaries(KEYS, values, max_size=4), st.lists(st.lists(SEGMENTS, max_size=4), max_size=5)
)
def test_lookup_matches_the_reference(data: dict[str, Any], keys: list[list[str]]) -> None:
    snap = Snapshot(data, VersionInfo(1, "0" * 64, datetime.now(UTC), "fuzz"))
    for segments in keys * 2:  # the second time through the memo
        key = ".".join(segments)
        parts = key.split(".") if key else []
        missing = object()
        try:
            expected = _walk(data, parts)
        except KeyError:
            expected = missing
        for found in (snap.lookup(key, missing), snap.lookup(tuple(parts), missing)):
            assert (found is missing) if expected is missing else _thaw(found) == expected


@FUZZ
@given(st.integers() | st.text(max_size=4) | st.booleans() | st.floats())
def test_list_index_is_canonical(seg: Any) -> None:
    index = list_index(seg)
    if index is not None:
        assert index >= 0 and (str(index) == seg or index == seg)
