"""The history keeps versions as deltas and gives every one back exactly: values, types and the
key order of the document, across restarts, rollbacks and a database from schema 2."""

from __future__ import annotations

import copy
import json
import random
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hotconf
from hotconf.pipeline.snapshot import canonical_json, checksum, freeze
from hotconf.store import delta
from hotconf.store.history import CHAIN_LINKS, SMALL, Store
from hotconf.testing import MemorySource

NOW = datetime(2026, 1, 1, tzinfo=UTC)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
)
KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f", "a/b", "~0", "", "ключ", "0", "1"])
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=40,
)
CONFIGS = st.dictionaries(KEYS, VALUES, max_size=8)
# a history: edits (a seed for `_edit`), rollbacks (to an earlier version), restarts, and
# versions a fleet's source numbers (`_fleet`)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["edit", "edit", "edit", "rollback", "restart", "fleet"]),
        st.integers(0, 2**32),
    ),
    max_size=30,
)
# values an edit writes: each differs from the others in the checksum
NEW_VALUES: list[Any] = [
    None, True, False, 0, 1, 1.0, -0.0, 0.0, 2**65, -3, "x", "ü", "", [], {}, [1, "1", 1.0],
    {"k": [True, {"z": None, "a": -0.0}]},
]  # fmt: skip


def exact(data: Any) -> str:
    """A fingerprint that sees key order, ``1`` vs ``1.0`` vs ``true`` and ``-0.0``."""
    return json.dumps(data, ensure_ascii=False)


