"""Start-up: the CPU a ``hotconf`` command costs, and the memory a running ``hotconf serve`` holds.

1. CPU (user + sys, from ``os.wait4``) of short-lived child processes, medians of N runs,
   each against the floor a user would write with the same libraries, measured in the same
   run:

   - ``hotconf --version`` and ``hotconf --help`` against ``python -c "import click"``
     (goal: within 2x);
   - ``hotconf diff a.yaml b.yaml`` on two small configs, no schema, against
     ``python -c "import click, yaml"`` (goal: within 3x);
   - for information: ``import hotconf``, ``hotconf validate`` of the example with its
     schema, and a bare interpreter.

2. Memory: resident set (VmRSS from /proc/PID/status) of ``hotconf serve`` on the example
   service's config and schema, once it answers ``GET /readyz`` and has served
   ``GET /v1/config`` once, against a bare Starlette + uvicorn + PyYAML process that serves
   the same file on ``GET /v1/config`` with uvicorn's defaults (goal: within 2x). Both listen
   on free loopback ports and are stopped afterwards; medians of N starts.

The command runs the ``hotconf`` script installed next to this Python (``python -m hotconf``
when there is none), so point it at another installation by running it with that one's Python.

Run: python3 bench/bench_startup.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "service"

OLD = "db:\n  host: db.internal\n  pool_size: 10\nworker:\n  interval_seconds: 5\n"
NEW = "db:\n  host: db.internal\n  pool_size: 20\nworker:\n  interval_seconds: 5\n  batch: 9\n"

# The bare server: what a user would write to serve the same file with the same libraries.
BARE = """
import socket, sys
import uvicorn, yaml
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

path = sys.argv[1]

async def config(request):
    with open(path, "rb") as f:
        return JSONResponse(yaml.safe_load(f))

app = Starlette(routes=[Route("/v1/config", config), Route("/readyz", config)])
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(128)
print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False)).run(sockets=[sock])
"""


def hotconf_command() -> list[str]:
    """The installed ``hotconf`` script of this Python, else ``python -m hotconf``."""
    script = Path(sys.executable).parent / "hotconf"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hotconf"]


# -- CPU ------------------------------------------------------------------------------------


def cpu_seconds(argv: Sequence[str], cwd: Path) -> float:
    """user + sys CPU seconds of one run of ``argv`` (which must exit 0 or 1)."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{argv} exited {proc.returncode}: {err.decode()[-2000:]}")
    return usage.ru_utime + usage.ru_stime


def cpu_medians(cases: dict[str, list[str]], runs: int, cwd: Path) -> dict[str, float]:
    """Median CPU seconds of each case; the cases take turns, run by run."""
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for argv in cases.values():  # one warm-up each: the page cache, .pyc files
        cpu_seconds(argv, cwd)
    for _ in range(runs):
        for label, argv in cases.items():
            samples[label].append(cpu_seconds(argv, cwd))
    return {label: statistics.median(values) for label, values in samples.items()}


# -- memory ---------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """VmRSS of a running process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        response.read()
        status: int = response.status
        return status


def served_rss(argv: Sequence[str], cwd: Path) -> int:
    """Start a server, wait until it answers /readyz and /v1/config, read its RSS, stop it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            if line.startswith("listening on "):
                url = line.split()[-1]
                break
        if url is None:
            raise RuntimeError(f"{argv} did not start (exit {proc.wait()})")
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(url + "/readyz") == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
        if _get(url + "/v1/config") != 200:
            raise RuntimeError(f"{argv}: GET /v1/config failed")
        return rss_kib(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_medians(hotconf: list[str], runs: int, work: Path) -> dict[str, float]:
    config = work / "config.yaml"
    schema = work / "config.schema.json"
    cases = {
        "bare Starlette + uvicorn + PyYAML": [sys.executable, "-c", BARE, str(config)],
        "hotconf serve (example + schema)": [
            *hotconf,
            "serve",
            str(config),
            "--schema",
            str(schema),
            "--port",
            "0",
            "--state-dir",
            str(work / "state"),
        ],
    }
    samples: dict[str, list[int]] = {label: [] for label in cases}
    for _ in range(runs):
        for label, argv in cases.items():
            samples[label].append(served_rss(argv, work))
    return {label: statistics.median(values) / 1024 for label, values in samples.items()}


# -- report ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="CPU runs per case [15]")
    parser.add_argument("--rss-runs", type=int, default=3, help="server starts per case [3]")
    parser.add_argument("--quick", action="store_true", help="one run of each (a smoke test)")
    args = parser.parse_args(argv)
    runs, rss_runs = (1, 1) if args.quick else (args.runs, args.rss_runs)

    hotconf = hotconf_command()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="hotconf-bench-startup-") as tmp:
        work = Path(tmp)
        (work / "a.yaml").write_text(OLD)
        (work / "b.yaml").write_text(NEW)
        for name in ("config.yaml", "config.schema.json"):
            shutil.copy(EXAMPLE / name, work / name)
        cases = {
            "python -c pass": [py, "-c", "pass"],
            "python -c 'import click'": [py, "-c", "import click"],
            "python -c 'import click, yaml'": [py, "-c", "import click, yaml"],
            "python -c 'import hotconf'": [py, "-c", "import hotconf"],
            "hotconf --version": [*hotconf, "--version"],
            "hotconf --help": [*hotconf, "--help"],
            "hotconf diff a.yaml b.yaml": [*hotconf, "diff", "a.yaml", "b.yaml"],
            "hotconf validate config.yaml --schema …": [
                *hotconf,
                "validate",
                "config.yaml",
                "--schema",
                "config.schema.json",
            ],
        }
        cpu = cpu_medians(cases, runs, work)
        rss = rss_medians(hotconf, rss_runs, work)

    click, click_yaml = cpu["python -c 'import click'"], cpu["python -c 'import click, yaml'"]
    against = {
        "python -c 'import hotconf'": ("import click", click, None),
        "hotconf --version": ("import click", click, 2.0),
        "hotconf --help": ("import click", click, 2.0),
        "hotconf diff a.yaml b.yaml": ("import click, yaml", click_yaml, 3.0),
        "hotconf validate config.yaml --schema …": ("import click, yaml", click_yaml, None),
    }
    print(f"CPU (user+sys) of one process, median of {runs} runs; {py}")
    print(f"{'case':42} {'CPU ms':>8}  {'vs':20} {'ratio':>7}  goal")
    ok = True
    for label, seconds in cpu.items():
        line = f"{label:42} {seconds * 1000:8.1f}"
        if label in against:
            base_label, base, goal = against[label]
            ratio = seconds / base
            line += f"  {base_label:20} {ratio:6.2f}x"
            if goal is not None:
                met = ratio <= goal
                ok &= met
                line += f"  <= {goal:g}x {'ok' if met else 'MISSED'}"
        print(line)

    bare, served = rss.values()
    ratio = served / bare
    met = ratio <= 2.0
    ok &= met
    print(f"\nResident memory (VmRSS) once ready, median of {rss_runs} starts")
    print(f"{'server':42} {'RSS MiB':>8}  {'ratio':>7}  goal")
    print(f"{'bare Starlette + uvicorn + PyYAML':42} {bare:8.1f}")
    line = f"{'hotconf serve (example + schema)':42} {served:8.1f}  {ratio:6.2f}x"
    print(f"{line}  <= 2x {'ok' if met else 'MISSED'}")
    print(f"\nall goals met: {'yes' if ok else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
