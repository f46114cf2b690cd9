"""The web console as a client without JavaScript sees it: plain HTTP GETs of its pages on a
real server. What a browser does with the pages is in test_console_browser.py."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import hotconf
from hotconf import LiveConfig
from hotconf.service.app import Service
from hotconf.service.console import CSP
from hotconf.service.openapi import document

from ..conftest import WAIT, config_text, wait_for
from .test_openapi import API
from .test_service import ADMIN, OTHER, READER, SECRET, Running, write

PAGES = (
    "/",
    "/console/versions",
    "/console/diff",
    "/console/diff?from=1&to=2",
    "/console/rollback?to=1",
    "/console/rejections",
    "/console/webhooks",
    "/console/rollouts",
    "/docs",
)

INLINE = (
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),  # a script without src
    re.compile(r"<style", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),  # onclick=...
    re.compile(r"javascript:", re.I),
)


@pytest.fixture
def served(tmp_path: Path, schema_file: Path) -> Iterator[tuple[Running, Path]]:
    """A server with tokens over a real config file, at v2 after one edit, and one rejection."""
    config = tmp_path / "config.yaml"
    config.write_text(config_text(extra=f"  password: {SECRET}\n"))
    opener = functools.partial(hotconf.watch, config, schema_file, state_dir=tmp_path / "state")
    with Running(Service(opener, token=ADMIN, read_token=READER)) as server:
        live = server.ready()
        write(config, 7, secret=OTHER)
        wait_for(lambda: live.version == 2, what="v2")
        config.write_text(config_text(pool=0, extra=f"  password: {SECRET}\n"))
        wait_for(lambda: live.degraded, what="the rejection")
        yield server, config


def client(server: Running, token: str | None = None) -> httpx.Client:
    """A client whose responses the API document must describe, but for the console's own
    pages under /console/ (the document describes ``/``, ``/docs`` and the API)."""

    def check(response: httpx.Response) -> None:
        if not response.request.url.path.startswith("/console/"):
            API.check_response(response)

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(
        base_url=server.url, headers=headers, timeout=WAIT, event_hooks={"response": [check]}
    )


def test_pages_read_without_javascript(served: tuple[Running, Path]) -> None:
    server, config = served
    with client(server) as http:
        pages = {path: http.get(path) for path in PAGES}
    for path, r in pages.items():
        assert r.status_code == 200, (path, r.text[:500])
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.headers["content-security-policy"] == CSP
        assert "default-src 'self'" in CSP and "'unsafe-inline'" not in CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
        assert "set-cookie" not in r.headers
        for pattern in INLINE:
            assert not pattern.search(r.text), (path, pattern.pattern)
        assert '<main id="main"' in r.text and '<nav aria-label="Console">' in r.text
        assert SECRET not in r.text and OTHER not in r.text
    text = {path: _text(r.text) for path, r in pages.items()}
    # readiness, with the reason it is degraded: the rejected file's line and the problem
    assert "degraded Degraded: the source is rejected" in text["/"]
    assert f"{config}:3 /db/pool_size" in text["/"]
    assert "db.pool_size 7" in text["/"] and "db.password redacted secret" in text["/"]
    # the timeline: version, time, level in words, number of changed keys, source
    row = _row(pages["/console/versions"].text, "v2")
    assert re.match(r"v2 served \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC safe 2 ", row), row
    assert str(config.name) in row and "Diff v1 → v2" in row
    assert "first version" in _row(pages["/console/versions"].text, "v1")
    # the diff: one row per key, the level as a word, with the reason; secrets redacted
    diff = text["/console/diff?from=1&to=2"]
    assert "Diff v1 → v2" in diff and "safe 2 changes: 2 safe" in diff
    assert "db.password secret safe changed" in diff and '"<redacted>"' in diff
    assert "db.pool_size safe changed 5 7 value changed within the schema" in diff
    assert text["/console/diff"] == diff  # without from/to: the newest version's diff
    # rejections with file:line and problems
    rejections = text["/console/rejections"]
    assert f"{config}:3 /db/pool_size 0 is less than the minimum of 1 minimum" in rejections
    assert "breaking refused with 1 problem" in rejections
    # rollback: the impact of going back to v1 first, and a form that needs the script
    rollback = pages["/console/rollback?to=1"].text
    assert "db.pool_size safe changed 7 5" in _text(rollback)
    assert re.search(
        r'<form class="needs-js confirm" method="post" action="/v1/rollback"', rollback
    )
    assert "hotconf rollback --url URL --to 1" in rollback  # the no-script way
    assert "served without webhooks" in text["/console/webhooks"]
    assert "No rollout has run in this process" in text["/console/rollouts"]
    assert "does not follow etcd" in text["/console/rollouts"]


def test_pages_render_secret_values_for_a_token_only(served: tuple[Running, Path]) -> None:
    server, _ = served
    for token in (ADMIN, READER):
        with client(server, token) as holder:
            page = holder.get("/")
            assert f'db.password "{OTHER}" secret' in _text(page.text)
            assert page.headers["cache-control"] == "no-store"
            assert page.headers["vary"] == "Authorization"
            # reports never carry a secret value, whoever asks
            for path in ("/console/diff?from=1&to=2", "/console/rollback?to=1"):
                r = holder.get(path)
                assert SECRET not in r.text and OTHER not in r.text, path
                assert '"<redacted>"' in _text(r.text)
    with client(server, "not-the-token") as wrong:
        r = wrong.get("/")
        assert r.status_code == 200 and OTHER not in r.text
        assert 'data-token-error="yes"' in r.text and "was not accepted" in r.text


class _Typed:
    """A typed config whose secret sits under a name that does not read like one."""

    @staticmethod
    def model() -> type[Any]:
        from pydantic import BaseModel, ConfigDict, SecretStr

        class App(BaseModel):
            model_config = ConfigDict(frozen=True)

            dsn: SecretStr
            pool: int = 5

        return App


def test_a_models_secrets_stay_out_of_the_pages(tmp_path: Path) -> None:
    dsn = "postgres://app:hunter2-value@db/app"
    config = tmp_path / "config.yaml"
    config.write_text(f"dsn: {dsn}\npool: 5\n")
    opener = functools.partial(
        hotconf.watch, config, model=_Typed.model(), state_dir=tmp_path / "state"
    )
    with Running(Service(opener, token=ADMIN)) as server:
        live = server.ready()
        config.write_text(f"dsn: {dsn}x\npool: 6\n")
        wait_for(lambda: live.version == 2, what="v2")
        with client(server) as http:
            for path in ("/", "/console/diff", "/console/rollback?to=1", "/console/versions"):
                page = http.get(path).text
                assert "hunter2" not in page, path
            assert "dsn redacted secret" in _text(http.get("/").text)
        with client(server, ADMIN) as admin:
            assert f'dsn "{dsn}x" secret' in _text(admin.get("/").text)
            assert "hunter2" not in admin.get("/console/diff").text


def test_a_removed_key_shows_the_default_it_falls_back_to() -> None:
    from hotconf.service.console.views import change_rows

    report = hotconf.diff({"pool": 6, "dsn": "x"}, {"dsn": "x"}, model=_Typed.model())
    [row] = change_rows(report)
    assert (row.key, row.kind, row.level, row.old, row.new, row.default) == (
        "pool",
        "removed",
        "risky",
        "6",
        "5",
        True,
    )
    [plain] = change_rows(hotconf.diff({"pool": 6}, {}))
    assert (plain.kind, plain.new, plain.default) == ("removed", None, False)


def test_static_files_come_with_the_same_policy(served: tuple[Running, Path]) -> None:
    server, _ = served
    with client(server) as http:
        html = http.get("/").text
        assets = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', html)
        assert sorted(assets) == [
            "/console/static/console.css",
            "/console/static/console.js",
            "/console/static/favicon.svg",
        ]
        for path in assets:
            r = http.get(path)
            assert r.status_code == 200
            assert r.headers["content-security-policy"] == CSP
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "set-cookie" not in r.headers
        assert (
            http.get("/console/static/console.js")
            .headers["content-type"]
            .startswith("text/javascript")
        )
        script = http.get("/console/static/console.js").text
        assert "sessionStorage" in script and "cookie" not in script.replace("never a cookie", "")
        # nothing is fetched from anywhere else
        for path in ("/", "/docs", "/console/static/console.css"):
            assert not re.search(r"https?://", http.get(path).text.replace(server.url, "")), path
        assert http.get("/console/static/nothing.js").status_code == 404


def test_no_cookie_anywhere(served: tuple[Running, Path]) -> None:
    server, _ = served
    with client(server, ADMIN) as http:
        for path in (*PAGES, "/v1/config", "/v1/versions", "/readyz", "/openapi.json"):
            r = http.get(path)
            assert "set-cookie" not in r.headers, path
        assert http.post("/v1/rollback", json={"to": 1}).status_code == 200
        assert not http.cookies


def test_bad_requests_render_as_pages(served: tuple[Running, Path]) -> None:
    server, _ = served
    with client(server) as http:
        for path, status, says in (
            ("/console/diff?from=1&to=9", 404, "no version 9"),
            ("/console/rollback?to=9", 404, "no version 9"),
            ("/console/rollback", 400, "choose the version"),
            ("/console/diff?to=x", 400, "to must be an integer"),
            ("/console/webhooks?status=lost", 200, "served without webhooks"),
        ):
            r = http.get(path)
            assert r.status_code == status, path
            assert r.headers["content-type"].startswith("text/html")
            assert r.headers["content-security-policy"] == CSP
            assert says in r.text, (path, _text(r.text))
        assert http.get("/console/nowhere").status_code == 404


def test_mounted_under_a_prefix_every_link_stays_inside(tmp_path: Path, schema_file: Path) -> None:
    from contextlib import asynccontextmanager
    from types import SimpleNamespace

    from starlette.applications import Starlette
    from starlette.routing import Mount

    config = tmp_path / "config.yaml"
    config.write_text(config_text())
    opener = functools.partial(hotconf.watch, config, schema_file, state_dir=tmp_path / "state")
    service = Service(opener)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        async with service.app.router.lifespan_context(service.app):  # a mount runs none
            yield

    parent = Starlette(routes=[Mount("/hotconf", app=service.app)], lifespan=lifespan)
    host = SimpleNamespace(app=parent, begin_shutdown=service.begin_shutdown)
    with Running(host) as server, httpx.Client(base_url=server.url, timeout=WAIT) as http:  # type: ignore[arg-type]
        wait_for(lambda: service.readiness.ready, what="ready")
        config.write_text(config_text(pool=6))
        wait_for(lambda: service.live.version == 2, what="v2")
        seen: set[str] = set()
        for page in ("/hotconf/", "/hotconf/console/versions", "/hotconf/docs"):
            html = http.get(page).text
            assert 'data-root="/hotconf"' in html
            links = set(re.findall(r'(?:href|src|action)="([^"#][^"]*)"', html))
            assert links and all(link.startswith("/hotconf/") for link in links), links
            seen |= {link.replace("&amp;", "&") for link in links if "/v1/rollback" not in link}
        for link in sorted(seen):
            assert http.get(link).status_code == 200, link


def test_jinja_is_imported_by_the_first_page_only() -> None:
    """A service whose console nobody opens does not pay for Jinja (memory, start-up)."""
    code = (
        "import sys; from hotconf.service.app import Service; "
        "Service(lambda **kw: None); print(sorted(m for m in ('jinja2', 'markupsafe') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_while_starting_the_console_says_so(tmp_path: Path, schema_file: Path) -> None:
    go = threading.Event()
    config = tmp_path / "config.yaml"
    config.write_text(config_text())

    def slow_open(**kwargs: Any) -> LiveConfig:
        go.wait(WAIT)
        return hotconf.watch(config, schema_file, state_dir=tmp_path / "state", **kwargs)

    with Running(Service(slow_open)) as server, client(server) as http:
        r = http.get("/")
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "starting Starting: the config is being read and validated." in _text(r.text)
        assert http.get("/docs").status_code == 200  # the API description needs no config
        go.set()
        server.ready()
        assert http.get("/").status_code == 200


def test_openapi_json_and_docs_are_the_one_document(served: tuple[Running, Path]) -> None:
    server, _ = served
    with client(server) as http:
        served_doc = http.get("/openapi.json").json()
        page = http.get("/docs").text
    assert served_doc == document() == json.loads(json.dumps(API.doc))
    operations = [
        (method.upper(), path, op["operationId"])
        for path, item in served_doc["paths"].items()
        for method, op in item.items()
    ]
    assert len(operations) >= 20
    for method, path, ident in operations:
        assert f'id="op-{ident}"' in page, ident
        assert f">{method}</span> <code>{path}</code>" in page, (method, path)


def test_events_stream_versions_and_rejections(tmp_path: Path, schema_file: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text())
    opener = functools.partial(hotconf.watch, config, schema_file, state_dir=tmp_path / "state")
    with Running(Service(opener)) as server:
        live = server.ready()
        with (
            httpx.Client(base_url=server.url, timeout=WAIT) as http,
            http.stream("GET", "/v1/events") as stream,
        ):
            API.check("GET", "/v1/events", stream.status_code, stream.headers, b"")
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream.iter_lines())
            assert next(events) == ("state", {"state": "ready", "version": 1, "rejected_at": None})
            config.write_text(config_text(pool=8))
            kind, data = next(events)
            assert (kind, data) == (
                "version",
                {"version": 2, "type": "config.changed", "level": "safe", "changes": 1},
            )
            config.write_text("db: [")
            kind, data = next(events)
            assert kind == "rejection" and data["problems"] == 1
            assert data["source"] == live.last_rejection.source  # type: ignore[union-attr]
            assert live.version == 2
            rejected_at = data["at"]
        # a stream opened later starts from where things are: its client can tell what it missed
        with (
            httpx.Client(base_url=server.url, timeout=WAIT) as http,
            http.stream("GET", "/v1/events") as stream,
        ):
            state = next(_events(stream.iter_lines()))
            assert state == (
                "state",
                {"state": "degraded", "version": 2, "rejected_at": rejected_at},
            )
        with client(server) as http:
            assert f'data-rejected-at="{rejected_at}"' in http.get("/").text


def test_events_end_at_shutdown_and_after_max_wait(tmp_path: Path, schema_file: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text())
    opener = functools.partial(hotconf.watch, config, schema_file, state_dir=tmp_path / "state")
    service = Service(opener, max_wait=0.5)
    with Running(service) as server, httpx.Client(base_url=server.url, timeout=WAIT) as http:
        server.ready()
        with http.stream("GET", "/v1/events") as stream:
            lines = list(stream.iter_lines())  # it ends by itself after max_wait
        assert lines[0] == "retry: 2000" and "event: state" in lines
        service.max_wait = 3600.0  # from now on only the shutdown ends a stream
        with http.stream("GET", "/v1/events") as stream:
            rest = stream.iter_lines()
            assert next(rest) == "retry: 2000"
            service.begin_shutdown()
            assert "event: state" in list(rest)  # and then it ended


def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    kind = None
    for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield kind or "message", json.loads(line.removeprefix("data: "))


def _text(html: str) -> str:
    """The page's words, tags dropped and white space folded, as a reader would scan them."""
    body = re.split(r"<body[^>]*>", html, maxsplit=1)[-1]
    words = re.sub(r"<[^>]+>", " ", body)
    for entity, char in (
        ("&#34;", '"'),
        ("&quot;", '"'),
        ("&#39;", "'"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ):
        words = words.replace(entity, char)
    return " ".join(words.split())


def _row(html: str, ident: str) -> str:
    found = re.search(rf'<tr id="{ident}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, ident
    return _text("<body>" + found.group(1))
