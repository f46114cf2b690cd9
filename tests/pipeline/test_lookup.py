"""Key lookups: only canonical, non-negative list indexes reach a list item."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotconf.pipeline.snapshot import Snapshot, VersionInfo, list_index, lookup

DATA = {"creds": [{"secret": "first"}, {"secret": "last"}], "hosts": ["a", "b"]}


def snapshot() -> Snapshot:
    return Snapshot(DATA, VersionInfo(1, "0" * 64, datetime.now(UTC), "test"))


@pytest.mark.parametrize(
    ("key", "expected"),
    [("creds.0.secret", "first"), ("creds.1.secret", "last"), ("hosts.1", "b")],
)
def test_canonical_indexes_resolve(key: str, expected: str) -> None:
    assert snapshot().lookup(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "creds.-1.secret",  # Python's negative indexing: the last item
        "creds.00.secret",
        "creds.01.secret",
        "creds.+1.secret",
        "creds. 1.secret",
        "creds.1 .secret",
        "creds.1_0.secret",
        "creds.\u0661.secret",  # ARABIC-INDIC DIGIT ONE: int() reads it as 1
        "creds.2.secret",
        "hosts.-2",
    ],
)
def test_other_indexes_name_nothing(key: str) -> None:
    snap = snapshot()
    with pytest.raises(KeyError):
        snap.lookup(key)
    assert snap.lookup(key, None) is None


def test_tuple_paths_take_non_negative_ints_only() -> None:
    snap = snapshot()
    for bad in (-1, "-1", 1.0):  # 1.0 == 1 as a memo key: looked up first, it must not
        with pytest.raises(KeyError):  # leave an answer for ("creds", 1, ...)
            snap.lookup(("creds", bad, "secret"))
    assert snap.lookup(("creds", 1, "secret")) == "last"


@pytest.mark.parametrize(
    ("seg", "expected"),
    [(0, 0), (7, 7), ("0", 0), ("10", 10), (-1, None), ("010", None), ("", None), (1.0, None)],
)
def test_list_index(seg: object, expected: int | None) -> None:
    assert list_index(seg) == expected


def test_lookup_on_plain_data() -> None:
    assert lookup(DATA, ("hosts", "0")) == "a"
    with pytest.raises(KeyError):
        lookup(DATA, ("hosts", "-1"))
