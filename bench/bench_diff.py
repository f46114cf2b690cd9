"""Config diff: hotconf's change list and impact report vs DeepDiff and a bare recursive walk.

For 10k and 100k leaves (1k too; 100k with --big), B is A with 1% of the leaves changed
(same types). Measured side by side in one run, medians of N runs:

- a bare direct recursive walk (~30 lines, below): the floor;
- DeepDiff(A, B, threshold_to_diff_deeper=0) (exact paths, as perf-baseline.md notes);
- hotconf.pipeline.diff.changes(A, B): the change list the live pipeline computes;
- hotconf.pipeline.impact.assess(A, B, schema): changes classified with a schema (levels, reasons).

Every tool's set of changed paths is checked against the ground truth before timing.
Goal: hotconf at most 2x the direct walk.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from _gen import make_config
from deepdiff import DeepDiff

from hotconf.pipeline.diff import changes
from hotconf.pipeline.impact import assess
from hotconf.pipeline.schema import Schema


def walk(a: Any, b: Any, path: tuple[Any, ...], out: list[tuple[Any, ...]]) -> None:
    """The floor: a direct recursive walk reporting changed leaf paths."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k, v in a.items():
            if k in b:
                walk(v, b[k], (*path, k), out)
            else:
                out.append((*path, k))
        for k in b:
            if k not in a:
                out.append((*path, k))
    elif isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            walk(x, y, (*path, i), out)
        for i in range(min(len(a), len(b)), max(len(a), len(b))):
            out.append((*path, i))
    elif type(a) is not type(b) or a != b:
        out.append(path)


def mutate(data: Any, share: float, rng: random.Random) -> tuple[Any, set[tuple[Any, ...]]]:
    new = copy.deepcopy(data)
    leaves: list[tuple[Any, ...]] = []

    def collect(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                collect(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                collect(v, (*path, i))
        else:
            leaves.append(path)

    collect(new, ())
    picked = set(rng.sample(leaves, max(1, int(len(leaves) * share))))
    for path in picked:
        parent = new
        for seg in path[:-1]:
            parent = parent[seg]
        value = parent[path[-1]]
        if isinstance(value, bool):
            parent[path[-1]] = not value
        elif isinstance(value, int):
            parent[path[-1]] = value + 1
        else:
            parent[path[-1]] = value + "-x"
    return new, picked


def median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="add 100k leaves")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-deepdiff", action="store_true", help="skip DeepDiff (slow)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 200 leaves, one run")
    args = parser.parse_args()
    sizes = [1_000, 10_000, *([100_000] if args.big else [])]
    if args.quick:
        sizes, args.runs = [200], 1
    schema = Schema.coerce({"type": "object"})
    print(f"{'leaves':>7} {'walk':>9} {'DeepDiff':>10} {'hotconf':>9} {'assess':>9} "
          f"{'hotconf/walk':>13} {'assess/walk':>12} {'DeepDiff/walk':>14}")  # fmt: skip
    for leaves in sizes:
        old = make_config(leaves, seed=1)
        new, truth = mutate(old, 0.01, random.Random(leaves))
        floor: list[tuple[Any, ...]] = []
        walk(old, new, (), floor)
        assert set(floor) == truth
        assert {c.path for c in changes(old, new)} == truth
        report = assess(old, new, schema)
        assert {c.path for c in report.changes} == truth
        t_walk = median(lambda o=old, n=new: walk(o, n, (), []), args.runs)
        t_hot = median(lambda o=old, n=new: changes(o, n), args.runs)
        t_assess = median(lambda o=old, n=new: assess(o, n, schema), args.runs)
        t_dd = float("nan")
        if not args.no_deepdiff:
            found = DeepDiff(old, new, threshold_to_diff_deeper=0, view="tree")
            paths = {tuple(i.path(output_format="list")) for items in found.values() for i in items}
            assert paths == truth
            runs = max(1, args.runs // 2) if leaves >= 100_000 else args.runs
            t_dd = median(lambda o=old, n=new: DeepDiff(o, n, threshold_to_diff_deeper=0), runs)
        print(
            f"{leaves:>7} {t_walk * 1e3:>7.1f}ms {t_dd * 1e3:>8.1f}ms {t_hot * 1e3:>7.1f}ms "
            f"{t_assess * 1e3:>7.1f}ms {t_hot / t_walk:>12.2f}x {t_assess / t_walk:>11.2f}x "
            f"{t_dd / t_walk:>13.1f}x"
        )


if __name__ == "__main__":
    main()
