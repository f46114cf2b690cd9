"""Every script in bench/ runs at a tiny size (``--quick``) and prints its figure lines, so a
benchmark cannot rot unnoticed. Nothing here asserts a speed: the figures are bench/'s job."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
TESTS = Path(__file__).resolve().parent
NUMBER = r"-?\d+(?:\.\d+)?"
RATIO = rf"{NUMBER}x"

# script -> the lines its figures are printed on (each pattern must match a line)
FIGURES: dict[str, list[str]] = {
    "bench_coldstart.py": [
        rf"^\s*300\s+{NUMBER}\s+{NUMBER}\s+naive\s+{NUMBER}\s+{RATIO}",
        rf"^\s*300\s+.*\bhotconf\s+{NUMBER}\s+{RATIO}\s+.*goal <= 1.0x naive: (ok|MISSED)$",
        rf"^\s*300\s+.*hotconf, HOTCONF_FAST=0\s+{NUMBER}\s+{RATIO}",
        rf"^\s*300\s+.*hotconf, restart\s+{NUMBER}\s+{RATIO}",
    ],
    "bench_diff.py": [rf"^\s*200\s+{NUMBER}ms\s+{NUMBER}ms\s+{NUMBER}ms\s+{NUMBER}ms\s+{RATIO}"],
    "bench_fleet.py": [rf"^\| 2 \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \|"],
    "bench_history.py": [
        rf"^\| whole rows \(before\) \| {NUMBER} MB \| {NUMBER} MB \| {RATIO} \|  \|$",
        rf"^\| hotconf \| {NUMBER} MB \| {NUMBER} MB \| {RATIO} \| <= 3x (met|MISSED) \|$",
        rf"^\| 1000 \| v11 \(last-known-good\) \| {NUMBER} ms \| {NUMBER} ms \| {RATIO} \|$",
        rf"^\| 1000 \| v\d+ \(worst: \d+ deltas\) \| {NUMBER} ms \| {NUMBER} ms \| {RATIO} \|$",
        rf"^\| 1000 \| {NUMBER} ms \| {NUMBER} ms \| {RATIO} \|$",
    ],
    "bench_latency.py": [
        rf"^{mode}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+[-+]{NUMBER}\s+(ok|MISSED)"
        for mode in ("inplace", "atomic", "k8s", r"inplace \+busy")
    ],
    "bench_limits.py": [
        rf"^flat, 999 keys\s+{fmt}\s+\d+\s+{NUMBER}s\s+{NUMBER}s\s+{RATIO}$"
        for fmt in ("yaml", "json")
    ],
    "bench_load.py": [
        rf"^\s*100\s+.*CSafeLoader\) \[floor\]\s+{NUMBER}\s+{RATIO}$",
        rf"^\s*100\s+.*hotconf parse yaml, reference\s+{NUMBER}\s+{RATIO}$",
        rf"^\s*100\s+.*hotconf parse json\s+{NUMBER}\s+{RATIO}$",
    ],
    "bench_pins.py": [
        rf"^dict chain\s+{NUMBER}\s+{RATIO}$",
        rf"^live.pinned, inside a pin\s+{NUMBER}\s+{RATIO}$",
        rf"^pin\s+{NUMBER}\s+{RATIO}\s+[-+]{NUMBER}$",
    ],
    "bench_pipeline.py": [
        rf"^\s+parse\s+{NUMBER}\s+yaml.load CSafeLoader\s+{NUMBER}\s+\({RATIO}\)",
        rf"^\s+total \(wall\)\s+{NUMBER}\s+floor sum\s+{NUMBER}\s+ratio {RATIO}",
        rf"no-op \(same bytes\), file:\s+live._run\('watch'\)\s+{NUMBER} ms",
    ],
    "bench_read.py": [
        rf"^dict chain\s+{NUMBER}\s+\S+\s+{RATIO}",
        rf"^live.current chain\s+{NUMBER}\s+\S+\s+{RATIO}",
        rf"^live.get\('a.b.c'\)\s+{NUMBER}\s+\S+\s+{RATIO}",
    ],
    "bench_reload.py": [
        rf"^\s+real change\s+{NUMBER} ms\s+=\s+{RATIO} the floor sum",
        rf"^\s+comment-only\s+{NUMBER} ms\s+=\s+{RATIO} a real change",
        rf"^\s+disk\s+3 busy threads: reload\(\) median\s+{NUMBER} ms",
    ],
    "bench_service.py": [
        rf"^\s+ratio\s+{RATIO} \(median of rounds",
        rf"^\s+hotconf /v1/config/db.pool_size\s+{NUMBER} req/s",
        rf"^\s+hotconf /\s+{NUMBER} req/s",  # the console page
        rf"^\s+/console/versions\s+{NUMBER} \(median; min {NUMBER}\)",
        rf"^\s+min {NUMBER}\s+p50 {NUMBER}\s+p90 {NUMBER}\s+p99 {NUMBER}\s+max {NUMBER}",
        rf"^\s+last released {NUMBER} ms after the change",
    ],
    "bench_store.py": [
        rf"^\| {where} \| {NUMBER} ms \| {NUMBER} ms \| {RATIO} \| <= {NUMBER}x (met|MISSED) \|$"
        for where in ("memory", "disk")
    ],
    "bench_typed.py": [
        rf"^live.current.db.pool_size\s+{NUMBER}\s+\S+\s+{RATIO}\s+\S+\s+goal <= 1.1x: "
        "(ok|MISSED)$",
        rf"^model held on an object\s+{NUMBER}\s+\S+\s+{RATIO}",
        rf"^\s+1000 model(\s+{NUMBER}){{8}}$",
        rf"^\s+1000 JSON Schema(\s+{NUMBER}){{8}}$",
        rf"^\s+1000 \+1 default(\s+{NUMBER}){{8}}$",
        rf"^\s+1000 every leaf\s+{NUMBER}\s+{NUMBER}\s+{RATIO}$",
    ],
    "bench_webhooks.py": [
        rf"^\| no webhooks \| {NUMBER} ms \|",
        rf"^\| 3 answering \| {NUMBER} ms \| {NUMBER} ms \| {NUMBER} ms \|$",
        rf"^silent / answering fan-out: {RATIO}",
    ],
}
NEEDS = {
    "bench_reload.py": (
        all(find_spec(m) is not None for m in ("yaml_rs", "jsonschema_rs", "orjson")),
        "its floors need the fast extra (yaml-rs, jsonschema-rs, orjson)",
    ),
    "bench_fleet.py": (shutil.which("etcd") is not None, "needs the etcd binary"),
    "bench_service.py": (
        find_spec("starlette") is not None and find_spec("uvicorn") is not None,
        "needs the serve extra",
    ),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("script", sorted(FIGURES))
def test_bench_script_runs_at_a_tiny_size(script: str) -> None:
    available, why = NEEDS.get(script, (True, ""))
    if not available:
        pytest.skip(why)
    out = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    for pattern in FIGURES[script]:
        assert re.search(pattern, out.stdout, re.MULTILINE), (pattern, out.stdout)


def test_every_bench_script_has_a_smoke_test() -> None:
    scripts = {path.name for path in BENCH.glob("bench_*.py")}
    others = "".join(
        path.read_text() for path in TESTS.glob("test_*.py") if path.name != "test_bench.py"
    )
    missing = {name for name in scripts - FIGURES.keys() if name not in others}
    assert not missing, f"bench scripts without a smoke test: {sorted(missing)}"
    assert FIGURES.keys() <= scripts, "a smoke test for a script that is gone"
