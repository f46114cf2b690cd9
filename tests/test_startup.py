"""Start-up: what ``import hotconf`` and each command import, the lazy public surface, the lazy
command group, and the start-up bench. Each check runs in a fresh interpreter and reads its
``sys.modules``: what is imported, never how long it took (bench/bench_startup.py times it).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import click
import pytest

import hotconf
from hotconf.cli import group as cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "service"

# What only some uses need, and what each brings.
SCHEMA_LIBS = {"jsonschema", "referencing", "jsonschema_rs"}
OPENAPI_LIBS = {"openapi_schema_validator", "openapi_spec_validator", "pydantic"}
IRI_LIBS = {"rfc3987_syntax", "lark"}  # jsonschema's iri formats: built on first iri check
SERVICE_LIBS = {"starlette", "uvicorn", "prometheus_client"}
OTHER_LIBS = {"deepdiff", "httpx", "standardwebhooks", "watchdog", "yaml", "sqlite3"}
COMMAND_MODULES = {f"hotconf.cli.{m}" for m, _, _ in cli.COMMANDS.values()}
HEAVY = SCHEMA_LIBS | OPENAPI_LIBS | IRI_LIBS | SERVICE_LIBS | OTHER_LIBS


def imported_by(code: str, cwd: Path | None = None) -> tuple[set[str], Any]:
    """Run ``code`` in a fresh interpreter; return the top-level packages (and hotconf's
    modules) it imported, and the JSON it left in ``result`` (if any)."""
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json as _json, sys as _sys
        _names = {m.split(".")[0] for m in _sys.modules} | {
            m for m in _sys.modules if m.startswith("hotconf.")
        }
        print("\\n" + _json.dumps({"modules": sorted(_names), "result": globals().get("result")}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return set(found["modules"]), found["result"]


def test_import_hotconf_imports_no_stage() -> None:
    modules, _ = imported_by("import hotconf")
    assert not modules & HEAVY
    assert {m for m in modules if m.startswith("hotconf.")} == {"hotconf.errors"}


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_import_no_command(args: list[str]) -> None:
    modules, result = imported_by(
        f"""
        import contextlib, io
        from hotconf.cli import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main({args!r})
        result = [code, out.getvalue()]
        """
    )
    code, out = result
    assert code == 0 and out
    assert not modules & (HEAVY | COMMAND_MODULES)


def test_diff_without_a_schema_imports_no_schema_library(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("db:\n  pool: 1\n  password: hunter2xx\n")
    (tmp_path / "b.yaml").write_text("db:\n  pool: 2\n  password: hunter3xx\n")
    modules, code = imported_by(
        """
        from hotconf.cli import main
        result = main(["diff", "a.yaml", "b.yaml", "--format", "json"])
        """,
        cwd=tmp_path,
    )
    assert code == 0
    assert not modules & (SCHEMA_LIBS | OPENAPI_LIBS | IRI_LIBS | SERVICE_LIBS)
    assert not modules & {"deepdiff", "httpx", "standardwebhooks", "sqlite3"}
    assert "hotconf.cli.service" not in modules


def test_a_json_schema_imports_jsonschema_but_not_openapi_nor_the_iri_grammar() -> None:
    modules, problems = imported_by(
        """
        import hotconf
        schema = hotconf.Schema.from_dict({"properties": {"host": {"format": "hostname"}}})
        result = [str(p) for p in schema.validate({"host": "-bad-.example"})]
        """
    )
    assert problems == ["/host: '-bad-.example' is not a 'hostname'"]
    assert "jsonschema" in modules
    assert not modules & (OPENAPI_LIBS | IRI_LIBS)


@pytest.mark.parametrize("fast", ["1", "0"])
def test_iri_formats_check_as_before_and_load_their_grammar_then(fast: str) -> None:
    modules, result = imported_by(
        f"""
        import os, sys
        os.environ["HOTCONF_FAST"] = {fast!r}
        import hotconf
        schema = hotconf.Schema.from_dict(
            {{"properties": {{"a": {{"format": "iri"}}, "r": {{"format": "iri-reference"}}}}}}
        )
        before = "rfc3987_syntax" in sys.modules
        found = [
            [p.code for p in schema.validate(data)]
            for data in ({{"a": "https://例え.jp/x"}}, {{"a": "no scheme"}},
                         {{"r": "../x?y#z"}}, {{"r": "a b"}})
        ]
        import rfc3987_syntax  # a program's own import gets the real module
        result = [before, found, hasattr(rfc3987_syntax, "syntax_parser")]
        """
    )
    before, found, real = result
    assert not before
    assert found == [[], ["format"], [], ["format"]]
    assert real and modules >= IRI_LIBS


def test_an_openapi_document_still_validates_with_openapi_schema_validator() -> None:
    modules, codes = imported_by(
        """
        import hotconf
        doc = {
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {"schemas": {"App": {"properties": {"n": {"type": "integer",
                                                                    "nullable": True}}}}},
        }
        schema = hotconf.Schema.from_dict(doc, "#/components/schemas/App")
        result = [[p.code for p in schema.validate(d)] for d in ({"n": None}, {"n": "x"})]
        """
    )
    assert codes == [[], ["type"]]
    assert "openapi_schema_validator" in modules


def test_serving_a_json_schema_config_imports_no_openapi_iri_deepdiff_or_httpx(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text((EXAMPLE / "config.yaml").read_text())
    modules, versions = imported_by(
        f"""
        import os
        import hotconf
        with hotconf.watch({str(config)!r}, schema={str(EXAMPLE / "config.schema.json")!r},
                           state_dir=None, poll_interval=None) as live:
            app = hotconf.create_app(live)
            text = open({str(config)!r}).read().replace("pool_size: 10", "pool_size: 11")
            with open({str(config)!r} + ".tmp", "w") as f:
                f.write(text)
            os.replace({str(config)!r} + ".tmp", {str(config)!r})
            live.reload()
            result = [live.version, live.current["db"]["pool_size"]]
        """
    )
    assert versions == [2, 11]
    assert {"starlette", "jsonschema", "watchdog"} <= modules
    assert not modules & (OPENAPI_LIBS | IRI_LIBS | {"deepdiff", "httpx", "standardwebhooks"})


def test_deepdiff_is_imported_for_set_lists_only() -> None:
    modules, changes = imported_by(
        """
        import hotconf
        schema = hotconf.Schema.from_dict(
            {"properties": {"hosts": {"type": "array", "x-hotconf-set": True}}}
        )
        plain = hotconf.diff({"n": [1, 2]}, {"n": [1, 3]})
        import sys
        before = "deepdiff" in sys.modules
        report = hotconf.diff({"hosts": ["a", "b"]}, {"hosts": ["c", "a"]}, schema)
        result = [before, sorted(c.kind for c in report.changes)]
        """
    )
    assert changes == [False, ["item_added", "item_removed"]]
    assert "deepdiff" in modules


def test_every_public_name_resolves_in_a_fresh_interpreter() -> None:
    _, result = imported_by(
        """
        import hotconf
        missing = [name for name in hotconf.__all__ if getattr(hotconf, name, None) is None]
        from hotconf import *  # noqa: F403
        result = [missing, sorted(set(hotconf.__all__) - set(dir(hotconf)))]
        """
    )
    assert result == [[], []]


@pytest.mark.parametrize("first", ["functions", "modules"])
def test_diff_and_load_stay_functions_whatever_is_imported_first(first: str) -> None:
    modules_first = first == "modules"
    _, result = imported_by(
        f"""
        import hotconf
        if {modules_first!r}:
            import hotconf.pipeline.diff, hotconf.pipeline.load, hotconf.pipeline.impact
        from hotconf.pipeline.diff import changes
        from hotconf.pipeline.load import parse
        import hotconf.live.config  # imports both modules again, as any stage does
        result = [
            callable(hotconf.diff), hotconf.diff.__module__,
            callable(hotconf.load), hotconf.load.__module__,
            hotconf.webhooks.new_secret().startswith("whsec_"),
        ]
        """
    )
    assert result == [True, "hotconf.pipeline.impact", True, "hotconf.pipeline.load", True]


def test_unknown_and_private_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hotconf.nope  # type: ignore[attr-defined]  # noqa: B018
    # hotconf/__main__.py is a real module with a private name: attribute access must not
    # import it (nor any module outside the public table)
    _, found = imported_by(
        "import sys, hotconf\n"
        "result = [hasattr(hotconf, '__main__'), 'hotconf.__main__' in sys.modules]"
    )
    assert found == [False, False]


def test_version_is_the_installed_distributions() -> None:
    assert hotconf.__version__ == importlib.metadata.version("hotconf")


# -- the lazy command group ---------------------------------------------------------------


def _defined_commands() -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for module in sorted({m for m, _, _ in cli.COMMANDS.values()}):
        loaded = __import__(f"hotconf.cli.{module}", fromlist=["_"])
        for value in vars(loaded).values():
            if isinstance(value, click.Command) and value.callback is not None:
                assert value.name is not None
                found[value.name] = value
    # a group's own commands (``hotconf schema export``) are not commands of the table
    inner = {
        id(c) for g in found.values() if isinstance(g, click.Group) for c in g.commands.values()
    }
    return {name: command for name, command in found.items() if id(command) not in inner}


def test_the_command_table_lists_every_command_with_its_own_summary() -> None:
    defined = _defined_commands()
    assert set(defined) == set(cli.COMMANDS)
    for name, (module, attr, summary) in cli.COMMANDS.items():
        command = defined[name]
        assert command is getattr(sys.modules[f"hotconf.cli.{module}"], attr)
        assert command.help is not None
        first = inspect.cleandoc(command.help).split("\n\n")[0]
        assert " ".join(first.split()) == summary, name


@pytest.mark.parametrize("width", [40, 80, 200])
def test_help_lists_the_commands_as_the_loaded_commands_would(width: int) -> None:
    def help_text(group: click.Group) -> str:
        with click.Context(group, info_name="hotconf", terminal_width=width) as ctx:
            return group.get_help(ctx)

    lazy = cli._Commands(
        "hotconf", callback=cli.cli.callback, params=cli.cli.params, help=cli.cli.help
    )
    eager = click.Group("hotconf", params=cli.cli.params, help=cli.cli.help)
    for name, command in _defined_commands().items():
        eager.add_command(command, name)
    text = help_text(lazy)
    assert text == help_text(eager)
    assert lazy.commands == {}  # listing loaded none of them
    for name in cli.COMMANDS:
        assert f"\n  {name} " in text


def test_a_mistyped_command_is_still_given_a_suggestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["valdate"]) == 2
    assert "Did you mean 'validate'?" in capsys.readouterr().err


# -- the bench --------------------------------------------------------------------------------


def test_bench_startup_quick_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_startup.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for label in ("hotconf --version", "hotconf --help", "hotconf diff a.yaml b.yaml"):
        [line] = [x for x in lines if x.startswith(label)]
        ms, ratio = line.split()[len(label.split())], line.split("x ")[0].split()[-1]
        assert float(ms) > 0 and float(ratio) > 0, line
    [served] = [x for x in lines if x.startswith("hotconf serve (example + schema)")]
    assert float(served.split()[5]) > 0  # MiB
    assert any(x.startswith("all goals met: ") for x in lines)
