"""A whole reload through the public API against the fastest known floors, in the same run.

Floors (the fastest libraries known for each step, not the ones hotconf happens to use):
``yaml_rs.loads`` (parse) + ``jsonschema_rs`` ``is_valid`` (validate) + sha256 of
``orjson.dumps(OPT_SORT_KEYS)`` (canonical hash), timed on the same text and data in the same
iteration as the reload. Four figures:

1. real change: two YAML configs from `_gen` (B is A with about 1% of its leaves changed,
   types kept) alternate on a `MemorySource`; ``live.reload()`` runs the pipeline with the
   state on disk (``state_dir``: WAL, ``synchronous=FULL``). Goal: at most 3x the floor sum at
   10k and 100k leaves; the time per leaf must not grow from 1k to 1M (``--huge``).
2. comment-only save: the served text with one comment line changed (a new one each time),
   so every save is new bytes with the same content. Goal: at most 0.3x a real change.
3. contention: a 40-leaf file, reloaded (a real change each time, the file on disk, the state
   on disk) while 0, 3 and 8 application threads read ``live.get(...)`` in a busy loop, with
   the default ``sys.setswitchinterval``. Goal: median reload at most 50 ms with 3 threads.
   The floor beside it: the same reads, and a bare open + read + yaml_rs.loads + sqlite
   INSERT/COMMIT of the same bytes, under the same threads.

Run: python3 bench/bench_reload.py [--big] [--huge] [--repeats N] [--only reload|contention]
     [--schema derived|compact] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import gc
import hashlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import yaml_rs
from _gen import make_config, to_yaml
from bench_pipeline import edited, schema_for

import hotconf
from hotconf.testing import MemorySource

GOAL = 3.0
GOAL_COMMENT = 0.3
GOAL_CONTENTION = 0.050


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f}"


def floors(text: bytes, validator: Any) -> tuple[float, float, float]:
    start = time.perf_counter()
    data = yaml_rs.loads(text.decode(), parse_datetime=False)
    t_parse = time.perf_counter() - start
    start = time.perf_counter()
    assert validator.is_valid(data)
    t_valid = time.perf_counter() - start
    start = time.perf_counter()
    hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
    t_hash = time.perf_counter() - start
    return t_parse, t_valid, t_hash


def commented(text: bytes, n: int) -> bytes:
    """``text`` with a comment line (numbered ``n``) in its middle: new bytes, same content."""
    lines = text.split(b"\n")
    middle = len(lines) // 2
    while lines[middle].startswith((b" ", b"-")):  # a top-level key: a comment can go above it
        middle += 1
    lines.insert(middle, b"# reviewed, edit %d" % n)
    return b"\n".join(lines)


SCALAR = {"type": ["string", "integer", "boolean"]}
COMPACT = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "additionalProperties": {
            "anyOf": [
                SCALAR,
                {"type": "array", "items": SCALAR, "maxItems": 64},
                {"type": "object", "additionalProperties": SCALAR},
            ]
        },
    },
}
"""A schema of a few lines that still checks every leaf of a `_gen` config, whatever its size
(``--schema compact``: building the derived one for 1M leaves takes longer than the runs)."""


def bench_size(leaves: int, repeats: int, state: Path, compact: bool = False) -> dict[str, float]:
    data_a = make_config(leaves, seed=0)
    data_b = edited(data_a, random.Random(1))
    texts = [to_yaml(data_a), to_yaml(data_b)]
    schema_doc = COMPACT if compact else schema_for(data_a)
    schema = hotconf.Schema.from_dict(schema_doc)
    validator = jsonschema_rs.Draft202012Validator(schema_doc)
    source = MemorySource(texts[0], format="yaml")
    live = hotconf.watch(source, schema=schema, state_dir=state / f"state-{leaves}")
    source.stop()  # `set` below only swaps the bytes; `live.reload()` runs the pipeline
    real: list[float] = []
    comment: list[float] = []
    floor: list[tuple[float, float, float]] = []
    stages: dict[str, list[float]] = {}
    for i in range(repeats + 1):  # the first iteration warms up and is dropped
        text = texts[(i + 1) % 2]
        source.set(text)
        gc.collect()
        start = time.perf_counter()
        result = live.reload()
        took = time.perf_counter() - start
        assert result.status == "applied", (result.status, result.rejection)
        f = floors(text, validator)
        source.set(commented(text, i))
        gc.collect()
        start = time.perf_counter()
        same = live.reload()
        took_comment = time.perf_counter() - start
        assert same.status == "noop" and same.version == result.version, same.status
        if i == 0:
            continue
        real.append(took)
        comment.append(took_comment)
        floor.append(f)
        for stage, seconds in result.timings.items():
            stages.setdefault(stage, []).append(seconds)
    live.close()
    med = statistics.median(real)
    fl = [statistics.median(x[k] for x in floor) for k in range(3)]
    floor_sum = sum(fl)
    cmed = statistics.median(comment)
    kib = len(texts[0]) / 1024
    ratio = med / floor_sum
    goal = f"  (goal <= {GOAL}x: {'ok' if ratio <= GOAL else 'MISSED'})" if leaves > 1000 else ""
    print(f"\n{leaves:,} leaves ({kib:,.0f} KiB YAML), medians of {repeats} reloads, state on disk")
    print(
        f"  floors: yaml_rs.loads {ms(fl[0])}  jsonschema_rs is_valid {ms(fl[1])}"
        f"  sha256(orjson sorted) {ms(fl[2])}  sum {ms(floor_sum)} ms"
    )
    print(
        "  stages: " + "  ".join(f"{k} {statistics.median(v) * 1e3:.2f}" for k, v in stages.items())
    )
    print(f"  real change     {ms(med)} ms  = {ratio:5.2f}x the floor sum{goal}")
    cr = cmed / med
    print(
        f"  comment-only    {ms(cmed)} ms  = {cr:5.2f}x a real change"
        f"  (goal <= {GOAL_COMMENT}x: {'ok' if cr <= GOAL_COMMENT else 'MISSED'})"
    )
    return {"real": med, "floor": floor_sum, "comment": cmed, "leaves": leaves}


# -- contention -------------------------------------------------------------------------------


def _busy(stop: threading.Event, read: Callable[[], object]) -> None:
    while not stop.is_set():
        for _ in range(100):
            read()


def _bare_reload(path: Path, db: sqlite3.Connection) -> None:
    with open(path, "rb") as f:
        raw = f.read()
    data = yaml_rs.loads(raw.decode(), parse_datetime=False)
    body = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO v (data) VALUES (?)", (body,))
    db.execute("COMMIT")


def contention(repeats: int, state: Path) -> None:
    data_a = make_config(40, seed=3)
    data_b = edited(data_a, random.Random(4), share=0.1)
    texts = [to_yaml(data_a), to_yaml(data_b)]
    schema = hotconf.Schema.from_dict(schema_for(data_a))
    path = state / "small.yaml"
    path.write_bytes(texts[0])
    first = next(iter(data_a))
    key = f"{first}.{next(iter(data_a[first]))}"
    print(
        f"\ncontention: 40-leaf file, reload() of a real change, median of {repeats};"
        f" switch interval {sys.getswitchinterval() * 1e3:g} ms"
    )
    for where in ("memory", "disk"):
        state_dir = state / "state-small" if where == "disk" else None
        live = hotconf.watch(path, schema=schema, state_dir=state_dir, poll_interval=None)
        live.source.stop()  # no watcher: each reload below is the one being timed
        bare_db = sqlite3.connect(
            ":memory:" if where == "memory" else str(state / "bare.db"), isolation_level=None
        )
        if where == "disk":
            bare_db.execute("PRAGMA journal_mode=WAL")
        bare_db.execute("PRAGMA synchronous=FULL")
        bare_db.execute("CREATE TABLE IF NOT EXISTS v (data BLOB)")
        read = functools.partial(live.get, key)
        for threads in (0, 3, 8):
            stop = threading.Event()
            workers = [
                threading.Thread(target=_busy, args=(stop, read), daemon=True)
                for _ in range(threads)
            ]
            for w in workers:
                w.start()
            times: list[float] = []
            bare: list[float] = []
            try:
                for i in range(repeats + 1):
                    path.write_bytes(texts[(i + 1) % 2])
                    start = time.perf_counter()
                    result = live.reload()
                    took = time.perf_counter() - start
                    assert result.status == "applied", result.status
                    start = time.perf_counter()
                    _bare_reload(path, bare_db)
                    took_bare = time.perf_counter() - start
                    if i:
                        times.append(took)
                        bare.append(took_bare)
            finally:
                stop.set()
                for w in workers:
                    w.join()
            med = statistics.median(times)
            verdict = ""
            if threads == 3:
                verdict = f"  (goal <= 50 ms: {'ok' if med <= GOAL_CONTENTION else 'MISSED'})"
            print(
                f"  {where:<6} {threads} busy threads: reload() median {ms(med)} ms,"
                f" p90 {ms(statistics.quantiles(times, n=10)[-1])} ms;"
                f" bare read+parse+INSERT {ms(statistics.median(bare))} ms{verdict}"
            )
        bare_db.close()
        live.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", action="store_true", help="also 100k leaves")
    ap.add_argument("--huge", action="store_true", help="also 100k and 1M leaves (minutes)")
    ap.add_argument("--repeats", type=int, default=0, help="reloads per size (default: by size)")
    ap.add_argument("--only", choices=["reload", "contention"])
    ap.add_argument("--quick", action="store_true", help="smoke test: 1k leaves, 3 runs")
    ap.add_argument(
        "--schema",
        choices=["derived", "compact"],
        default="derived",
        help="derived: one property per key (as bench_pipeline); compact: a few lines",
    )
    args = ap.parse_args()
    print(
        f"reload: Python {sys.version.split()[0]}, yaml-rs {yaml_rs.__version__}, orjson "
        f"{orjson.__version__}, HOTCONF_FAST={os.environ.get('HOTCONF_FAST', '1')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        if args.only != "contention":
            sizes = {1_000: 21, 10_000: 11} if not args.quick else {1_000: 3}
            if args.big or args.huge:
                sizes[100_000] = 5
            if args.huge:
                sizes[100_000] = 3
                sizes[1_000_000] = 3
            print(f"schema: {args.schema}")
            compact = args.schema == "compact"
            found = [bench_size(n, args.repeats or r, state, compact) for n, r in sizes.items()]
            print("\nscaling (time per leaf, relative to 1k leaves):")
            base = found[0]["real"] / found[0]["leaves"]
            for f in found:
                per = f["real"] / f["leaves"]
                print(f"  {f['leaves']:>9,} leaves: {per * 1e6:7.2f} us/leaf = {per / base:5.2f}x")
        if args.only != "reload":
            contention(args.repeats or (3 if args.quick else 41), state)


if __name__ == "__main__":
    main()
