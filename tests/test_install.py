"""The install step (scripts/install-test-deps) brings everything the suite needs, pinned.

It installs hotconf with some extras and ``-c constraints/test.txt``. These tests read that
line, pyproject.toml and the pins, and check that every module the tests, benches and examples
import comes from a distribution the install step asks for (directly or as a dependency of one),
and that each of those distributions is pinned to one exact version that pyproject.toml allows.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = (ROOT / "scripts" / "install-test-deps").read_text()
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CONSTRAINTS = ROOT / "constraints" / "test.txt"
SUITE = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("bench/*.py"), *ROOT.glob("examples/**/*.py")]


def installed_extras() -> set[str]:
    """The extras of hotconf that the install step asks pip for, and those they pull in."""
    found = re.findall(r"pip_install .*-e '\.\[([\w,-]+)\]'", SCRIPT)
    assert len(found) == 1, "install-test-deps installs hotconf once, as -e '.[extras]'"
    todo, extras = found[0].split(","), set()
    while todo:
        extra = todo.pop()
        if extra in extras:
            continue
        extras.add(extra)
        for line in PROJECT["optional-dependencies"][extra]:
            req = Requirement(line)
            if canonicalize_name(req.name) == "hotconf":
                todo += req.extras
    return extras


def requested() -> list[Requirement]:
    """What the install step asks for: the runtime dependencies and those of its extras."""
    lines = list(PROJECT["dependencies"])
    for extra in installed_extras():
        lines += PROJECT["optional-dependencies"][extra]
    reqs = [Requirement(line) for line in lines]
    return [r for r in reqs if canonicalize_name(r.name) != "hotconf"]


def pins() -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and re.fullmatch(r"[\w.-]+", name), f"not an exact pin: {line!r}"
        found[canonicalize_name(name)] = Version(version)
    return found


def missing(what: str) -> None:
    # Right after the install step (CI) nothing may be missing; elsewhere it is the venv's
    # business, and the suite's optional parts skip on their own.
    message = f"{what}: run scripts/install-test-deps"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def needed() -> dict[str, str]:
    """Every distribution the install step brings in: {normalized name: why}."""
    todo = [(r, "pyproject.toml") for r in requested()]
    found: dict[str, str] = {}
    while todo:
        req, why = todo.pop()
        name = canonicalize_name(req.name)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing(f"{req} ({why}) is not installed")
        found.setdefault(name, why)
        for line in dist.requires or ():
            sub = Requirement(line)
            wanted = sub.marker is None or any(
                sub.marker.evaluate({"extra": extra}) for extra in ("", *req.extras)
            )
            if wanted and canonicalize_name(sub.name) not in found:
                todo.append((Requirement(str(sub).split(";")[0]), f"needed by {name}"))
    return found


def imported_modules(path: Path) -> Iterator[str]:
    """Top-level names a file imports, `pytest.importorskip` included."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "importorskip"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            yield str(node.args[0].value).partition(".")[0]


def third_party_imports() -> dict[str, str]:
    """{module: the first file importing it} for modules that are neither stdlib nor ours."""
    ours = {"hotconf", "tests", "__future__", *(p.stem for p in SUITE)}
    found: dict[str, str] = {}
    for path in sorted(SUITE):
        for module in imported_modules(path):
            if module not in sys.stdlib_module_names and module not in ours:
                found.setdefault(module, str(path.relative_to(ROOT)))
    return found


def test_the_install_step_uses_the_constraints_and_both_optional_extras() -> None:
    assert re.search(r"-c constraints/test\.txt", SCRIPT)
    assert {"test", "serve", "fast"} <= installed_extras()


def test_every_module_the_suite_imports_comes_with_the_install_step() -> None:
    modules = third_party_imports()
    assert {"pytest", "hypothesis", "yaml", "starlette", "yaml_rs", "jsonschema_rs"} <= set(modules)
    providers = metadata.packages_distributions()
    brought = needed()
    for module, where in modules.items():
        dists = {canonicalize_name(d) for d in providers.get(module, ())}
        if not dists:
            missing(f"{where} imports {module}, which no installed distribution provides")
        assert dists & brought.keys(), (
            f"{where} imports {module} (from {', '.join(sorted(dists))}), which the install step "
            "does not ask for: add it to an extra that scripts/install-test-deps installs"
        )


def test_everything_the_install_step_brings_is_pinned_within_pyproject_ranges() -> None:
    pinned = pins()
    brought = needed()
    for name in sorted(brought.keys() & pinned.keys()):  # what it needs is read from metadata
        installed = Version(metadata.version(name))
        if installed != pinned[name]:
            missing(f"{name} {installed} is installed, constraints/test.txt pins {pinned[name]}")
    unpinned = sorted(f"{name} ({why})" for name, why in brought.items() if name not in pinned)
    assert not unpinned, f"not pinned in constraints/test.txt: {unpinned}"
    assert "hotconf" not in pinned
    for req in requested():
        version = pinned[canonicalize_name(req.name)]
        assert req.specifier.contains(version, prereleases=True), f"{req} but pinned {version}"
