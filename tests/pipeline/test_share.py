"""hotconf.pipeline.share.settle: the same frozen data as `freeze`, sharing equal subtrees with
the previous snapshot, strictly (types and the sign of zero count)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotconf.pipeline.diff import _never, changes, strict_equal
from hotconf.pipeline.share import settle
from hotconf.pipeline.snapshot import freeze, thaw

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, 2, 0.0, -0.0, 1.0, 2.5, 2**70, "0", "1", "a", ""]),
)
DATA = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abcd"), inner, max_size=3)
    ),
    max_leaves=20,
)
DOCS = st.dictionaries(st.sampled_from("abcde"), DATA, max_size=5)


def typed(value: Any) -> Any:
    """A form where 1, 1.0, True and -0.0 all differ, as in the canonical JSON."""
    return json.dumps(thaw(value), default=repr) + repr(_kinds(value))


def _kinds(value: Any) -> Any:
    if hasattr(value, "items"):
        return [(type(value).__name__, k, _kinds(v)) for k, v in value.items()]
    if isinstance(value, tuple | list):
        return [type(value).__name__, *(_kinds(v) for v in value)]
    return (type(value).__name__, repr(value))


def shared_where_equal(new: Any, old: Any) -> None:
    if typed(new) == typed(old):
        assert new is old
    elif hasattr(new, "items") and hasattr(old, "items"):
        for k in new:
            if k in old:
                shared_where_equal(new[k], old[k])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS, DOCS)
def test_property_settle_is_freeze_with_sharing(old: dict[str, Any], new: dict[str, Any]) -> None:
    previous = freeze(old)
    frozen, facts = settle(new, previous)
    assert _kinds(frozen) == _kinds(freeze(new))  # same values, types and key order
    for k in frozen:
        if k in previous:
            shared_where_equal(frozen[k], previous[k])
    again, _ = settle(new, frozen)
    assert again is frozen  # an unchanged config makes nothing new
    assert facts.plain == (2**70 not in _leaves(new))
    assert sorted(map(repr, facts.floats)) == sorted(
        repr(x) for x in _leaves(new) if type(x) is float
    )


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS, DOCS)
def test_property_the_diff_shortcut_changes_nothing(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    import hotconf.pipeline.diff as diff

    a, b = freeze(old), freeze(new)
    with_shortcut = changes(a, b)
    diff_strict = diff.strict_equal
    try:
        diff.strict_equal = lambda: _never  # type: ignore[assignment]
        reference = changes(a, b)
    finally:
        diff.strict_equal = diff_strict  # type: ignore[assignment]
    assert [(c.path, c.kind, typed(c.old), typed(c.new)) for c in with_shortcut] == [
        (c.path, c.kind, typed(c.old), typed(c.new)) for c in reference
    ]


def test_strict_equal_tells_types_and_zeros_apart() -> None:
    same = strict_equal()
    assert same({"a": (1, "x")}, {"a": (1, "x")}) in (True, False)  # False without orjson
    for a, b in [(1, True), (1, 1.0), (0.0, -0.0), (0, False)]:
        assert not same({"k": a}, {"k": b})
        assert not same((a,), (b,))
