"""The README's code and commands, the example service, and the public surface."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import hotconf

from .cli.test_cli import Lines
from .conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("index", range(len(python_blocks(README))))
def test_readme_python_blocks_run(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_block(python_blocks(README)[index], f"README.md block {index}")


def run_block(code: str, name: str) -> None:
    # As a script runs it: without this module's `from __future__ import annotations`
    exec(compile(code, name, "exec", dont_inherit=True), {"__name__": "__main__"})


# Every docs page's python blocks run as tests, in a directory holding the files they name
# (`example_files`). Pages with tests of their own: typed.md (below), compat.md
# (tests/compat/test_compat.py), service.md's server (below, in a subprocess). Blocks that
# need what a test cannot give them are listed with the reason.
OWN_TESTS = {"typed.md", "compat.md"}
CANNOT_RUN = {
    ("fleet.md", 0): "connects to an etcd cluster by its host name (tests/fleet run one)",
    ("service.md", 0): "runs a server until stopped: test_service_md_server_example_serves",
}
PAGE_BLOCKS = [
    (page.name, i)
    for page in sorted((ROOT / "docs").glob("*.md"))
    if page.name not in OWN_TESTS
    for i in range(len(python_blocks(page.read_text())))
    if (page.name, i) not in CANNOT_RUN
]
OPENAPI = """\
openapi: 3.1.0
info: {title: app, version: "1"}
paths: {}
components:
  schemas:
    AppConfig: {$ref: "config.schema.json"}
"""


def example_files(where: Path) -> None:
    """The files the docs' examples read: the example service's config and schema, an
    edited config, the same config as TOML and under another suffix, an OpenAPI document
    and a subscribers file whose one subscriber listens nowhere (on loopback)."""
    example = ROOT / "examples" / "service"
    for name in ("config.yaml", "config.schema.json"):
        shutil.copy(example / name, where / name)
    text = (example / "config.yaml").read_text()
    (where / "config.new.yaml").write_text(text.replace("pool_size: 10", "pool_size: 20"))
    (where / "app.conf").write_text(text)
    (where / "config.toml").write_text('[db]\nhost = "db.internal"\npool_size = 10\n')
    schema = json.loads((example / "config.schema.json").read_text())
    openapi = OPENAPI.replace('{$ref: "config.schema.json"}', json.dumps(schema))
    (where / "openapi.yaml").write_text(openapi)
    (where / "subscribers.yaml").write_text(
        "subscribers:\n  - name: nowhere\n    url: http://127.0.0.1:9/hooks\n"
        "    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n    allow_private: true\n"
    )


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
@pytest.mark.parametrize(("page", "index"), PAGE_BLOCKS, ids=[f"{p}-{i}" for p, i in PAGE_BLOCKS])
def test_docs_pages_python_blocks_run(
    page: str, index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    environ = dict(os.environ)  # an example may set variables, as a deployment would
    try:
        block = python_blocks((ROOT / "docs" / page).read_text())[index]
        run_block(block, f"docs/{page} block {index}")
    finally:
        os.environ.clear()
        os.environ.update(environ)


def test_every_docs_page_with_python_blocks_is_run() -> None:
    run = {page for page, _ in PAGE_BLOCKS} | OWN_TESTS | {page for page, _ in CANNOT_RUN}
    pages = {p.name for p in (ROOT / "docs").glob("*.md") if python_blocks(p.read_text())}
    assert pages <= run
    assert len(PAGE_BLOCKS) >= 10  # fragments that cannot run do not hide here


def test_service_md_server_example_serves(tmp_path: Path) -> None:
    import httpx

    (block,) = python_blocks((ROOT / "docs" / "service.md").read_text())
    example_files(tmp_path)
    (tmp_path / "server.py").write_text(block)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "HOTCONF_TOKEN": "t0ken-for-the-docs-test"}
    proc = subprocess.Popen(
        [sys.executable, "server.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def ready() -> bool:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, what="the docs' server to be ready")
        answer = httpx.get(
            f"http://127.0.0.1:{port}/v1/config",
            headers={"Authorization": "Bearer t0ken-for-the-docs-test"},
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["db"]["pool_size"] == 10
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", text, flags=re.S)


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    venv, serve, *_ = sh_blocks(README)
    assert venv == "python3 -m venv .venv && . .venv/bin/activate"  # PEP 668: no bare pip
    assert serve.startswith("python3 -m pip install -e '.[serve]' && hotconf serve examples/")
    install, test = next(c for c in sh_blocks(README) if "pytest" in c).split(" && ")
    assert install == "bash scripts/install-test-deps"
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"\n    {venv}\n" in ci  # when no virtualenv is active
    assert f"\n{install}\n" in ci
    assert f"\n{test}\n" in ci


def test_readme_example_command_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    from hotconf.cli import main

    cmd = sh_blocks(README)[1].split("&&")[1].split()
    assert cmd[:2] == ["hotconf", "serve"]
    monkeypatch.chdir(ROOT)
    assert main(["validate", *cmd[2:]]) == 0


def test_example_service_runs_and_follows_edits(tmp_path: Path) -> None:
    example = ROOT / "examples" / "service"
    for name in ("config.yaml", "config.schema.json"):
        shutil.copy(example / name, tmp_path / name)
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("interval_seconds: 1.0", "interval_seconds: 0.05"))
    proc = subprocess.Popen(
        [
            sys.executable,
            str(example / "app.py"),
            "--config",
            str(config),
            "--schema",
            str(tmp_path / "config.schema.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        out = Lines(proc)
        out.wait("pool_size=10")
        config.write_text(config.read_text().replace("pool_size: 10", "pool_size: 20"))
        out.wait("db settings changed in v2: db.pool_size")
        out.wait("pool_size=20")
        config.write_text(config.read_text().replace("pool_size: 20", "pool_size: 0"))
        out.wait("rejected:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any("pool_size=0" in line for line in out.lines)
    assert "change-me-please" not in "".join(out.lines)


def test_all_is_sorted_and_matches_the_api_docs() -> None:
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions
    def style(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert hotconf.__all__ == sorted(hotconf.__all__, key=style)
    documented = set(re.findall(r"^\| `(\w+)` \|", (ROOT / "docs" / "api.md").read_text(), re.M))
    assert documented == set(hotconf.__all__)
    serve = {"starlette", "uvicorn", "prometheus_client"}
    for name in hotconf.__all__:
        try:
            found = getattr(hotconf, name)
        except ImportError as error:  # only the HTTP service may need the serve extra
            found = None if error.name in serve else error
        assert found is not None or not all(map(importlib.util.find_spec, serve)), name
        assert not isinstance(found, ImportError), f"{name}: {found}"


TYPED = (ROOT / "docs" / "typed.md").read_text()


@pytest.mark.parametrize("index", range(len(python_blocks(TYPED))))
def test_typed_docs_python_blocks_run(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_block(python_blocks(TYPED)[index], f"docs/typed.md block {index}")


def test_typed_docs_show_what_hotconf_prints() -> None:
    schema = {
        "properties": {
            "worker": {
                "type": "object",
                "default": {},
                "properties": {"batch_size": {"type": "integer", "default": 50}},
            }
        }
    }
    report = hotconf.diff({"worker": {"batch_size": 20}}, {"worker": {}}, schema)
    assert f"`{report.to_text().splitlines()[1].strip()}`" in TYPED


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_fleet_md_canary_judged_through_the_middleware_runs() -> None:
    text = (ROOT / "docs" / "fleet.md").read_text()
    (block,) = [b for b in python_blocks(text) if "PinMiddleware" in b]
    run_block(block, "docs/fleet.md: canaries through the middleware")
