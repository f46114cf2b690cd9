"""The history: how big the state database grows, and what restoring a version costs.

Size: 101 versions of a generated config (10k leaves), each changing 1% of the leaves to new
values, committed through ``hotconf.watch`` (a ``MemorySource``, state on disk). The database
file after v1 and after v101, next to the same versions kept the way hotconf kept them before
deltas (schema 2: one whole row of canonical JSON per version), written to a database of its
own with the same SQLite settings, in the same loop.

Restore and commit: a history of the same kind made with ``Store.append`` (frozen data, as a
reload passes it), at 10k and 100k leaves. ``Store.get`` of the last-known-good, of the
version before it and of the one with the longest chain of deltas to replay, against the
floor: one whole JSON row read back (``SELECT`` + ``json.loads``), which is what any version
cost before. The commit: ``Store.append`` against inserting the canonical JSON whole (which a
reload has computed already for its checksum).

Goal: the database after v101 at most 3x its size after v1.

Run: python3 bench/bench_history.py [--leaves N] [--versions N] [--churn F]
     [--restore-leaves 10000,100000] [--restore-versions N] [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gen import _leaf, make_config

import hotconf
from hotconf.pipeline.snapshot import canonical_json, checksum, freeze
from hotconf.store.history import Store
from hotconf.testing import MemorySource

GOAL = 3.0
# schema 2's versions table, and the statement its Store.append ran
WHOLE_ROWS = """
CREATE TABLE versions (version INTEGER PRIMARY KEY, checksum TEXT NOT NULL,
    created_at TEXT NOT NULL, source TEXT NOT NULL, status TEXT NOT NULL,
    rolled_back_from INTEGER, restores INTEGER, data TEXT NOT NULL);
