from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

WAIT = 15.0  # generous: CI machines are shared and noisy


def wait_for(condition: Callable[[], object], timeout: float = WAIT, what: str = "") -> None:
    """Poll ``condition`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.005)


def _ours(t: threading.Thread) -> bool:
    return t.name.startswith("hotconf") or type(t).__module__.startswith("watchdog")


@pytest.fixture(autouse=True)
def _no_thread_leaks() -> Iterator[None]:
    """Fail a test that leaves hotconf or watchdog threads running after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and _ours(t) and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


SCHEMA = {
    "type": "object",
    "required": ["db"],
    "properties": {
        "db": {
            "type": "object",
            "required": ["host", "pool_size"],
            "properties": {
                "host": {"type": "string"},
                "pool_size": {"type": "integer", "minimum": 1},
                "password": {"type": "string", "minLength": 8},
            },
        },
        "features": {"type": "object", "additionalProperties": {"type": "boolean"}},
    },
}


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    import json

    path = tmp_path / "config.schema.json"
    path.write_text(json.dumps(SCHEMA))
    return path


def config_text(pool: int = 5, host: str = "db.local", extra: str = "") -> str:
    return f"db:\n  host: {host}\n  pool_size: {pool}\n{extra}"


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[Any]:
    """A real etcd on free loopback ports, data in tmp_path (`EtcdServer` of
    tests/fleet/test_etcd.py)."""
    from .fleet.test_etcd import EtcdServer

    server = EtcdServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
