"""hotconf.pipeline.encode: orjson's bytes where they are used equal the stdlib reference, so
the checksums of existing histories never change."""

from __future__ import annotations

import contextlib
import hashlib
import json
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotconf.pipeline import encode
from hotconf.pipeline.share import settle
from hotconf.pipeline.snapshot import canonical_json, checksum, freeze

needs_orjson = pytest.mark.skipif(encode._fast() is None, reason="orjson not installed")

FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e16, 0.1, -0.0, 0.0, 1e-05, 1e-07, 5e-324, 1.7976931348623157e308, 1e22]),
)
INTS = st.one_of(
    st.integers(), st.integers(-(2**70), 2**70), st.sampled_from([2**63, -(2**63) - 1, 2**64])
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
KEYS = st.one_of(TEXT, st.sampled_from(["a", "B", "é", "\U0001f600", "\uffff", "a\u0000", ""]))
LEAVES = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT)
DATA = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=30,
)


def facts_floats(data: Any) -> list[float] | None:
    _, facts = settle(data)
    return facts.floats if facts.plain else None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, DATA, max_size=5), st.booleans())
def test_property_dumps_equals_the_reference(data: dict[str, Any], sort_keys: bool) -> None:
    assert encode.dumps(data, sort_keys=sort_keys, floats=facts_floats(data)) == encode.reference(
        data, sort_keys=sort_keys
    )
    assert encode.dumps(freeze(data), floats=facts_floats(data)) == canonical_json(data)


@needs_orjson
@settings(max_examples=300, deadline=None)
@given(FLOATS)
def test_floats_agree_says_what_orjson_writes(f: float) -> None:
    orjson = encode._fast()
    assert encode.floats_agree([f]) == (orjson.dumps(f) == json.dumps(f).encode())


@needs_orjson
def test_orjson_is_used_where_it_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = encode.reference
    monkeypatch.setattr(encode, "reference", lambda *a, **k: calls.append(b"") or real(*a, **k))
    data = {"b": [1, 2.5, "é", None, True], "a": {"z": 0.1, "y": -0.0, "x": 1e16}}
    assert encode.dumps(data, floats=facts_floats(data)) == canonical_json(data)
    assert calls == []  # every float agrees: orjson wrote it
    for odd in ({"a": 1e-05}, {"a": 2**64}, {"a": float("nan")}):
        calls.clear()
        with contextlib.suppress(ValueError):  # NaN: the reference refuses it, as before
            encode.dumps(odd, floats=facts_floats(odd))
        assert calls, odd  # the reference wrote it


def test_checksums_of_known_data_never_change() -> None:
    data = {"é": [1, 0.1, 1e16, -0.0, 2**70, "\u2028"], "a": {"b": None, "c": True}}
    expected = hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert checksum(data) == expected
    assert hashlib.sha256(encode.dumps(data, floats=facts_floats(data))).hexdigest() == expected


def test_key_json_equals_the_reference() -> None:
    for key in ["a", "é", "\U0001f600", "\u0000\u001f\u007f", '"\\/']:
        assert encode.key_json(key) == json.dumps(key, ensure_ascii=False).encode()


def test_hotconf_fast_0_turns_orjson_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTCONF_FAST", "0")
    assert encode._fast() is None
    data = {"a": MappingProxyType({"b": (1, 2)})}
    assert encode.dumps(data, floats=[]) == b'{"a":{"b":[1,2]}}'
