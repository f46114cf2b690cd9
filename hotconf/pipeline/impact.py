"""Impact: what a change means. Classifies each `Change` with the schema into a level with a
reason, and bundles them into an `ImpactReport` that renders as text, JSON or Markdown.

Levels (`hotconf.pipeline.levels`; docs/impact.md is the user guide), lowest to highest:

- ``none``: semantically equal (order, comments, anchors, quoting): the candidate is a no-op;
- ``safe``: a value changed within the schema, an optional key or a list item added;
- ``risky``: a key removed (consumers fall back to its default, or to nothing), a type change
  the schema allows both ways (``4`` → ``4.0`` too), a list reordered, a number changed by
  10x or more or across zero, a key marked ``x-hotconf-impact: risky``;
- ``restart``: a key marked ``x-hotconf-reload: restart`` changed: applied, but the app must
  restart to feel it;
- ``breaking``: the candidate is invalid (it is rejected).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ..errors import Problem
from .defaults import default_at
from .diff import Change, changes
from .levels import LEVELS, Level, max_level
from .paths import Path, covered, to_pointer
from .redaction import scrub_text
from .schema import Schema, sensitive_name
from .snapshot import REDACTED, thaw

_MISSING: Any = object()
# Problems whose message names the key they are about ("'host' is a required property").
_NAMES_KEYS = frozenset({"required", "dependentRequired", "dependencies"})
_NUMBERS = frozenset({int, float, bool, type(None)})  # scalars without text to scrub


def _text(value: Any) -> Any:
    """A string without the passwords inside it (redaction.py); anything else as it is."""
    return scrub_text(value) if type(value) is str else value


_COLORS = {"none": "2", "safe": "32", "risky": "33", "restart": "36", "breaking": "1;31"}
_SIGNS = {
    "value_changed": "~",
    "type_changed": "~",
    "key_added": "+",
    "key_removed": "-",
    "item_added": "+",
    "item_removed": "-",
    "list_reordered": "↕",
}


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=dict)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"


class Classifier:
    """Gives each change a level and a reason, reading the schemas' annotations.

    Args:
        schema: the schema of the new config, or several (a JSON Schema and a model's: a
            path is secret if either says so, an annotation counts where either has it);
            ``None``: structure and values only.
        new: the new config, an effective config (`hotconf.pipeline.defaults`): a change
            to a value that is now the default its schema gives there falls back to it,
            whether the key was taken out or written as its default (the same config, so
            the same report). ``None``: defaults are not applied.
        secrets: paths that are secret whatever the schemas say (values a secret file set).
        problems: the new config's problems, when it is invalid. A change at a path that
            has one (at it, inside its new value, or a required key it removes) is
            ``breaking`` with the problem as its reason; a change near a problem (under an
            invalid value) claims nothing about the schema.
    """

    def __init__(
        self,
        schema: Schema | Sequence[Schema] | None,
        new: Mapping[str, Any] | None = None,
        secrets: Collection[tuple[str, ...]] = (),
        problems: tuple[Problem, ...] = (),
    ) -> None:
        self.schemas: tuple[Schema, ...] = (
            () if schema is None else (schema,) if isinstance(schema, Schema) else tuple(schema)
        )
        self.schema = self.schemas[0] if self.schemas else None
        self._new = new
        self._defaults: dict[Path, bool] = {}
        self.secrets = secrets
        self._problems: dict[str, list[Problem]] = {}
        self._inside: set[str] = set()  # every ancestor of a problem's path
        self._unsure = any(p.code == "truncated" for p in problems)  # not every one is known
        for p in problems:
            if p.code == "truncated":
                continue
            self._problems.setdefault(p.path, []).append(p)
            pointer = p.path
            while pointer:
                pointer = pointer.rpartition("/")[0]
                self._inside.add(pointer)

    def sensitive(self, path: Path, *, parent: bool | None = None) -> bool:
        """Is ``path`` sensitive? ``parent``: the answer for its parent, when known."""
        if self.secrets and covered(path, self.secrets):
            return True
        if self.schemas:
            return any(s.is_sensitive(path, parent=parent) for s in self.schemas)
        if parent is not None and path:
            last = path[-1]
            return parent or (isinstance(last, str) and sensitive_name(last))
        return any(isinstance(s, str) and sensitive_name(s) for s in path)

    def hide_secrets(self, change: Change) -> Change:
        """The change with every secret in it redacted: at its path, and anywhere inside a
        value added, removed or replaced whole (``db`` added with a ``password`` in it)."""
        if change.sensitive:
            return change.redacted()
        old, new = change.old, change.new
        if not isinstance(old, Mapping | list | tuple) and not isinstance(
            new, Mapping | list | tuple
        ):
            # scalars at a path that is not secret: only a password inside a string to hide
            shown = (_text(old), _text(new))
            return change if shown == (old, new) else replace(change, old=shown[0], new=shown[1])
        here = self.sensitive(change.path)
        return replace(
            change,
            old=self._scrub(old, change.path, here),
            new=self._scrub(new, change.path, here),
        )

    def _scrub(self, value: Any, path: Path, here: bool) -> Any:
        # ``here``: is ``path`` sensitive? Each child's answer follows from it and the child's
        # own last step, so one walk down the value settles every path in it. Strings keep
        # their text but lose the passwords inside them (URLs, DSNs: redaction.py).
        kind = type(value)
        if kind in _NUMBERS:
            return value
        if kind is str:
            return scrub_text(value)
        sensitive = functools.partial(self.sensitive, parent=here)
        if kind is MappingProxyType or kind is dict or isinstance(value, Mapping):
            return {
                k: REDACTED
                if sensitive(at := (*path, k))
                else (v if type(v) in _NUMBERS else self._scrub(v, at, False))
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [
                REDACTED
                if sensitive(at := (*path, i))
                else (v if type(v) in _NUMBERS else self._scrub(v, at, False))
                for i, v in enumerate(value)
            ]
        if isinstance(value, str):
            return scrub_text(value)
        return value

    def is_set(self, path: Path) -> bool:
        return any(s.annotation(path, "x-hotconf-set") is True for s in self.schemas)

    def _annotation(self, path: Path, keyword: str) -> Any:
        for schema in self.schemas:
            value = schema.annotation(path, keyword, _MISSING)
            if value is not _MISSING:
                return value
        return _MISSING

    def _marked(self, path: Path, keyword: str) -> tuple[Any, Path] | None:
        """The nearest value of an ``x-hotconf-*`` annotation on the path or an ancestor."""
        for n in range(len(path), -1, -1):
            value = self._annotation(path[:n], keyword)
            if value is not _MISSING:
                return value, path[:n]
        return None

    def _fallback(self, change: Change) -> Path | None:
        """Where the change falls back to a default: the change's path or the nearest
        ancestor whose new value is the default its schema gives there (``None``: nowhere).
        Decided on the new config alone, so two versions get the same report however
        their configs were written (`LiveConfig.compare` and the change event agree)."""
        if self._new is None or change.kind in ("key_removed", "item_removed"):
            return None
        path = change.path
        for n in range(len(path), 0, -1):
            at = path[:n]
            known = self._defaults.get(at)
            if known is None:
                filled, default = default_at(self._new, at, self.schemas)
                known = self._defaults[at] = filled and not changes(_at(self._new, at), default)
            if known:
                return at
        return None

    def classify(self, change: Change) -> Change:
        claims = bool(self.schemas)
        if self._problems or self._unsure:
            found = self._found(change)
            if found:
                more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
                return replace(
                    change, level=Level.BREAKING, reason=f"invalid: {found[0].message}{more}"
                )
            claims = claims and self._valid_here(change)
        fallback = self._fallback(change)
        level, reason = self._base(change, fallback is not None, claims)
        if fallback == change.path and change.old is not None:
            # taken out of the config (or set to its default): for consumers a removal,
            # with the value they now get as ``new``
            change = replace(change, kind="key_removed")
        marked = self._marked(change.path, "x-hotconf-impact")
        if marked is not None and marked[0] in LEVELS and level < marked[0]:
            level = Level(marked[0])
            reason = f"marked x-hotconf-impact: {marked[0]} at {to_pointer(marked[1]) or '/'}"
        reload = self._marked(change.path, "x-hotconf-reload")
        if reload is not None and reload[0] == "restart" and level < Level.RESTART:
            level = Level.RESTART
            reason = f"needs restart: x-hotconf-reload: restart; {reason}"
        c = change  # not dataclasses.replace: this runs once per change, and it is slow
        return Change(c.path, c.kind, c.old, c.new, c.sensitive, level, reason)

    def _found(self, change: Change) -> list[Problem]:
        """The problems at the change's path: at it, inside the value it brings, or a
        required key it removes."""
        pointer = change.pointer
        found = list(self._problems.get(pointer, ()))
        if pointer in self._inside:  # problems inside the new value
            below = pointer + "/"
            found += [p for at, ps in self._problems.items() if at.startswith(below) for p in ps]
        if change.kind == "key_removed" and change.path:
            # the parent now lacks a key it requires: the removal is the problem
            name = repr(change.path[-1])
            parent = to_pointer(change.path[:-1])
            found += [
                p
                for p in self._problems.get(parent, ())
                if p.code in _NAMES_KEYS and name in p.message
            ]
        return found

    def _valid_here(self, change: Change) -> bool:
        """Does the value at the change's path pass the schema, as far as the problems say?
        Not when one is at or inside it (see `_found`) or at an enclosing value."""
        if self._unsure or change.pointer in self._inside:
            return False
        path = change.path
        return not any(to_pointer(path[:n]) in self._problems for n in range(len(path)))

    def _shown(self, value: Any, change: Change) -> str:
        """A value at the change's path (its new value, or the default there) as a reason
        shows it: every secret in it redacted, as `hide_secrets` does to the values."""
        if change.sensitive:
            return REDACTED
        return _show(self._scrub(value, change.path, False))

    def _base(self, change: Change, fallback: bool, claims: bool) -> tuple[Level, str]:
        """The level and reason from the change itself; ``fallback``: the value is now its
        default; ``claims``: the schema accepts the new value there, so the reason may say
        so."""
        kind, old, new = change.kind, change.old, change.new
        if fallback:
            shown = self._shown(new, change)
            if kind in ("key_added", "item_added"):
                return Level.SAFE, f"the default applies: {shown}"
            reason = f"removed (or set to its default); consumers fall back to default {shown}"
            return Level.RISKY, reason
        if kind == "key_removed":
            default = self._annotation(change.path, "default")
            if default is _MISSING:
                return Level.RISKY, "removed; no default: consumers see it missing"
            shown = self._shown(default, change)
            return Level.RISKY, f"removed; consumers fall back to default {shown}"
        if kind == "key_added":
            return Level.SAFE, "optional key added" if claims else "key added"
        if kind == "item_added":
            return Level.SAFE, "list item added"
        if kind == "item_removed":
            return Level.SAFE, "list item removed"
        if kind == "list_reordered":
            return Level.RISKY, "list reordered: consumers that rely on order see a change"
        if kind == "type_changed":
            told = f"type changed from {_json_type(old)} to {_json_type(new)}"
            return Level.RISKY, f"{told}; the schema allows both" if claims else told
        if _is_number(old) and _is_number(new):
            if old and new and (old < 0) != (new < 0):
                return Level.RISKY, "sign changed"
            # compare without dividing: a big int / a big int overflows a float
            small, big = sorted((abs(old), abs(new)))
            if small and big >= 10 * small:
                return Level.RISKY, "changed by 10x or more"
        return Level.SAFE, "value changed within the schema" if claims else "value changed"


@dataclass(frozen=True, slots=True)
class ImpactReport:
    """What a candidate changes and how much it matters; every value is redacted.

    Attributes:
        level: the highest level of the changes, or ``breaking`` when invalid.
        changes: each change with its level and reason (secrets redacted).
        problems: why the candidate is invalid, when it is.
        old_checksum: the canonical checksum of the old config.
        new_checksum: the canonical checksum of the new config.
        old_version: the old version number, when known.
        new_version: the new version number, once committed.
    """

    level: Level
    changes: tuple[Change, ...] = ()
    problems: tuple[Problem, ...] = ()
    old_checksum: str | None = None
    new_checksum: str | None = None
    old_version: int | None = None
    new_version: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        counts: dict[str, int] = dict.fromkeys(LEVELS, 0)
        for change in self.changes:
            counts[change.level] += 1
        counts["total"] = len(self.changes)
        object.__setattr__(self, "counts", counts)

    @property
    def idempotent(self) -> bool:
        """Applying it changes nothing a consumer can see (level ``none``)."""
        return not self.changes and not self.problems

    def with_version(self, version: int) -> ImpactReport:
        return replace(self, new_version=version)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, shaped by ``schemas/impact-report.schema.json``."""
        return {
            "level": self.level,
            "idempotent": self.idempotent,
            "counts": dict(self.counts),
            "old": {"version": self.old_version, "checksum": self.old_checksum},
            "new": {"version": self.new_version, "checksum": self.new_checksum},
            "changes": [
                {
                    "path": c.pointer,
                    "kind": c.kind,
                    "level": c.level,
                    "reason": c.reason,
                    "old": thaw(c.old),
                    "new": thaw(c.new),
                    "sensitive": c.sensitive,
                }
                for c in self.changes
            ],
            "problems": [p.to_dict() for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def summary(self) -> str:
        n = self.counts["total"]
        if self.problems:
            n = len(self.problems)
            return f"breaking: the candidate is invalid ({n} problem{'s' * (n != 1)})"
        if not n:
            return "none: semantically the same"
        parts = [
            f"{self.counts[level]} {level}" for level in reversed(LEVELS) if self.counts[level]
        ]
        return f"{self.level}: {n} change{'s' * (n != 1)} ({', '.join(parts)})"

    def to_text(self, *, color: bool = False) -> str:
        """Plain lines, one per change; ANSI colours by level when ``color``."""

        def paint(level: str, text: str) -> str:
            return f"\x1b[{_COLORS[level]}m{text}\x1b[0m" if color else text

        lines = [paint(self.level, self.summary())]
        for p in self.problems:
            lines.append(f"  {paint('breaking', 'invalid ')} {p}")
        for c in self.changes:
            values = _values(c)
            lines.append(
                f"  {paint(c.level, f'{c.level:<8}')} {_SIGNS[c.kind]} {c.pointer or '/'}"
                f"{'  ' + values if values else ''}  ({c.reason})"
            )
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A Markdown section with a table, for a pull-request comment."""
        lines = [f"**Config impact: {self.summary()}**", ""]
        if self.problems:
            lines += ["| problem | where |", "|---|---|"]
            for p in self.problems:
                at = f" ({p.source}:{p.line})" if p.source and p.line else ""
                lines.append(f"| {_md(p.message)} | `{_md(p.path or '/')}`{_md(at)} |")
            lines.append("")
        if self.changes:
            lines += ["| level | change | path | old → new | why |", "|---|---|---|---|---|"]
            for c in self.changes:
                old = "" if c.old is None else f"`{_md(_show(c.old))}`"
                new = "" if c.new is None else f"`{_md(_show(c.new))}`"
                lines.append(
                    f"| {c.level} | {c.kind.replace('_', ' ')} | `{_md(c.pointer or '/')}` "
                    f"| {old} → {new} | {_md(c.reason)} |"
                )
        return "\n".join(lines).rstrip() + "\n"


def _at(data: Any, path: Path) -> Any:
    for segment in path:
        data = data[segment]
    return data


def _values(c: Change) -> str:
    if c.kind == "list_reordered":
        return ""
    if c.kind in ("key_added", "item_added"):
        return _show(c.new)
    if c.kind in ("key_removed", "item_removed"):
        return _show(c.old)
    return f"{_show(c.old)} → {_show(c.new)}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def assess(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    schema: Schema | Sequence[Schema] | None = None,
    *,
    problems: tuple[Problem, ...] = (),
    old_checksum: str | None = None,
    new_checksum: str | None = None,
    old_version: int | None = None,
    defaults: bool = False,
    secrets: Collection[tuple[str, ...]] = (),
) -> ImpactReport:
    """Diff ``old`` and ``new`` and classify every change (the live pipeline's stage).

    ``problems`` are the candidate's validation problems: any makes the report ``breaking``.
    ``schema`` may be several (see `Classifier`); ``defaults``: ``new`` is an effective
    config (the schemas' defaults filled in), and changes to a default say so; ``secrets``
    are paths redacted whatever the schemas say (values a secret file set).
    """
    classifier = Classifier(schema, new if defaults else None, secrets, problems)
    found = changes(
        old if old is not None else {},
        new,
        sensitive=classifier.sensitive,
        is_set=classifier.is_set,
    )
    classified = tuple(classifier.hide_secrets(classifier.classify(c)) for c in found)
    level = Level.BREAKING if problems else max_level(c.level for c in classified)
    return ImpactReport(
        level=level,
        changes=classified,
        problems=problems,
        old_checksum=old_checksum,
        new_checksum=new_checksum,
        old_version=old_version,
    )
