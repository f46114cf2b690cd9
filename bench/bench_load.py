"""How fast hotconf.pipeline.load parses, next to the floors it is measured against.

Usage: python bench/bench_load.py [--big] [--runs N] [--quick]

For generated configs of 1k and 10k leaves (and 100k with --big) it prints the median time of
each stage and its ratio to the floor measured in the same run: PyYAML's `CSafeLoader` for
YAML (the goal for hotconf's reference path is at most ~1.3x of it), `json.loads` for JSON.
The machine is noisy: compare ratios within one run, not absolute times across runs.
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

from _gen import BIG, make_config, to_json, to_yaml  # noqa: E402

from hotconf.pipeline.load import parse  # noqa: E402

hotconf_load = sys.modules["hotconf.pipeline.load"]
FAST = hotconf_load._fast is not None  # yaml-rs (the `fast` extra) is installed


def median_ms(fn: Callable[[], Any], runs: int, budget_s: float = 10.0) -> float:
    """Median wall time of up to `runs` calls, fewer if they would take over `budget_s`."""
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < runs and (not times or time.perf_counter() < deadline):
        gc.collect()  # start each run from the same heap: earlier stages' garbage is not its cost
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def reference(data: bytes) -> Any:
    os.environ["HOTCONF_FAST"] = "0"
    try:
        return parse(data, "yaml", limits=BIG)
    finally:
        del os.environ["HOTCONF_FAST"]


def bench(leaves: int, runs: int) -> None:
    """Print one row per stage for a config of `leaves` leaves."""
    config = make_config(leaves)
    ydata, jdata = to_yaml(config), to_json(config)
    assert reference(ydata) == config == parse(jdata, "json", limits=BIG)
    stages: list[tuple[str, bytes, Callable[[], Any]]] = [
        (
            "yaml.load(CSafeLoader) [floor]",
            ydata,
            lambda: yaml.load(ydata, Loader=yaml.CSafeLoader),
        ),
        ("yaml.safe_load (pure Python)", ydata, lambda: yaml.safe_load(ydata)),
        ("hotconf parse yaml, reference", ydata, lambda: reference(ydata)),
    ]
    if FAST:
        taken = hotconf_load._fast(ydata.decode(), hotconf_load.DEFAULT_LIMITS)
        assert taken == config, "the fast path should take generated configs"
        stages.append(
            ("hotconf parse yaml, fast path", ydata, lambda: parse(ydata, "yaml", limits=BIG))
        )
    stages += [
        ("json.loads [floor]", jdata, lambda: json.loads(jdata)),
        ("hotconf parse json", jdata, lambda: parse(jdata, "json", limits=BIG)),
    ]
    floor = 0.0
    for label, data, fn in stages:
        ms = median_ms(fn, runs)
        floor = ms if "[floor]" in label else floor
        size = f"{len(data) / 1024:.0f} KiB"
        print(f"{leaves:>7} {size:>9}  {label:<34} {ms:>10.2f} {ms / floor:>6.2f}x", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    args = argparse.ArgumentParser(description="hotconf.pipeline.load against PyYAML and json")
    args.add_argument("--big", action="store_true", help="also run 100k leaves")
    args.add_argument("--runs", type=int, default=9, help="runs per stage (default 9)")
    args.add_argument("--quick", action="store_true", help="smoke test: 100 leaves, one run")
    opts = args.parse_args(argv)
    os.environ.pop("HOTCONF_FAST", None)
    print(f"python {sys.version.split()[0]}, libyaml {yaml.__with_libyaml__}, fast path {FAST}")
    print(f"{'leaves':>7} {'size':>9}  {'stage':<34} {'median ms':>10} {'ratio':>7}")
    sizes = (100,) if opts.quick else (1_000, 10_000, *((100_000,) if opts.big else ()))
    for leaves in sizes:
        bench(leaves, 1 if opts.quick else opts.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
