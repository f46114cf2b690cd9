"""Cold start with a schema: ``hotconf.watch()`` next to what an application spends without it.

For generated configs (`_gen.make_config`, 10k and 100k leaves) and the schema
`_gen.schema_for` derives from them (every mapping's properties listed and required, a type
and a bound on every leaf), written as ``config.yaml`` and ``schema.json`` to a temporary
directory. Every measured run is a fresh process that first imports what it needs (not timed:
imports are what bench_startup.py measures), then times one cold start:

- ``naive``: ``json.load`` the schema, ``yaml.load(..., CSafeLoader)`` the config, then
  ``jsonschema.Draft202012Validator(schema).validate(data)``: the baseline of the goal;
- ``floor``: ``json.load``, ``yaml_rs.loads`` and
  ``jsonschema_rs.validator_for(schema).validate(data)``: the fastest known (the libraries
  of ``hotconf[fast]``; left out when they are not installed);
- ``hotconf``: ``hotconf.watch("config.yaml", schema="schema.json", state_dir=<new dir>)``
  until it returns, that is until the first version is committed to a new SQLite state dir;
- ``hotconf, HOTCONF_FAST=0``: the same without the fast paths;
- ``hotconf, restart``: the same on the state dir an earlier start left (the last-known-good
  is checked against the schema before the source is read: docs/architecture.md, invariant 7).

Runs of the variants are interleaved; medians, and ratios to ``naive`` and to ``floor``.
Goal: ``hotconf`` (fast extra installed) within 1.0x ``naive`` at 10k and at 100k leaves.
``--quick`` (the smoke test) runs every variant once at 300 leaves, all in one process.

Usage: python3 bench/bench_coldstart.py [--sizes 10000,100000] [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

from _gen import make_config, schema_for, to_yaml

GOAL = 1.0
BUDGET_S = 90.0  # stop repeating a variant once its runs at one size took this long
# label -> (what the child runs, HOTCONF_FAST)
VARIANTS = {
    "naive": ("naive", True),
    "floor": ("floor", True),
    "hotconf": ("hotconf", True),
    "hotconf, HOTCONF_FAST=0": ("hotconf", False),
    "hotconf, restart": ("restart", True),
}


def cold_start(variant: str, config: Path, schema_path: Path, state: Path) -> float:
    """One cold start; returns its wall time in seconds."""
    if variant == "naive":
        import jsonschema
        import yaml

        start = time.perf_counter()
        schema = json.loads(schema_path.read_bytes())
        data = yaml.load(config.read_bytes(), Loader=yaml.CSafeLoader)  # CSafeLoader is safe
        jsonschema.Draft202012Validator(schema).validate(data)
        return time.perf_counter() - start
    if variant == "floor":
        import jsonschema_rs
        import yaml_rs

        start = time.perf_counter()
        schema = json.loads(schema_path.read_bytes())
        data = yaml_rs.loads(config.read_text(encoding="utf-8"), parse_datetime=False)
        jsonschema_rs.validator_for(schema).validate(data)
        return time.perf_counter() - start
    import hotconf

    start = time.perf_counter()
    live = hotconf.watch(config, schema=schema_path, state_dir=state, poll_interval=None)
    seconds = time.perf_counter() - start
    try:
        assert live.version >= 1 and live.current, "hotconf served no config"
    finally:
        live.close()
    return seconds


def child(config: str, schema_path: str, jobs: list[str]) -> None:
    """Run ``VARIANT:FAST:STATE`` jobs in this process, printing ``seconds=`` for each."""
    listed = Path(config).parent / "modules.txt"
    if listed.exists() and any(job.startswith(("hotconf:", "restart:")) for job in jobs):
        # Import what a first start imported (listed by the setup run), so that only the
        # start itself is timed, however lazily hotconf imports.
        for name in listed.read_text().split():
            with contextlib.suppress(Exception):  # a module that imports only within another
                importlib.import_module(name)
    for job in jobs:
        variant, fast, state = job.split(":", 2)
        os.environ["HOTCONF_FAST"] = fast
        seconds = cold_start(variant, Path(config), Path(schema_path), Path(state))
        print(f"seconds={seconds!r}", flush=True)
    if not listed.exists():
        modules = sorted(name for name in sys.modules if name not in ("__main__", "_gen"))
        listed.write_text("\n".join(modules))


def measure(files: dict[str, Path], labels: list[str]) -> list[float]:
    """Run the variants named by ``labels`` in one new process; seconds for each."""
    jobs, fresh = [], []
    for label in labels:
        variant, fast = VARIANTS.get(label, (label, True))
        if variant in ("restart", "setup"):
            state = files["state"]
        else:
            state = Path(tempfile.mkdtemp(dir=files["dir"]))
            fresh.append(state)
        jobs.append(f"{variant}:{int(fast)}:{state}")
    argv = [sys.executable, __file__, "--child", str(files["config"]), str(files["schema"])]
    try:
        out = subprocess.run([*argv, *jobs], capture_output=True, text=True, check=False)
    finally:
        for state in fresh:
            shutil.rmtree(state, ignore_errors=True)
    if out.returncode != 0:
        raise SystemExit(f"{', '.join(labels)} failed:\n{out.stderr}")
    return [float(line.split("=")[1]) for line in out.stdout.split() if "seconds=" in line]


def bench(leaves: int, runs: int, labels: list[str], quick: bool) -> None:
    """Print a row per variant for one size."""
    with tempfile.TemporaryDirectory() as tmp:
        data = make_config(leaves)
        files = {
            "dir": Path(tmp),
            "config": Path(tmp) / "config.yaml",
            "schema": Path(tmp) / "schema.json",
            "state": Path(tmp) / "state",
        }
        files["config"].write_bytes(to_yaml(data))
        files["schema"].write_text(json.dumps(schema_for(data)), encoding="utf-8")
        kib = files["config"].stat().st_size / 1024, files["schema"].stat().st_size / 1024
        files["state"].mkdir()
        times: dict[str, list[float]] = {label: [] for label in labels}
        if quick:  # one process for all: fast, but only the first start in it is cold
            for label, seconds in zip(labels, measure(files, ["setup", *labels])[1:], strict=True):
                times[label].append(seconds)
        else:
            # Not timed: a first start that lists the modules it imported and leaves the
            # last-known-good the restarts find (it also brings the files into the page cache).
            measure(files, ["setup"])
            spent = dict.fromkeys(labels, 0.0)
            for _ in range(runs):
                for label in labels:
                    if spent[label] <= BUDGET_S:
                        (seconds,) = measure(files, [label])
                        times[label].append(seconds)
                        spent[label] += seconds
    med = {label: statistics.median(t) for label, t in times.items()}
    for label, seconds in med.items():
        vs_floor = f"{seconds / med['floor']:>8.2f}x" if "floor" in med else f"{'-':>9}"
        verdict = ""
        if label == "hotconf":
            met = seconds <= GOAL * med["naive"]
            verdict = f"  goal <= {GOAL}x naive: " + ("ok" if met else "MISSED")
        print(
            f"{leaves:>7} {kib[0]:>8.0f} {kib[1]:>10.0f}  {label:<24} {seconds * 1e3:>10.1f}"
            f" {seconds / med['naive']:>8.2f}x {vs_floor} {len(times[label]):>5}{verdict}",
            flush=True,
        )


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --child, the measured cold starts); returns the exit code."""
    ap = argparse.ArgumentParser(description="hotconf.watch() cold start with a schema")
    ap.add_argument("--sizes", default="10000,100000", help="leaf counts (default 10000,100000)")
    ap.add_argument("--runs", type=int, default=5, help="runs per variant and size (default 5)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 300 leaves, one process")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.child[2:])
        return 0
    sizes = [300] if args.quick else [int(n) for n in args.sizes.split(",")]
    labels = list(VARIANTS)
    if find_spec("yaml_rs") is None or find_spec("jsonschema_rs") is None:
        labels.remove("floor")
    print(
        f"cold start: Python {sys.version.split()[0]}, PyYAML {_version('PyYAML')}, jsonschema "
        f"{_version('jsonschema')}, yaml-rs {_version('yaml-rs')}, jsonschema-rs "
        f"{_version('jsonschema-rs')}; "
        + ("one process (--quick)" if args.quick else "a fresh process per run, imports not timed")
    )
    print(
        f"{'leaves':>7} {'YAML KiB':>8} {'schema KiB':>10}  {'variant':<24} {'median ms':>10}"
        f" {'vs naive':>9} {'vs floor':>9} {'runs':>5}"
    )
    for leaves in sizes:
        bench(leaves, args.runs, labels, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
