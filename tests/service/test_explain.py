"""``GET /v1/config/{key}?explain=1``: where a value came from, over HTTP, held to the API
document; secret values stay redacted, even for a caller with a token."""

from __future__ import annotations

from pathlib import Path

import pytest

import hotconf
from hotconf.service.app import Service

from .test_service import ADMIN, Running


def test_explain_over_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.yaml").write_text("db:\n  host: db.internal\n  pool_size: 10\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db__dsn").write_text("postgres://u:pw-77@db/x\n")
    monkeypatch.setenv("APP_DB__POOL_SIZE", "30")
    live = hotconf.watch(
        tmp_path / "config.yaml",
        env_prefix="APP_",
        secrets_dir=tmp_path / "secrets",
        state_dir=None,
    )
    with live, Running(Service(live, token=ADMIN)) as server, server.client(ADMIN) as http:
        r = http.get("/v1/config/db.pool_size", params={"explain": "1"})
        assert r.status_code == 200
        assert r.headers["X-Hotconf-Version"] == "1"
        body = r.json()
        assert (body["value"], body["layer"], body["found"]) == (30, "env", True)
        assert body["set_by"] == [{"layer": "env", "origin": "APP_DB__POOL_SIZE", "value": 30}]
        assert body["overrode"] == [
            {"layer": "file", "origin": f"{tmp_path / 'config.yaml'}:3", "value": 10}
        ]
        # a secret file's value: the admin token reads it plainly, never in an explanation
        assert http.get("/v1/config/db.dsn").json()["value"] == "postgres://u:pw-77@db/x"
        r = http.get("/v1/config/db.dsn", params={"explain": "true"})
        assert "pw-77" not in r.text and r.json()["value"] == hotconf.REDACTED
        assert r.json()["sensitive"] is True
        with server.client() as anonymous:
            assert anonymous.get("/v1/config/db.dsn").json()["value"] == hotconf.REDACTED
            assert anonymous.get("/v1/config").json()["db"]["dsn"] == hotconf.REDACTED
            page = anonymous.get("/", headers={"Accept": "text/html"})
            assert page.status_code == 200 and "db.dsn" in page.text
            assert "pw-77" not in page.text  # the console redacts secret-file values too
        r = http.get("/v1/config/db.nothing", params={"explain": "1"})
        assert r.status_code == 200 and r.json()["found"] is False
        assert http.get("/v1/config/db", params={"explain": "2"}).status_code == 400
        r = http.get("/v1/config/db", params={"explain": "1", "version": "1"})
        assert r.status_code == 400
