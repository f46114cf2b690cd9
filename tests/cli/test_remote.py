"""The client of a running server (``history --url``, ``rollback --url``): what it does when
the server refuses, answers something else than hotconf would, or cannot be reached, and which
requests go through the proxy variables."""

from __future__ import annotations

import functools
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.cli import main
from hotconf.service.app import Service

from ..conftest import config_text
from ..service.test_service import ADMIN, Running

Answer = tuple[int, str, bytes]  # status, content type, body

VERSIONS = {
    "current": 1,
    "versions": [
        {
            "version": 1,
            "checksum": "ab" * 32,
            "created_at": "2026-01-01T00:00:00+00:00",
            "source": "config.yaml",
            "status": "applied",
            "rolled_back_from": None,
            "restores": None,
        }
    ],
}


class Stub:
    """A plain HTTP server on 127.0.0.1 answering fixed ``answers`` by request target (the
    path, or the absolute URL a proxy is sent), and recording the targets it was asked for."""

    def __init__(self, answers: Mapping[str, Answer]) -> None:
        self.asked: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.asked.append(self.path)
                status, kind, body = answers.get(self.path, (404, "text/plain", b"not here"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if status in (307, 308):
                    self.send_header("Location", body.decode())
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-stub")

    def __enter__(self) -> Stub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _json(value: object) -> Answer:
    return 200, "application/json", json.dumps(value).encode()


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.fixture
def refusing_server(tmp_path: Path, schema_file: Path) -> Iterator[Running]:
    """A running server holding v1 (pool 1) and v2 (pool 2), whose program refuses a pool
    under 2: a rollback to v1 is refused."""
    config = tmp_path / "config.yaml"
    for pool in (1, 2):
        config.write_text(config_text(pool=pool))
        with hotconf.watch(config, schema_file, state_dir=tmp_path / ".hotconf"):
            pass

    def pool_of_two(data: Mapping[str, Any]) -> list[hotconf.Problem]:
        if data["db"]["pool_size"] < 2:
            return [hotconf.Problem("a pool of 1 cannot serve", "/db/pool_size", "check")]
        return []

    opener = functools.partial(
        hotconf.watch,
        config,
        schema_file,
        validators=[pool_of_two],
        state_dir=tmp_path / ".hotconf",
    )
    with Running(Service(opener, token=ADMIN)) as server:
        server.ready()
        yield server


def test_a_refused_rollback_exits_1_with_its_problems(
    refusing_server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "token"
    token.write_text(ADMIN)
    url = refusing_server.url
    assert main(["rollback", "--url", url, "--to", "1", "--token-file", str(token)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hotconf: 409 ")
    assert "  /db/pool_size: a pool of 1 cannot serve" in err.splitlines()
    assert refusing_server.service.live.version == 2  # nothing served


def test_a_loopback_server_is_asked_directly_whatever_the_proxy_variables(
    refusing_server: Running,
    no_proxy_variables: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as dead:  # bound, not listening: a proxy would refuse the connection
        dead.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
        for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
            no_proxy_variables.setenv(name, proxy)
        localhost = refusing_server.url.replace("127.0.0.1", "localhost")
        for url in (refusing_server.url, localhost):
            assert main(["history", "--url", url]) == 0
            assert capsys.readouterr().out.startswith("* v2")


def test_another_host_goes_through_the_proxy_variables(
    no_proxy_variables: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    far = "http://hotconf.invalid:8750"  # .invalid never resolves: only the proxy can answer
    with Stub({f"{far}/v1/versions?limit=20": _json(VERSIONS)}) as proxy:
        no_proxy_variables.setenv("http_proxy", proxy.url)
        no_proxy_variables.setenv("HTTP_PROXY", proxy.url)
        assert main(["history", "--url", far]) == 0
        assert capsys.readouterr().out.startswith("* v1 ")
        assert proxy.asked == [f"{far}/v1/versions?limit=20"]
        no_proxy_variables.setenv("no_proxy", "hotconf.invalid")
        no_proxy_variables.setenv("NO_PROXY", "hotconf.invalid")
        assert main(["history", "--url", far]) == 2  # asked directly: no such host
        assert f"cannot reach {far}: " in capsys.readouterr().err
        assert len(proxy.asked) == 1


def test_an_unreachable_server_exits_2_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{dead.getsockname()[1]}"
        assert main(["history", "--url", url]) == 2
        assert main(["rollback", "--url", url, "--to", "1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"hotconf: cannot reach {url}: [Errno 111] Connection refused"] * 2


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("127.0.0.1:8750", "--url must be an http:// or https:// URL, not '127.0.0.1:8750'"),
        ("ftp://127.0.0.1/", "--url must be an http:// or https:// URL"),
        ("http://", "names no host"),
        ("http://[::1/", "is not a valid URL"),
    ],
)
def test_a_url_that_is_not_one_exits_2(
    url: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--url", url]) == 2
    assert why in capsys.readouterr().err


def test_error_statuses_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    gateway = (502, "text/html", b"<html><body>upstream is down</body></html>")
    problem = {"title": "Unavailable", "detail": "the config is being read"}
    with Stub(
        {
            "/proxy/v1/versions?limit=20": gateway,
            "/starting/v1/versions?limit=20": (
                503,
                "application/problem+json",
                json.dumps(problem).encode(),
            ),
        }
    ) as stub:
        assert main(["history", "--url", f"{stub.url}/proxy"]) == 2
        assert capsys.readouterr().err == "hotconf: 502 Bad Gateway\n"
        assert main(["history", "--url", f"{stub.url}/starting/"]) == 2
        assert capsys.readouterr().err == "hotconf: 503 the config is being read\n"


def test_a_success_that_is_not_json_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with Stub({"/v1/versions?limit=20": (200, "text/html", b"<html>a web site</html>")}) as stub:
        assert main(["history", "--url", stub.url]) == 2
    assert "without a JSON object: is it a hotconf server?" in capsys.readouterr().err


def test_redirects_are_followed(capsys: pytest.CaptureFixture[str]) -> None:
    with Stub(
        {
            "/old/v1/versions?limit=20": (308, "text/plain", b"/new/v1/versions?limit=20"),
            "/new/v1/versions?limit=20": _json(VERSIONS),
        }
    ) as stub:
        assert main(["history", "--url", f"{stub.url}/old"]) == 0
        assert capsys.readouterr().out.startswith("* v1 ")
        assert stub.asked == ["/old/v1/versions?limit=20", "/new/v1/versions?limit=20"]
