"""docs/architecture.md stays true: the tests it cites exist, the import rules it states hold,
and every invariant the code or the docs cite is one it numbers."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hotconf"
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()

CITED_TEST = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
# "invariant 3", "invariants 3 and 8", "inv. 9"
CITED_INVARIANT = re.compile(
    r"\b(?:invariants?|inv\.)\s+(\d+(?:(?:\s*,\s*|\s+and\s+|\s+or\s+)\d+)*)"
)
# the original design brief is not in the repository: nothing may cite it (spelled so that a
# search for the word finds no citation in this file either)
OUTSIDE_BRIEF = re.compile(r"\bD[E]SIGN\b")


def section(title: str) -> str:
    """The text of one ``## title`` section of docs/architecture.md."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", ARCHITECTURE, re.M | re.S)
    assert match is not None, f"docs/architecture.md has no section {title!r}"
    return match.group(1)


def invariants() -> dict[int, str]:
    """Each numbered invariant and its text (up to the next one)."""
    parts = re.split(r"^### (\d+)\. ", section("Invariants"), flags=re.M)
    return {int(number): text for number, text in zip(parts[1::2], parts[2::2], strict=True)}


def table(text: str, header: str) -> dict[str, set[str]]:
    """The rows of the Markdown table whose header row starts with ``| header |``: the first
    cell's backticked name → the backticked names in the last cell."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows: dict[str, set[str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        (key,) = re.findall(r"`([^`]+)`", cells[0])
        rows[key] = set(re.findall(r"`([^`]+)`", cells[-1]))
    return rows


def citing_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md"]
    for folder, pattern in (("hotconf", "*.py"), ("tests", "*.py"), ("docs", "*.md")):
        files.extend(sorted((ROOT / folder).rglob(pattern)))
    for folder in ("bench", "examples"):
        files.extend(p for p in sorted((ROOT / folder).rglob("*")) if p.suffix in (".py", ".md"))
    return files


# Collecting the cited files takes a fresh interpreter some seconds, and many on a busy machine.
@pytest.mark.timeout(300)
def test_every_invariant_cites_tests_and_every_cited_test_is_collected() -> None:
    numbered = invariants()
    assert sorted(numbered) == list(range(1, len(numbered) + 1)), "invariants are numbered 1..n"
    for number, text in numbered.items():
        assert CITED_TEST.search(text), f"invariant {number} cites no test"
    cited = set(CITED_TEST.findall(ARCHITECTURE))
    files = sorted({path for path, _ in cited})
    for path in files:
        assert (ROOT / path).is_file(), f"docs/architecture.md cites {path}, which does not exist"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    collected = {line.split("[")[0] for line in out.stdout.splitlines() if "::" in line}
    missing = sorted(
        f"{path}::{name}" for path, name in cited if f"{path}::{name}" not in collected
    )
    assert missing == [], "docs/architecture.md cites tests pytest does not collect"


def test_cited_invariants_exist_and_the_design_brief_is_not_cited() -> None:
    numbered = set(invariants())
    wrong, brief = [], []
    for path in citing_files():
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        for lineno, line in enumerate(text.splitlines(), 1):
            for match in CITED_INVARIANT.finditer(line):
                numbers = {int(n) for n in re.findall(r"\d+", match.group(1))}
                if not numbers <= numbered:
                    wrong.append(f"{name}:{lineno}: {match.group(0)}")
            if OUTSIDE_BRIEF.search(line):
                brief.append(f"{name}:{lineno}")
    assert wrong == [], f"these cite invariants docs/architecture.md does not number: {wrong}"
    assert brief == [], f"cite docs/architecture.md instead of the original brief: {brief}"


def test_test_files_named_in_docs_and_code_exist() -> None:
    named = re.compile(r"\btests/[\w/]+\.py\b")
    missing = [
        f"{path.relative_to(ROOT)}: {found}"
        for path in citing_files()
        if path.name != "CHANGELOG.md"  # history may name what was
        for found in named.findall(path.read_text(encoding="utf-8"))
        if not (ROOT / found).is_file()
    ]
    assert missing == [], "test files named in docs, code or tests that do not exist"


def test_module_paths_in_the_architecture_and_the_package_docstring_exist() -> None:
    folders = "|".join(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    path = re.compile(rf"(?<![\w/.])(?:hotconf/)?(?:{folders})/[\w/]*?(?:\w+\.py)?(?![\w/])")
    texts = {"docs/architecture.md": ARCHITECTURE, "hotconf/__init__.py": hotconf_docstring()}
    named = {(where, found) for where, text in texts.items() for found in path.findall(text)}
    assert len(named) > 20
    missing = sorted(
        f"{where}: {found}"
        for where, found in named
        if not (PACKAGE / found.removeprefix("hotconf/")).exists()
    )
    assert missing == [], "module paths that no longer exist"


def hotconf_docstring() -> str:
    docstring = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text()))
    assert docstring is not None
    return docstring


def unit(name: str) -> str:
    """The row of the package map a top-level name of hotconf belongs to."""
    return f"hotconf/{name}/" if (PACKAGE / name).is_dir() else f"hotconf/{name}.py"


def imports(path: Path) -> tuple[set[str], set[str]]:
    """What a module imports, anywhere in it: the hotconf modules (absolute names) and the
    top-level names of everything else."""
    package = ["hotconf", *path.relative_to(PACKAGE).parts[:-1]]
    ours: set[str] = set()
    theirs: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names = [".".join([*base, *([node.module] if node.module else [])])]
            if names == ["hotconf"]:  # from the package root: the names are its modules
                names = [f"hotconf.{a.name}" for a in node.names if a.name != "__version__"]
        else:
            continue
        for name in names:
            (ours if name.split(".")[0] == "hotconf" else theirs).add(name)
    return ours, {name.split(".")[0] for name in theirs}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_packages_import_only_what_the_architecture_allows() -> None:
    allowed = table(section("Packages"), "package")
    parts = {unit(p.relative_to(PACKAGE).parts[0].removesuffix(".py")) for p in modules()}
    assert set(allowed) == parts, "the package map has one row per package and module"
    wrong = []
    for path in modules():
        mine = unit(path.relative_to(PACKAGE).parts[0].removesuffix(".py"))
        permitted = {unit(name) for name in allowed[mine]}
        for name in sorted(imports(path)[0]):
            target = unit(name.split(".")[1])
            if target != mine and target not in permitted:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == [], "imports that docs/architecture.md's package map does not allow"


def test_third_party_libraries_stay_where_the_architecture_says() -> None:
    places = table(section("Packages"), "library")
    importers: dict[str, set[str]] = {library: set() for library in places}
    for path in modules():
        for library in imports(path)[1] & set(places):
            importers[library].add(path.relative_to(ROOT).as_posix())
    wrong = [
        f"{library} in {where}"
        for library, found in importers.items()
        for where in sorted(found)
        if not any(where == p or (p.endswith("/") and where.startswith(p)) for p in places[library])
    ]
    assert wrong == [], "third-party imports outside the places docs/architecture.md gives"
    unused = [library for library, found in importers.items() if not found]
    assert unused == [], "docs/architecture.md names libraries hotconf does not import"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path) -> set[str]:
    """The hotconf modules a module imports when it runs, at the top or inside a function
    (imports under ``if TYPE_CHECKING:`` never run). ``from package import name`` counts as
    the module ``package.name`` when there is one, and importing ``a.b.c`` runs ``a/__init__``
    and ``a/b/__init__`` too."""
    package = ["hotconf", *path.relative_to(PACKAGE).parts[:-1]]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names = [module]
            for alias in node.names:
                sub = ROOT / f"{module}.{alias.name}".replace(".", "/")
                if sub.with_suffix(".py").exists() or sub.is_dir():
                    names.append(f"{module}.{alias.name}")
        else:
            continue
        for name in names:
            if name.split(".")[0] != "hotconf":
                continue
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    me = module_name(path).split(".")
    # a module's own packages are being imported when it runs: importing them is no edge
    return found - {".".join(me[:i]) for i in range(1, len(me) + 1)}


# The one import that goes back up: `Schema.from_model(AppConfig)` is a convenience for the
# typed models of pipeline/model.py, which build their `Schema`s; it imports the model module
# when it is called, which is also what keeps pydantic out of a plain schema's start-up.
DEFERRED_BACK_EDGES = {("hotconf.pipeline.schema", "hotconf.pipeline.model")}


def test_no_import_cycles() -> None:
    graph = {module_name(p): runtime_imports(p) for p in modules()}
    for source, target in DEFERRED_BACK_EDGES:
        assert target in graph[source], f"{source} no longer imports {target}: drop the entry"
        graph[source].discard(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles (function-level imports included)"


def test_no_module_is_over_800_lines() -> None:
    sizes = {
        p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in modules()
    }
    assert {path: n for path, n in sizes.items() if n > 800} == {}, "split these modules"