def _twin(value: Any) -> Any:
    """A value equal to ``value`` in Python but not in the checksum: ``1``, ``1.0``, ``True``,
    ``0.0`` and ``-0.0``."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return float(value) if abs(value) < 2**53 else value
    if isinstance(value, float) and value.is_integer():
        return -value if value == 0 else int(value)
    return value


def _containers(node: Any, out: list[Any]) -> list[Any]:
    if isinstance(node, dict | list):
        out.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            _containers(child, out)
    return out


def _edit(data: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """1 to 4 random edits of a copy of ``data``: set, add, delete, reorder, list splices,
    and a value changed only in type or in the sign of a zero."""
    data = copy.deepcopy(data)
    for _ in range(rnd.randint(1, 4)):
        node = rnd.choice(_containers(data, []))
        value = copy.deepcopy(rnd.choice(NEW_VALUES))
        op = rnd.randrange(5)
        if isinstance(node, dict):
            keys = list(node)
            if op == 0 or not keys:
                node[rnd.choice(["a", "b", "new", "z/y", "~1", str(rnd.random())])] = value
            elif op == 1:
                node[rnd.choice(keys)] = value
            elif op == 4:
                key = rnd.choice(keys)
                node[key] = _twin(node[key])
            elif op == 2:
                del node[rnd.choice(keys)]
            else:  # move one key elsewhere: only the order changes
                items = list(node.items())
                moved = items.pop(rnd.randrange(len(items)))
                items.insert(rnd.randrange(len(items) + 1), moved)
                node.clear()
                node.update(items)
        elif op == 0 or not node:
            node.insert(rnd.randrange(len(node) + 1), value)
        elif op == 1:
            node[rnd.randrange(len(node))] = value
        elif op == 4:
            index = rnd.randrange(len(node))
            node[index] = _twin(node[index])
        elif op == 2:
            del node[rnd.randrange(len(node)) :]
        else:
            node[rnd.randrange(len(node)) :] = [value, value]
    return data


class _History:
    """A store and what each of its versions must restore to."""

    def __init__(self, path: str | None, frozen: bool) -> None:
        self.path = path
        self.frozen = frozen
        self.store = Store(path)
        self.expected: dict[int, dict[str, Any]] = {}
        self.served: int | None = None  # when it is not the newest

    def commit(self, data: dict[str, Any], version: int | None = None) -> None:
        """As `Store.append` promises: a number the source gives (a fleet's) is a new version
        above the newest, the same version served again, or one replaced."""
        given_data = freeze(data) if self.frozen else copy.deepcopy(data)
        info = self.store.append(
            data=given_data,
            checksum=checksum(data),
            source="test",
            created_at=NOW,
            version=version,
        )
        last = max(self.expected, default=0)
        number = last + 1 if version is None else version
        assert info.version == number
        if self.expected.get(number) is None or checksum(self.expected[number]) != checksum(data):
            self.expected[number] = copy.deepcopy(data)
        self.served = number if number < last else None

    def newest(self) -> dict[str, Any]:
        return self.expected[max(self.expected)]

    def restart(self) -> None:
        self.store.close()
        self.store = Store(self.path)

    def check(self) -> None:
        assert [v.version for v in self.store.history()] == sorted(self.expected, reverse=True)
        for version, data in self.expected.items():
            got = self.store.get(version)
            assert exact(got.data) == exact(data), f"v{version}"
            assert got.info.checksum == checksum(data) == checksum(got.data)
        latest = self.store.latest()
        served = self.expected[self.served] if self.served is not None else self.newest()
        assert latest is not None and exact(latest.data) == exact(served)


def _fleet(history: _History, n: int) -> None:
    """A version numbered by a fleet's source: above the newest (numbers skipped), an earlier
    one served again (a canary instance going back to the stable version), or one replaced
    by other data (the same published version under a changed schema)."""
    rnd = random.Random(n)
    numbers = sorted(history.expected)
    kind = rnd.randrange(3)
    if kind == 0:
        history.commit(_edit(history.newest(), rnd), numbers[-1] + rnd.randint(1, 3))
    elif kind == 1:
        number = rnd.choice(numbers)
        history.commit(history.expected[number], number)
    else:
        number = rnd.choice(numbers)
        history.commit(_edit(history.expected[number], rnd), number)


def _replay(history: _History, base: dict[str, Any], steps: list[tuple[str, int]]) -> None:
    history.commit(base)
    for kind, n in steps:
        if kind == "edit":
            history.commit(_edit(history.newest(), random.Random(n)))
        elif kind == "rollback":  # as LiveConfig.rollback: the target's data, read back
            numbers = sorted(history.expected)
            history.commit(history.store.get(numbers[n % len(numbers)]).data)
        elif kind == "fleet":
            _fleet(history, n)
        elif history.path is not None:
            history.restart()
    history.check()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(base=CONFIGS, steps=STEPS, frozen=st.booleans(), big=st.booleans())
def test_every_version_of_a_random_history_restores_exactly(
    base: dict[str, Any], steps: list[tuple[str, int]], frozen: bool, big: bool
) -> None:
    if big:  # over SMALL: older versions become deltas (a small config is kept whole)
        base = {**base, "pad": "x" * SMALL}
    with tempfile.TemporaryDirectory() as directory:
        history = _History(str(Path(directory) / "hotconf.db"), frozen)
        try:
            _replay(history, base, steps)
            history.restart()  # and read back by a process that wrote none of it
            history.check()
        finally:
            history.store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=CONFIGS, steps=STEPS)
def test_a_memory_only_history_restores_exactly_too(
    base: dict[str, Any], steps: list[tuple[str, int]]
) -> None:
    base = {**base, "pad": "x" * SMALL}
    history = _History(None, frozen=True)
    try:
        _replay(history, base, steps)
    finally:
        history.store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=CONFIGS, b=CONFIGS)
def test_a_delta_turns_one_config_into_the_other_exactly(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    change = delta.unpack(delta.pack(delta.diff(a, b))[0])
    assert exact(delta.patch(json.loads(json.dumps(a)), change)) == exact(b)
    # frozen, and sharing what is equal (as a reload's snapshot does), it is the same delta
    frozen_a = freeze(a)
    shared = {k: frozen_a[k] if k in a and delta.same(a[k], v) else freeze(v) for k, v in b.items()}
    assert delta.dumps(delta.diff(frozen_a, shared)) == delta.dumps(delta.diff(a, b))
    assert (delta.diff(a, b) == {}) == (exact(a) == exact(b))


def _big(leaves: int) -> dict[str, Any]:
    return {f"s{i}": {f"k{j}": i * 100 + j for j in range(10)} for i in range(leaves // 10)}


def _encodings(path: Path) -> list[tuple[int, str, int]]:
    db = sqlite3.connect(path)
    try:
        return list(db.execute("SELECT version, encoding, links FROM versions ORDER BY version"))
    finally:
        db.close()


def test_small_changes_are_stored_as_small_deltas_and_chains_are_cut(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    data = _big(2000)
    try:
        for n in range(CHAIN_LINKS + 30):
            data = copy.deepcopy(data)
            data[f"s{n % 200}"][f"k{n % 10}"] = -n
            store.append(data=data, checksum=checksum(data), source="t", created_at=NOW)
        rows = _encodings(tmp_path / "hotconf.db")
        assert rows[-1][1] == "head"
        assert {e for _, e, _ in rows[:-1]} == {"delta+zlib", "json+zlib"}
        assert max(links for *_, links in rows) <= CHAIN_LINKS  # a chain is cut at 100 deltas
        assert rows[CHAIN_LINKS][1] == "json+zlib"
        for version in (1, 2, 50, CHAIN_LINKS, CHAIN_LINKS + 1, len(rows)):
            got = store.get(version)
            assert checksum(got.data) == got.info.checksum
    finally:
        store.close()
    whole = len(canonical_json(data))
    assert (tmp_path / "hotconf.db").stat().st_size < 10 * whole  # not 130 whole copies


def test_key_order_survives_history_restart_and_rollback(tmp_path: Path) -> None:
    """The canonical form (and the checksum) sorts keys; what is served and restored keeps
    the document's order."""
    first = "zeta: 1\nalpha:\n  y: true\n  b: [3, 1]\nmid: x\n"
    source = MemorySource(first)
    with hotconf.watch(source, state_dir=tmp_path) as live:
        source.set("mid: x\nzeta: 2\nalpha:\n  b: [3, 1]\n  y: true\n")
        assert list(live.current) == ["mid", "zeta", "alpha"]
        old = live.snapshot(1)
        assert list(old) == ["zeta", "alpha", "mid"] and list(old["alpha"]) == ["y", "b"]
        assert old.checksum == checksum({"alpha": {"b": [3, 1], "y": True}, "mid": "x", "zeta": 1})
    with hotconf.watch(source, state_dir=tmp_path) as live:  # restart: the LKG, in order
        assert live.version == 2 and list(live.current) == ["mid", "zeta", "alpha"]
        live.rollback(to=1)
        assert live.version == 3 and list(live.current) == ["zeta", "alpha", "mid"]
        assert list(live.current["alpha"]) == ["y", "b"]
    store = Store.open(tmp_path)
    try:
        assert [list(store.get(v).data) for v in (1, 2, 3)] == [
            ["zeta", "alpha", "mid"],
            ["mid", "zeta", "alpha"],
            ["zeta", "alpha", "mid"],
        ]
    finally:
        store.close()


def test_two_stores_writing_one_database_keep_every_version(tmp_path: Path) -> None:
    """Two processes on one state dir (each store believes it knows the newest version)."""
    a, b = Store.open(tmp_path), Store.open(tmp_path)
    expected = []
    try:
        for n in range(12):
            data = {"n": n, "big": _big(200), "order": ["x", n]}
            (a if n % 3 else b).append(
                data=data, checksum=checksum(data), source="t", created_at=NOW
            )
            expected.append(data)
        for store in (a, b):
            for version, data in enumerate(expected, 1):
                assert exact(store.get(version).data) == exact(data)
    finally:
        a.close()
        b.close()


def _tamper(path: Path, sql: str, *args: object) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute(sql, args)
        db.commit()
    finally:
        db.close()


def test_a_damaged_history_is_refused_not_served_wrong(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        for n in range(4):
            data = {"n": n, "rest": _big(300)}
            store.append(data=data, checksum=checksum(data), source="t", created_at=NOW)
    finally:
        store.close()
    path = tmp_path / "hotconf.db"
    assert [e for _, e, _ in _encodings(path)] == ["delta+zlib"] * 3 + ["head"]
    wrong = delta.pack({"s": [["n", 99]]})[0]
    _tamper(path, "UPDATE versions SET body = ? WHERE version = 2", wrong)
    _tamper(path, "UPDATE versions SET body = x'00' WHERE version = 1")
    store = Store.open(tmp_path)
    try:
        with pytest.raises(hotconf.StoreError, match="version 2 does not restore to its checksum"):
            store.get(2)
        with pytest.raises(hotconf.StoreError, match="version 1 is corrupt"):
            store.get(1)
        assert store.get(3).data["n"] == 2  # the chain above is untouched
    finally:
        store.close()
    _tamper(path, "DELETE FROM versions WHERE version = 3")
    store = Store.open(tmp_path)
    try:
        with pytest.raises(hotconf.StoreError, match="version 3, which it is restored from"):
            store.get(2)
    finally:
        store.close()
