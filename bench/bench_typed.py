"""Typed configs: the read path of ``live.current.db.pool_size``, and a reload with a model.

Read path: ns per read, net of loop overhead, of ``live.current.db.pool_size`` on a
``LiveConfig[AppConfig]`` next to the same read on a plain frozen pydantic model of the same
class: held in a variable (``app.db.pool_size``) and held on an object, as an application
holds its settings (``holder.app.db.pool_size``, a slot). Every variant runs in the same
process, interleaved round by round; each figure is the median over rounds, minus the median
of an empty loop; this runs in several processes (hash seeds) and reports medians over them.
Goal: ``live.current.db.pool_size`` <= 1.1x the model held on an object.

Reload: one ``live.reload()`` of a generated config (1k and 10k leaves, ~1% of the leaves
changed between two texts), validated by a pydantic model built for it (nested models,
tuples) against the same config validated by its JSON Schema (hotconf's schema path), and by
that schema with one more key, which the config leaves out and its default fills in (``+1
default``: the effective config and the config as written are each validated and hashed),
stage by stage from ``ReloadResult.timings`` (the collector run before each); medians per
stage, and of the totals.

Defaults: the defaults stage (`hotconf.pipeline.defaults.with_defaults`) on the same
configs, with a schema that gives every leaf a default (the worst case: every mapping is
visited) and one that gives one key per section a default, on a config that leaves nothing
out (the cost of looking), next to the hash stage's canonical JSON of the same data; medians.

Run: python3 bench/bench_typed.py [--seeds N] [--rounds N] [--number N] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
import timeit
from typing import Any

from _gen import make_config, to_yaml
from bench_pipeline import edited, schema_for
from pydantic import BaseModel, ConfigDict, Field, create_model

import hotconf
from hotconf.pipeline.defaults import with_defaults
from hotconf.pipeline.snapshot import canonical_json
from hotconf.testing import MemorySource

GOAL = 1.1


class DB(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = "localhost"
    port: int = 5432
    pool_size: int = Field(10, ge=1)
    timeout: float = 2.5


class AppConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = "api"
    debug: bool = False
    db: DB = DB()
    hosts: tuple[str, ...] = ()


class _Holder:
    __slots__ = ("app",)

    def __init__(self, app: AppConfig) -> None:
        self.app = app


VARIANTS = {
    "(empty loop)": "pass",
    "live.current.db.pool_size": "live.current.db.pool_size",
    "model held on an object": "holder.app.db.pool_size",
    "model in a variable": "app.db.pool_size",
    "ref: live.current['db']['pool_size'] (no model)": 'plain.current["db"]["pool_size"]',
    "ref: live.get('db.pool_size')": 'live.get("db.pool_size")',
}


def measure_reads(rounds: int, number: int) -> dict[str, float]:
    """ns per read of each variant, net of loop overhead, in this process."""
    data = {"name": "api", "db": {"host": "db.internal", "pool_size": 20}, "hosts": ["a", "b"]}
    live = hotconf.watch(MemorySource(data), model=AppConfig, state_dir=None)
    plain = hotconf.watch(MemorySource(data), state_dir=None)
    app = AppConfig.model_validate_json(json.dumps(data))
    assert live.current == app and live.current.db.pool_size == app.db.pool_size == 20
    ns: dict[str, Any] = {"live": live, "plain": plain, "app": app, "holder": _Holder(app)}
    timers = {name: timeit.Timer(stmt, globals=ns) for name, stmt in VARIANTS.items()}
    for t in timers.values():  # warm up
        t.timeit(number // 10)
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for r in range(rounds):
        order = list(timers.items())
        if r % 2:
            order.reverse()
        for name, t in order:
            samples[name].append(t.timeit(number) / number * 1e9)
    live.close()
    plain.close()
    overhead = statistics.median(samples.pop("(empty loop)"))
    return {"(empty loop)": overhead} | {
        name: statistics.median(s) - overhead for name, s in samples.items()
    }


def model_for(value: Any, name: str = "Config") -> Any:
    """A frozen pydantic type that accepts ``value`` (nested models, tuples of leaves)."""
    if isinstance(value, dict):
        fields: dict[str, Any] = {k: (model_for(v, f"{name}_{k}"), ...) for k, v in value.items()}
        return create_model(name, __config__=ConfigDict(frozen=True), **fields)
    if isinstance(value, list):
        return tuple[str | int | bool, ...]
    return type(value)


def measure_reload(leaves: int, runs: int) -> dict[str, dict[str, float]]:
    """Median stage timings (ms) of a reload validated by a model, and by a JSON Schema."""
    data_a = make_config(leaves)
    data_b = edited(data_a, random.Random(1))
    texts = (to_yaml(data_a), to_yaml(data_b))
    out: dict[str, dict[str, float]] = {}
    defaulted = schema_for(data_a)  # one key the config leaves out, filled in by its default
    defaulted["properties"]["left_out"] = {"type": "integer", "default": 5}
    contracts: dict[str, dict[str, Any]] = {
        "model": {"model": model_for(data_a)},
        "JSON Schema": {"schema": hotconf.Schema.from_dict(schema_for(data_a))},
        "+1 default": {"schema": hotconf.Schema.from_dict(defaulted)},
    }
    for label, contract in contracts.items():
        source = MemorySource(texts[0])
        samples: dict[str, list[float]] = {}
        with hotconf.watch(source, state_dir=None, **contract) as live:
            for i in range(runs):
                source._doc = source._document(texts[(i + 1) % 2], "yaml")  # no auto reload
                gc.collect()  # each reload starts from the same heap
                result = live.reload()
                assert result.status == "applied", result.problems
                for stage, seconds in result.timings.items():
                    samples.setdefault(stage, []).append(seconds * 1e3)
                total = sum(result.timings.values()) * 1e3
                samples.setdefault("total", []).append(total)
        out[label] = {stage: statistics.median(v) for stage, v in samples.items()}
    return out


def _with_defaults(node: dict[str, Any], value: Any, every: bool, depth: int = 0) -> None:
    # gives leaves of `schema_for(data)` their value as default: all, or one per section
    if node.get("type") == "object":
        node["required"] = []
        for i, (key, sub) in enumerate(node["properties"].items()):
            if every or depth != 1 or i == 0:
                _with_defaults(sub, value[key], every, depth + 1)
    elif node.get("type") != "array":
        node["default"] = value


def measure_defaults(leaves: int, runs: int) -> dict[str, tuple[float, float]]:
    """Median ms of the defaults walk and of canonical JSON, per schema."""
    data = make_config(leaves)
    out = {}
    for label, every in (("every leaf", True), ("one key per section", False)):
        doc = schema_for(data)
        _with_defaults(doc, data, every)
        schema = hotconf.Schema.from_dict(doc)
        walk, dump = [], []
        for _ in range(runs):
            start = time.perf_counter()
            with_defaults(data, [schema])  # nothing is missing: the cost of looking
            walk.append(time.perf_counter() - start)
            start = time.perf_counter()
            canonical_json(data)
            dump.append(time.perf_counter() - start)
        out[label] = (statistics.median(walk) * 1e3, statistics.median(dump) * 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=31, help="interleaved rounds (default 31)")
    ap.add_argument("--number", type=int, default=50_000, help="reads per timing (50000)")
    ap.add_argument("--seeds", type=int, default=5, help="processes, PYTHONHASHSEED=1..N (5)")
    ap.add_argument("--quick", action="store_true", help="a tiny run, to see that it works")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.number, args.seeds = 3, 2_000, 1
    if args.child:
        print(json.dumps(measure_reads(args.rounds, args.number)))
        return

    runs = []
    for seed in range(1, args.seeds + 1):
        child = [sys.executable, __file__, "--child", "--rounds", str(args.rounds)]
        out = subprocess.run(
            [*child, "--number", str(args.number)],
            env=os.environ | {"PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    print(
        f"read path: {args.seeds} processes x {args.rounds} interleaved rounds x {args.number} "
        f"reads; medians, net of {statistics.median(r['(empty loop)'] for r in runs):.1f} ns "
        f"loop overhead (Python {sys.version.split()[0]}, pydantic {_pydantic_version()})"
    )
    base = "model held on an object"
    print(f"{'variant':<48} {'ns/read':>8} {'(range)':>10} {'vs held model':>14} {'(range)':>11}")
    for name in VARIANTS:
        if name == "(empty loop)":
            continue
        values = [r[name] for r in runs]
        ratios = [r[name] / r[base] for r in runs]
        verdict = ""
        if name == "live.current.db.pool_size":
            ok = statistics.median(ratios) <= GOAL
            verdict = f"  goal <= {GOAL}x: {'ok' if ok else 'MISSED'}"
        print(
            f"{name:<48} {statistics.median(values):>8.1f} "
            f"{f'{min(values):.0f}-{max(values):.0f}':>10} {statistics.median(ratios):>13.2f}x "
            f"{f'{min(ratios):.2f}-{max(ratios):.2f}':>11}{verdict}"
        )

    print()
    stages = ("parse", "defaults", "hash", "freeze", "validate", "diff", "commit", "total")
    print(
        f"reload (ms, medians): {'leaves':>6} {'contract':<12} "
        + " ".join(f"{s:>8}" for s in stages)
    )
    for leaves, reloads in ((1_000, 3 if args.quick else 21), (10_000, 1 if args.quick else 7)):
        if args.quick and leaves > 1_000:
            break
        for label, timings in measure_reload(leaves, reloads).items():
            cells = " ".join(f"{timings.get(s, 0.0):>8.2f}" for s in stages)
            print(f"{'':<21} {leaves:>6} {label:<12} {cells}")

    print()
    print(
        f"defaults (ms, medians): {'leaves':>6} {'defaults in the schema':<22} "
        f"{'walk':>8} {'canonical JSON':>15} {'ratio':>7}"
    )
    for leaves in (1_000,) if args.quick else (1_000, 10_000):
        for label, (walk, dump) in measure_defaults(leaves, 3 if args.quick else 11).items():
            print(
                f"{'':<23} {leaves:>6} {label:<22} {walk:>8.2f} {dump:>15.2f} {walk / dump:>6.2f}x"
            )


def _pydantic_version() -> str:
    import pydantic

    return pydantic.VERSION


if __name__ == "__main__":
    main()
