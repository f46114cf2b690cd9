"""The reload pipeline stage by stage, side by side with the floors of the same work.

For each size, two YAML configs from `_gen` (B is A with about 1% of its leaves changed, same
types, so both pass the schema and each run applies) alternate on a `MemorySource`, and
``live.reload()`` runs the pipeline; `ReloadResult.timings` gives seconds per stage. In the
same iteration, on the same text and data, the floors run: PyYAML ``CSafeLoader``, jsonschema
``Draft202012Validator`` (with its FormatChecker, as hotconf uses), and sha256 of
``json.dumps(sort_keys=True)``. The schema is derived from the data: every mapping lists its
properties (all required, no others), every leaf has a type and a bound, every list an item
type, so jsonschema does real work on every leaf. Goal at 10k leaves: hotconf total < 3x
(parse + validate + hash floors).

Then the no-op path: ``live._run("watch")`` on bytes already seen (it returns before parsing)
vs sha256 of the raw bytes, in memory and from a real file.

Run: python3 bench/bench_pipeline.py [--big] [--repeats N] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from _gen import BIG, make_config, schema_for, to_yaml

import hotconf
from hotconf.testing import MemorySource

STAGES = ("read", "parse", "hash", "freeze", "validate", "diff", "commit")
GOAL_10K = 3.0


def edited(value: Any, rng: random.Random, share: float = 0.01) -> Any:
    """A copy of ``value`` with about ``share`` of its leaves changed (types kept)."""
    if isinstance(value, dict):
        return {k: edited(v, rng, share) for k, v in value.items()}
    if isinstance(value, list):
        return [edited(v, rng, share) for v in value]
    if rng.random() >= share:
        return value
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return value + "x"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f}"


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_size(leaves: int, repeats: int) -> dict[str, float]:
    data_a = make_config(leaves, seed=0)
    data_b = edited(data_a, random.Random(1))
    texts = [to_yaml(data_a), to_yaml(data_b)]
    schema_doc = schema_for(data_a)
    schema = hotconf.Schema.from_dict(schema_doc)
    validator = jsonschema.Draft202012Validator(
        schema_doc, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    # Reference floors (not in the floor sum): the optional Rust libraries hotconf's fast
    # paths use when installed (`hotconf[fast]`), on the same text and data.
    refs: dict[str, Callable[[str, Any], object]] = {}
    if find_spec("yaml_rs") is not None:
        import yaml_rs

        refs["yaml_rs.loads"] = lambda text, _: yaml_rs.loads(text.decode(), parse_datetime=False)
    if find_spec("jsonschema_rs") is not None:
        import jsonschema_rs

        rs_is_valid = jsonschema_rs.Draft202012Validator(schema_doc).is_valid
        refs["jsonschema_rs is_valid"] = lambda _, data: rs_is_valid(data)

    source = MemorySource(texts[0], format="yaml")
    live = hotconf.watch(source, schema=schema, state_dir=None, limits=BIG)
    source.stop()  # `set` below only swaps the bytes; `live.reload()` runs the pipeline

    stages: dict[str, list[float]] = {}
    floors: dict[str, list[float]] = {"parse": [], "validate": [], "hash": []}
    ref_times: dict[str, list[float]] = {name: [] for name in refs}
    for i in range(repeats + 1):  # the first iteration warms up and is dropped
        text = texts[(i + 1) % 2]
        source.set(text, format="yaml")
        gc.collect()
        start = time.perf_counter()
        result = live.reload()
        total = time.perf_counter() - start
        assert result.status == "applied", (result.status, result.problems[:3])

        start = time.perf_counter()
        parsed = yaml.load(text, Loader=yaml.CSafeLoader)  # CSafeLoader is safe
        t_parse = time.perf_counter() - start
        start = time.perf_counter()
        validator.validate(parsed)
        t_validate = time.perf_counter() - start
        start = time.perf_counter()
        hashlib.sha256(json.dumps(parsed, sort_keys=True).encode()).hexdigest()
        t_hash = time.perf_counter() - start
        for name, fn in refs.items():
            start = time.perf_counter()
            fn(text, parsed)
            ref_times[name].append(time.perf_counter() - start)
        if i == 0:
            continue
        for stage, seconds in result.timings.items():
            stages.setdefault(stage, []).append(seconds)
        stages.setdefault("total (wall)", []).append(total)
        floors["parse"].append(t_parse)
        floors["validate"].append(t_validate)
        floors["hash"].append(t_hash)

    # The no-op path: the bytes last applied, seen again by the watcher.
    raw = texts[repeats % 2]
    assert live._run("watch").status == "noop"
    noop = median_time(lambda: live._run("watch"), 201)
    sha_raw = median_time(lambda: hashlib.sha256(raw).hexdigest(), 201)
    live.close()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_bytes(raw)
        file_live = hotconf.watch(
            path, schema=schema, state_dir=None, poll_interval=None, limits=BIG
        )

        def read_and_hash() -> None:
            with open(path, "rb") as f:
                hashlib.sha256(f.read()).hexdigest()

        assert file_live._run("watch").status == "noop"
        file_noop = median_time(lambda: file_live._run("watch"), 201)
        file_sha = median_time(read_and_hash, 201)
        file_live.close()

    med = {k: statistics.median(v) for k, v in stages.items()}
    fmed = {k: statistics.median(v) for k, v in floors.items()}
    floor_sum = sum(fmed.values())
    kib = len(texts[0]) / 1024
    print(f"\n{leaves} leaves ({kib:.0f} KiB YAML), medians of {repeats} alternating reloads")
    print(f"  {'hotconf stage':<16} {'ms':>9}    {'floor, same run':<34} {'ms':>9}")
    floor_names = {
        "parse": "yaml.load CSafeLoader",
        "validate": "jsonschema Draft202012 validate",
        "hash": "sha256(json.dumps(sort_keys))",
    }
    for stage in [*STAGES, *(k for k in med if k not in STAGES and k != "total (wall)")]:
        if stage not in med:
            continue
        right = ""
        if stage in fmed:
            right = f"{floor_names[stage]:<34} {ms(fmed[stage])}  ({med[stage] / fmed[stage]:.2f}x)"
        print(f"  {stage:<16} {ms(med[stage])}    {right}")
    staged = sum(med[s] for s in med if s != "total (wall)")
    print(f"  {'sum of stages':<16} {ms(staged)}")
    ratio = med["total (wall)"] / floor_sum
    verdict = ""
    if leaves == 10_000:
        verdict = f"  goal < {GOAL_10K}x: " + ("ok" if ratio < GOAL_10K else "MISSED")
    print(
        f"  {'total (wall)':<16} {ms(med['total (wall)'])}    {'floor sum':<34} {ms(floor_sum)}"
        f"  ratio {ratio:.2f}x{verdict}"
    )
    for name, times in ref_times.items():
        print(f"  {'':<16} {'':>9}    {'ref: ' + name:<34} {ms(statistics.median(times[1:]))}")
    print(
        f"  no-op (same bytes), memory:  live._run('watch') {ms(noop)} ms"
        f"   sha256(raw bytes) {ms(sha_raw)} ms"
    )
    print(
        f"  no-op (same bytes), file:    live._run('watch') {ms(file_noop)} ms"
        f"   open+read+sha256   {ms(file_sha)} ms"
    )
    return {"ratio": ratio}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", action="store_true", help="also 100k leaves (slow: minutes)")
    ap.add_argument("--repeats", type=int, default=0, help="reloads per size (default: by size)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 200 leaves, one reload")
    args = ap.parse_args()
    fast = os.environ.get("HOTCONF_FAST", "1") != "0"
    on = {
        lib: "on" if fast and find_spec(lib) is not None else "off"
        for lib in ("yaml_rs", "jsonschema_rs")
    }
    print(
        f"pipeline: Python {sys.version.split()[0]}, PyYAML {yaml.__version__}, jsonschema "
        f"{version('jsonschema')}; hotconf fast paths (HOTCONF_FAST): yaml-rs parse "
        f"{on['yaml_rs']}, jsonschema-rs pre-check {on['jsonschema_rs']}"
    )
    sizes = {1_000: 21, 10_000: 7}
    if args.big:
        sizes[100_000] = 3
    if args.quick:
        sizes = {200: 1}
    for leaves, repeats in sizes.items():
        bench_size(leaves, args.repeats or repeats)


if __name__ == "__main__":
    main()