"""
INSERT = "INSERT INTO versions VALUES (?, ?, ?, 'memory', 'applied', NULL, NULL, ?)"


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))
    else:
        yield path


def history(leaves: int, versions: int, churn: float) -> Iterator[dict[str, Any]]:
    """``versions`` configs: the first generated, each next one with ``churn`` of its leaves
    set to new values (the same every run). Each is a new object; the last one is reused."""
    rng = random.Random(7)
    data = make_config(leaves)
    paths = list(_paths(data))
    count = max(1, round(len(paths) * churn))
    yield data
    for _ in range(versions - 1):
        data = json.loads(json.dumps(data))
        for path in rng.sample(paths, count):
            node = data
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = _leaf(rng)
        yield data


def _whole_rows(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(WHOLE_ROWS)
    return db


def sizes(leaves: int, versions: int, churn: float) -> dict[str, tuple[int, int]]:
    """File sizes (bytes) after v1 and after the last version: hotconf, whole rows."""
    out: dict[str, list[int]] = {"hotconf": [], "whole": []}
    with tempfile.TemporaryDirectory() as tmp:
        state, whole = Path(tmp) / "state", Path(tmp) / "whole.db"
        configs = history(leaves, versions, churn)
        first = next(configs)
        source = MemorySource(first)
        hotconf.watch(source, state_dir=state).close()
        db = _whole_rows(whole)
        db.execute(INSERT, (1, checksum(first), _now(), canonical_json(first).decode()))
        db.close()  # closing the last connection folds the WAL into the file
        out["hotconf"].append((state / "hotconf.db").stat().st_size)
        out["whole"].append(whole.stat().st_size)
        db = sqlite3.connect(whole, isolation_level=None)
        with hotconf.watch(source, state_dir=state) as live:
            for n, data in enumerate(configs, 2):
                source.set(data)
                assert live.version == n
                db.execute(INSERT, (n, checksum(data), _now(), canonical_json(data).decode()))
        db.close()
        out["hotconf"].append((state / "hotconf.db").stat().st_size)
        out["whole"].append(whole.stat().st_size)
    return {k: (v[0], v[1]) for k, v in out.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _medians(fns: list[Callable[[], object]], runs: int) -> list[float]:
    """Median seconds of each function, run in turn (so a busy moment hits them alike)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def restores(
    leaves: int, versions: int, churn: float, runs: int
) -> tuple[list[tuple[str, float, float]], tuple[float, float]]:
    """[(which version, hotconf s, whole row s)], and the median commit (hotconf s, whole s)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "state")
        db = _whole_rows(Path(tmp) / "whole.db")
        commits: dict[str, list[float]] = {"hotconf": [], "whole": []}
        try:
            for n, data in enumerate(history(leaves, versions, churn), 1):
                frozen, csum, canonical = freeze(data), checksum(data), canonical_json(data)
                start = time.perf_counter()
                store.append(data=frozen, checksum=csum, source="bench", created_at=_at())
                commits["hotconf"].append(time.perf_counter() - start)
                start = time.perf_counter()
                db.execute(INSERT, (n, csum, _now(), canonical.decode()))
                commits["whole"].append(time.perf_counter() - start)
            worst, depth = _worst(Path(tmp) / "state" / "hotconf.db", versions)

            def whole_row() -> object:
                row = db.execute("SELECT data FROM versions WHERE version = ?", (versions,))
                return json.loads(row.fetchone()[0])

            cases = {
                f"v{versions} (last-known-good)": store.latest,
                f"v{versions - 1}": lambda: store.get(versions - 1),
                f"v{worst} (worst: {depth} deltas)": lambda: store.get(worst),
            }
            rows = []
            for which, restore in cases.items():
                ours, floor = _medians([restore, whole_row], runs)
                rows.append((which, ours, floor))
        finally:
            store.close()
            db.close()
    return rows, (statistics.median(commits["hotconf"]), statistics.median(commits["whole"]))


def _at() -> datetime:
    return datetime.now(UTC)


def _worst(path: Path, versions: int) -> tuple[int, int]:
    """The version with the most deltas to replay, and how many."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT version, base FROM versions WHERE encoding = 'delta+zlib'")
        base = dict(rows.fetchall())
    finally:
        db.close()

    def depth(v: int) -> int:
        n = 0
        while v in base:
            v, n = base[v], n + 1
        return n

    return max(((v, depth(v)) for v in range(1, versions + 1)), key=lambda p: p[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=101)
    parser.add_argument("--churn", type=float, default=0.01, help="share of leaves changed")
    parser.add_argument("--restore-leaves", default="10000,100000")
    parser.add_argument("--restore-versions", type=int, default=61)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="smoke test: 1k leaves, 11 versions")
    args = parser.parse_args()
    if args.quick:
        args.leaves, args.versions, args.restore_leaves = 1000, 11, "1000"
        args.restore_versions, args.runs = 11, 1
    pct = f"{args.churn * 100:g}%"
    print(f"size: {args.leaves} leaves, {args.versions} versions, {pct} churn, state on disk\n")
    print("| layout | after v1 | after the last | growth | goal |")
    print("|---|---|---|---|---|")
    found = sizes(args.leaves, args.versions, args.churn)
    for name, label in (("whole", "whole rows (before)"), ("hotconf", "hotconf")):
        first, last = found[name]
        growth = last / first
        goal = ""
        if name == "hotconf":
            goal = f"<= {GOAL:g}x {'met' if growth <= GOAL else 'MISSED'}"
        print(f"| {label} | {first / 1e6:.2f} MB | {last / 1e6:.2f} MB | {growth:.2f}x | {goal} |")
    print(
        f"\nrestore and commit: {args.restore_versions} versions, {pct} churn, "
        f"medians of {args.runs} (the floor: one whole JSON row, SELECT + json.loads)\n"
    )
    print("| leaves | version | Store.get | whole row | ratio |")
    print("|---|---|---|---|---|")
    commit_rows = []
    for leaves in (int(n) for n in args.restore_leaves.split(",")):
        rows, commit = restores(leaves, args.restore_versions, args.churn, args.runs)
        commit_rows.append((leaves, *commit))
        for which, ours, floor in rows:
            print(
                f"| {leaves} | {which} | {ours * 1e3:.2f} ms | {floor * 1e3:.2f} ms "
                f"| {ours / floor:.2f}x |"
            )
    print("\n| leaves | Store.append | whole row INSERT | ratio |")
    print("|---|---|---|---|")
    for leaves, ours, floor in commit_rows:
        print(f"| {leaves} | {ours * 1e3:.2f} ms | {floor * 1e3:.2f} ms | {ours / floor:.2f}x |")


if __name__ == "__main__":
    main()
