"""How long a whole candidate evaluation takes at the loader's default limits.

`hotconf.Limits` caps what one reload may cost: the defaults (``max_nodes``, ``max_bytes``)
are chosen so that a worst-case config right under them evaluates (parse, checksum, freeze,
diff against a config that shares nothing with it, report) in about a second on a 2-core
machine, on the reference path (``HOTCONF_FAST=0``: no yaml-rs). Shapes, each just under the
caps: a flat mapping of short keys (the most nodes per byte), the nested generated config of
`_gen.py`, one long string (the most bytes per node), for YAML and JSON. The floor is
PyYAML's ``CSafeLoader`` (or ``json.loads``) on the same bytes, measured in the same run.

Run: python3 bench/bench_limits.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]
os.environ.setdefault("HOTCONF_FAST", "0")

from _gen import make_config, to_yaml  # noqa: E402

from hotconf.pipeline.evaluate import evaluate  # noqa: E402
from hotconf.pipeline.load import DEFAULT_LIMITS  # noqa: E402
from hotconf.sources import RawDocument  # noqa: E402


def median_s(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def shapes(nodes: int, max_bytes: int) -> list[tuple[str, bytes, str]]:
    keys = nodes // 2 - 1  # each key and its value are a node; the root is one
    flat = {f"k{i}": i for i in range(keys)}
    leaves = keys
    while True:  # the nested config with the most leaves under the node cap
        nested = make_config(leaves)
        if _count(nested) <= nodes:
            break
        leaves -= 500
    text = "a: " + "x" * (max_bytes - 16) + "\n"
    return [
        (f"flat, {keys} keys", "".join(f"k{i}: {i}\n" for i in range(keys)).encode(), "yaml"),
        (f"flat, {keys} keys", json.dumps(flat).encode(), "json"),
        (f"nested, {leaves} leaves", to_yaml(nested), "yaml"),
        (f"nested, {leaves} leaves", json.dumps(nested).encode(), "json"),
        (f"one string, {len(text) / 2**20:.2g} MiB", text.encode(), "yaml"),
    ]


def _count(data: Any) -> int:
    n, todo = 1, [data]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            n += 2 * len(node)
            todo.extend(node.values())
        elif isinstance(node, list):
            n += len(node)
            todo.extend(node)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 2,000 nodes, 64 KiB, one run"
    )
    args = parser.parse_args()
    limits = DEFAULT_LIMITS
    nodes, max_bytes = limits.max_nodes, limits.max_bytes
    if args.quick:
        nodes, max_bytes, args.runs = 2_000, 64 * 1024, 1
    print(f"defaults: max_nodes={limits.max_nodes}, max_bytes={limits.max_bytes}")
    print(f"{'shape':32} {'fmt':4} {'bytes':>9} {'floor':>8} {'evaluate':>9} {'ratio':>6}")
    previous = {"other": 1}
    for label, data, fmt in shapes(nodes, max_bytes):
        doc = (RawDocument("c", data, fmt),)
        ev = evaluate(doc, previous=previous)
        assert ev.verdict == "ok", (label, ev.problems[:1])
        if fmt == "json":
            floor = median_s(lambda data=data: json.loads(data), args.runs)
        else:
            floor = median_s(lambda data=data: yaml.load(data, Loader=yaml.CSafeLoader), args.runs)
        total = median_s(lambda doc=doc: evaluate(doc, previous=previous), args.runs)
        print(f"{label:32} {fmt:4} {len(data):9} {floor:7.3f}s {total:8.3f}s {total / floor:5.1f}x")


if __name__ == "__main__":
    main()
