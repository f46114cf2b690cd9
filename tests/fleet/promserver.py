"""A real Prometheus for the canary tests, scraping a test exporter every second.

`Exporter` is a tiny HTTP server on 127.0.0.1 whose ``/metrics`` shows the samples a test
sets. `PrometheusServer` runs Debian's ``prometheus`` binary (``apt-get install -y
prometheus``; tests skip without it) on a free loopback port, its storage in a temp dir,
scraping the exporter every second; it is killed when the test module ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import wait_for

PROMETHEUS = shutil.which("prometheus")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus is not installed (Debian: apt-get install -y prometheus)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Exporter:
    """``/metrics`` in the text format, showing ``samples``: ``{'name{labels}': value}``."""

    def __init__(self) -> None:
        self.samples: dict[str, float] = {}
        self.rates: dict[str, float] = {}  # counters that grow by this much a second
        self._started = time.monotonic()
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ran = time.monotonic() - exporter._started
                with exporter._lock:
                    lines = [
                        f"{k} {v + exporter.rates.get(k, 0.0) * ran!r}"
                        for k, v in exporter.samples.items()
                    ]
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def put(self, series: str, value: float) -> None:
        """Show ``series`` (``'name{label="v"}'``) with ``value`` from now on."""
        with self._lock:
            self.samples[series] = value
            self.rates.pop(series, None)

    def grow(self, series: str, per_second: float) -> None:
        """Show ``series`` as a counter growing by ``per_second``."""
        with self._lock:
            self.samples.setdefault(series, 0.0)
            self.rates[series] = per_second

    def drop(self, series: str) -> None:
        with self._lock:
            self.samples.pop(series, None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PrometheusServer:
    """Prometheus on 127.0.0.1 only, storage in ``root``, scraping ``exporter`` every second."""

    def __init__(self, root: Path, exporter: Exporter) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = root / "prometheus.yml"
        config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: app\n"
            "    scrape_interval: 1s\n"
            "    scrape_timeout: 900ms\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{exporter.port}']\n"
        )
        assert PROMETHEUS is not None
        self.log = root / "prometheus.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for(self.ready, timeout=60, what="prometheus to become ready")

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"prometheus exited: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def value(self, expr: str) -> float | None:
        """What an instant query gives now (``None``: no sample)."""
        body = httpx.post(f"{self.url}/api/v1/query", data={"query": expr}, timeout=5).json()
        result = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            return float(result[1])
        return float(result[0]["value"][1]) if result else None

    def shows(self, expr: str, value: float) -> None:
        """Wait until Prometheus has scraped ``value`` for ``expr``."""
        wait_for(lambda: self.value(expr) == value, timeout=30, what=f"{expr} == {value}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
