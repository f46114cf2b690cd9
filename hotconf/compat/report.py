"""Schema compatibility: is a new schema compatible with the old one (``hotconf schema-diff``)?

A schema is read as the set of configs it accepts. Each difference between two schemas widens
that set, narrows it, changes it (both), changes nothing that validation sees (metadata, a
``default``), or cannot be proven either way ("semantic": a changed ``pattern``, an ``if``
condition, overlapping ``oneOf`` branches nobody can rule out). The mode turns each effect into a
level on the scale of config impact reports (`hotconf.pipeline.levels`, docs/impact.md):

=========  ======================================  ========  ========  ========  ========
mode       question                                widen     narrow    change    semantic
=========  ======================================  ========  ========  ========  ========
upgrade    new app accepts every old config?       safe      breaking  breaking  risky
rollback   old app accepts every new config?       breaking  safe      breaking  risky
full       both                                    breaking  breaking  breaking  risky
=========  ======================================  ========  ========  ========  ========

A changed ``default`` is ``risky`` in every mode; metadata is ``none``. The rules themselves
are listed in `hotconf.compat.rules`; docs/compat.md is the user guide.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Literal, get_args

from ..pipeline.paths import to_pointer
from ..pipeline.schema import Schema
from ..pipeline.snapshot import REDACTED
from .comparator import WILDCARD, Finding, Path
from .comparator import Effect as Effect
from .navigate import Side
from .rules import compare_schemas
from .witness import witnesses

Level = Literal["none", "safe", "risky", "breaking"]
Mode = Literal["upgrade", "rollback", "full"]

LEVELS: tuple[Level, ...] = get_args(Level)
MODES: tuple[Mode, ...] = get_args(Mode)
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
_COLORS = {"none": "2", "safe": "32", "risky": "33", "breaking": "1;31"}
_UNSAFE: dict[Mode, frozenset[str]] = {
    "upgrade": frozenset({"narrow", "change"}),
    "rollback": frozenset({"widen", "change"}),
    "full": frozenset({"widen", "narrow", "change"}),
}


@dataclass(frozen=True, slots=True)
class CompatChange:
    """One difference between two schemas, with its verdict in the report's mode.

    Attributes:
        kind: what changed, e.g. ``type_narrowed``, ``required_added``, ``limit_tightened``
            (docs/compat.md lists every kind).
        path: JSON Pointer into configs; ``*`` stands for any key or list index
            (``/servers/*/port``).
        schema_pointer: JSON Pointer into the new schema document (the old one for
            removals).
        effect: what the change does to the set of accepted configs: ``widen``, ``narrow``,
            ``change`` (both), ``none`` or ``semantic`` (cannot be proven either way).
        level: ``none``, ``safe``, ``risky`` or ``breaking`` in the report's mode.
        reason: the change explained for a human.
        old: the old value of the keyword, when there is one to show (``None`` otherwise).
        new: the new value of the keyword, when there is one to show.
        affected: with ``config=``, whether this breaking or risky change concerns that
            config (see `schema_diff`); ``None`` without a config and for ``none``/``safe``
            changes.
        witness: for a change whose effect is not proven (``semantic``), a config that
            breaks in the report's mode, when one was found: one the old schema accepts and
            the new one rejects (``upgrade``), the reverse (``rollback``), either (``full``).
            Secret values in it are redacted. ``None`` otherwise.

    Example:
        >>> change = schema_diff({"type": "integer"}, {"type": "number"}).changes[0]
        >>> (change.kind, change.effect, change.level)
        ('type_widened', 'widen', 'safe')
    """

    kind: str
    path: str
    schema_pointer: str
    effect: Effect
    level: Level
    reason: str
    old: Any = None
    new: Any = None
    affected: bool | None = None
    witness: Any = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (one item of ``CompatReport.to_dict()["changes"]``)."""
        return {
            "kind": self.kind,
            "path": self.path,
            "schema_pointer": self.schema_pointer,
            "effect": self.effect,
            "level": self.level,
            "reason": self.reason,
            "old": _thaw(self.old),
            "new": _thaw(self.new),
            "affected": self.affected,
            "witness": _thaw(self.witness),
        }


@dataclass(frozen=True, slots=True)
class CompatReport:
    """The result of `schema_diff`: every change and the verdict of the whole.

    Attributes:
        mode: ``upgrade``, ``rollback`` or ``full``.
        level: the highest level among the changes (``none`` when there is none).
        changes: the changes in schema order.

    Example:
        >>> report = schema_diff({"required": []}, {"required": ["db"]})
        >>> report.level, report.compatible, report.counts["breaking"]
        ('breaking', False, 1)
    """

    mode: Mode
    level: Level
    changes: tuple[CompatChange, ...]

    @property
    def compatible(self) -> bool:
        """Proven compatible in this mode: no change is ``breaking``, and none has an effect
        that is not proven (``semantic``). A changed ``default`` (``risky``) does not count:
        it changes no verdict of the validator."""
        return self.level != "breaking" and all(c.effect != "semantic" for c in self.changes)

    @property
    def counts(self) -> Mapping[str, int]:
        """How many changes there are per level; every level is a key."""
        found: dict[str, int] = dict.fromkeys(LEVELS, 0)
        for change in self.changes:
            found[change.level] += 1
        return MappingProxyType(found)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as ``schemas/compat-report.schema.json`` describes it.

        Example:
            >>> schema_diff({}, {}).to_dict()["level"]
            'none'
        """
        return {
            "mode": self.mode,
            "level": self.level,
            "compatible": self.compatible,
            "counts": dict(self.counts),
            "changes": [change.to_dict() for change in self.changes],
        }

    def to_text(self, *, color: bool = False) -> str:
        """Plain lines for a terminal: a summary, then one line per change.

        Args:
            color: colour each level with ANSI escapes (breaking red, risky yellow, safe
                green, none dim).

        Example:
            >>> print(schema_diff({"enum": [1]}, {"enum": [1, 2]}).to_text())
            schema-diff (upgrade): safe (1 safe)
              safe      /  enum_extended: enum extended by [2]: configs with it are now accepted
        """

        def paint(level: str, text: str) -> str:
            return f"\x1b[{_COLORS[level]}m{text}\x1b[0m" if color else text

        lines = [f"schema-diff ({self.mode}): {paint(self.level, self.level)} ({self._tally()})"]
        for c in self.changes:
            note = (
                ""
                if c.affected is None
                else (" [affects the config]" if c.affected else " [config not affected]")
            )
            lines.append(
                f"  {paint(c.level, c.level.ljust(8))}  {c.path or '/'}  {c.kind}: {c.reason}{note}"
            )
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A Markdown summary and table, for a pull-request comment.

        Example:
            >>> print(schema_diff({}, {}).to_markdown())
            **Schema compatibility (upgrade): none**
            <BLANKLINE>
            No changes.
        """
        head = f"**Schema compatibility ({self.mode}): {self.level}**"
        if not self.changes:
            return f"{head}\n\nNo changes."
        with_config = any(c.affected is not None for c in self.changes)
        columns = ["Level", "Kind", "Config path", "Schema pointer", "Reason"]
        columns += ["Config affected"] if with_config else []
        rows = [f"{head}\n", self._tally() + "\n", _row(columns), _row(["---"] * len(columns))]
        for c in self.changes:
            cells = [
                f"**{c.level}**" if c.level == "breaking" else c.level,
                f"`{c.kind}`",
                f"`{c.path or '/'}`",
                f"`{c.schema_pointer or '/'}`",
                c.reason,
            ]
            if with_config:
                cells.append({None: "", True: "yes", False: "no"}[c.affected])
            rows.append(_row(cells))
        return "\n".join(rows)

    def _tally(self) -> str:
        counts = self.counts
        parts = [f"{counts[level]} {level}" for level in reversed(LEVELS) if counts[level]]
        return ", ".join(parts) or "no changes"


def _row(cells: list[str]) -> str:
    escaped = [cell.replace("|", "\\|").replace("\n", " ") for cell in cells]
    return "| " + " | ".join(escaped) + " |"


def level_of(effect: Effect, mode: Mode) -> Level:
    """The level an effect has in a mode (a changed ``default`` is always ``risky``).

    Example:
        >>> level_of("widen", "upgrade"), level_of("widen", "rollback")
        ('safe', 'breaking')
    """
    if effect == "none":
        return "none"
    if effect == "semantic":
        return "risky"
    return "breaking" if effect in _UNSAFE[mode] else "safe"


def schema_diff(
    old: Schema | str | os.PathLike[str] | Mapping[str, Any],
    new: Schema | str | os.PathLike[str] | Mapping[str, Any],
    mode: Mode = "upgrade",
    *,
    pointer: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> CompatReport:
    """Compare two schemas by the configs they accept.

    Args:
        old: the schema configs were written for: a `Schema`, a file path (YAML or JSON,
            ``"openapi.yaml#/components/schemas/App"`` works) or a document.
        new: the schema to compare with it, in the same forms.
        mode: ``upgrade`` (does the new schema accept every config the old one accepted?),
            ``rollback`` (the reverse) or ``full`` (both).
        pointer: JSON Pointer to the config schema inside both documents (OpenAPI
            components); overrides the pointer of a `Schema` passed in.
        config: a config (usually the live one). Each ``breaking`` or ``risky`` change then
            says whether it is ``affected``: a breaking change when the config is rejected
            by the schema it would meet (new for upgrade, old for rollback, either for full)
            at or around the change's path, for a reason it was not rejected before; a
            risky change also when the config has a value at that path; a changed
            ``default`` when the config leaves the value out (so the default applies).

    Returns:
        The report; ``report.compatible`` is False when something is breaking.

    Raises:
        SchemaError: a schema cannot be read or is invalid, or the pointer points nowhere.
        TypeError: a schema is given as something else.
        ValueError: an unknown mode.

    Example:
        >>> old = {"properties": {"pool": {"type": "integer", "minimum": 1}}}
        >>> new = {"properties": {"pool": {"type": "integer", "minimum": 5}}}
        >>> report = schema_diff(old, new, config={"pool": 2})
        >>> [(c.kind, c.path, c.level, c.affected) for c in report.changes]
        [('limit_tightened', '/pool', 'breaking', True)]
    """
    if mode not in MODES:
        raise ValueError(f"mode is one of {', '.join(MODES)}, not {mode!r}")
    old_schema, new_schema = _coerce(old, pointer), _coerce(new, pointer)

    def sensitive(path: Path) -> bool:
        return old_schema.is_sensitive(path) or new_schema.is_sensitive(path)

    findings, old_side, new_side = compare_schemas(old_schema, new_schema, sensitive)
    blamed = _blamed(old_side, new_side, mode, config) if config is not None else None
    changes = []
    searches = _MAX_WITNESS_SEARCHES
    for f in findings:
        witness = None
        if "semantic" in (f.effects or {f.effect}) and searches > 0:
            searches -= 1
            up, down = (_redacted(w, (), sensitive) for w in witnesses(old_side, new_side, f.path))
            f, witness = _proven(f, up, down, mode)  # redacted first: the reason shows it too
        level = max((level_of(e, mode) for e in f.effects or {f.effect}), key=_RANK.__getitem__)
        if f.kind.startswith("default_"):
            level = "risky"
        affected = None
        if config is not None and blamed is not None and level in ("risky", "breaking"):
            affected = _affected(f, level, config, blamed)
        changes.append(
            CompatChange(
                f.kind,
                to_pointer(f.path),
                f.pointer,
                f.effect,
                level,
                f.reason,
                _freeze(f.old),
                _freeze(f.new),
                affected,
                _freeze(witness),
            )
        )
    top: Level = max((c.level for c in changes), key=_RANK.__getitem__, default="none")
    return CompatReport(mode, top, tuple(changes))


def _coerce(
    value: Schema | str | os.PathLike[str] | Mapping[str, Any], pointer: str | None
) -> Schema:
    if pointer is None:
        return Schema.coerce(value)
    if isinstance(value, Schema):
        return Schema(value.document, pointer, source=value.source)
    if isinstance(value, str | os.PathLike):
        return Schema.from_file(value, pointer)
    if isinstance(value, Mapping):
        return Schema.from_dict(value, pointer)
    raise TypeError(f"a schema is a Schema, a path or a mapping, not {type(value).__name__}")


# --- witnesses for what is not proven -------------------------------------------------------

_MAX_WITNESS_SEARCHES = 64  # per report: each one validates up to a few hundred configs


def _proven(f: Finding, up: Any, down: Any, mode: Mode) -> tuple[Finding, Any]:
    """``f`` with what its witnesses prove, and the witness to show in ``mode``.

    ``up``: a config the old schema accepts and the new one rejects (the change narrows at
    least there); ``down``: the reverse (it widens at least there). Both: it changes.
    """
    if up is None and down is None:
        return f, None
    shown = {"upgrade": up, "rollback": down, "full": up if up is not None else down}[mode]
    if up is not None and down is not None:
        effect: Effect = "change"
        effects: frozenset[Effect] = frozenset()
    else:
        effect = f.effect
        effects = (f.effects or frozenset({f.effect})) | {"narrow" if up is not None else "widen"}
    if shown is None:  # what was found does not answer this mode's question
        return replace(f, effect=effect, effects=effects), None
    verb = "passed the old schema and fails the new one"
    if shown is down:
        verb = "passes the new schema and failed the old one"
    reason = f"{f.reason}; e.g. the config {_show_config(shown)} {verb}"
    return replace(f, effect=effect, effects=effects, reason=reason), shown


def _show_config(value: Any) -> str:
    text = json.dumps(_thaw(value), ensure_ascii=False, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def _redacted(value: Any, path: Path, sensitive: Callable[[Path], bool]) -> Any:
    if value is None:
        return None  # no witness
    if sensitive(path):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _redacted(v, (*path, k), sensitive) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v, (*path, str(i)), sensitive) for i, v in enumerate(value)]
    return value


# --- which changes concern a given config ----------------------------------------------------

Blame = tuple[tuple[str, ...], str]
_MAX_ERRORS = 10_000


def _blame(side: Side, config: Any) -> set[Blame]:
    """Where (and by which keyword) ``config`` fails ``side``'s schema."""
    found: set[Blame] = set()
    for n, error in enumerate(side.errors(config)):
        if n >= _MAX_ERRORS:
            break
        path = tuple(str(p) for p in error.absolute_path)
        keyword = str(error.validator)
        instance = error.instance
        names: list[str] = []
        if keyword == "required" and isinstance(instance, Mapping):
            names = [x for x in error.validator_value if x not in instance]
        elif keyword in ("dependentRequired", "dependencies") and isinstance(instance, Mapping):
            names = [
                x
                for trigger, need in error.validator_value.items()
                if trigger in instance and isinstance(need, list)
                for x in need
                if x not in instance
            ]
        elif keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(
            instance, Mapping
        ):
            names = [k for k in instance if _unexpected(k, error)]
        found |= {((*path, name), keyword) for name in names} if names else {(path, keyword)}
    return found


def _unexpected(key: str, error: Any) -> bool:
    if error.validator == "unevaluatedProperties":
        return repr(key) in error.message  # which keys were evaluated is the validator's secret
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    patterns = schema.get("patternProperties") or {}
    return key not in (schema.get("properties") or {}) and not any(
        re.search(p, key) for p in patterns
    )


def _blamed(old: Side, new: Side, mode: Mode, config: Any) -> set[Blame]:
    before, after = _blame(old, config), _blame(new, config)
    if mode == "upgrade":
        return after - before
    if mode == "rollback":
        return before - after
    return (after - before) | (before - after)


def _related(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return all(x == y or WILDCARD in (x, y) for x, y in zip(a, b, strict=False))


def _values(data: Any, path: tuple[str, ...]) -> list[Any]:
    """Every value of ``data`` at ``path`` (``*`` is any key or index); missing ones left out."""
    if not path:
        return [data]
    head, rest = path[0], path[1:]
    if isinstance(data, Mapping):
        children = (
            list(data.values()) if head == WILDCARD else ([data[head]] if head in data else [])
        )
    elif isinstance(data, list | tuple):
        if head == WILDCARD:
            children = list(data)
        else:
            children = [data[int(head)]] if head.isdigit() and int(head) < len(data) else []
    else:
        children = []
    return [v for child in children for v in _values(child, rest)]


def _lacks(data: Any, path: tuple[str, ...]) -> bool:
    """Does some object along ``path`` leave the last key out (so a default applies)?"""
    if not path:
        return False
    head, rest = path[0], path[1:]
    if isinstance(data, Mapping):
        if head == WILDCARD:
            return any(_lacks(v, rest) for v in data.values())
        return head not in data or _lacks(data[head], rest)
    if isinstance(data, list | tuple) and head == WILDCARD:
        return any(_lacks(v, rest) for v in data)
    return False


def _affected(f: Finding, level: Level, config: Any, blamed: set[Blame]) -> bool:
    if f.kind.startswith("default_"):
        return _lacks(config, f.path)
    rejected = any(_related(path, f.path) for path, _ in blamed)
    if level == "breaking":
        return rejected
    return rejected or bool(_values(config, f.path))


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


__all__ = [
    "LEVELS",
    "MODES",
    "CompatChange",
    "CompatReport",
    "Effect",
    "Level",
    "Mode",
    "level_of",
    "schema_diff",
]
