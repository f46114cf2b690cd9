"""Provenance: which layer set a value, and what it overrode (``live.explain``).

A snapshot made from the source keeps the documents it was assembled from (an `Origin`: the
raw bytes, parsed again only when a key is first explained). `Origin.explain` replays the
deep merge for one path: a document that holds a mapping where a lower one did adds to it
(both are listed as having set it), anything else replaces what was there (the replaced
settings are what it *overrode*), and a document that holds a non-mapping at an ancestor
clears the path. Values are redacted where the path is secret (`Explanation` never holds a
secret value).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..sources import RawDocument
from .assemble import Key, value_of
from .load import locate, parse
from .paths import Path, split_dotted, to_dotted, to_pointer
from .snapshot import Snapshot, redact

log = logging.getLogger("hotconf")

_LABELS = {
    "default": "default",
    "file": "file",
    "secret": "secret file",
    "env": "environment variable",
    "history": "history",
    "schema": "default from",
}


@dataclass(frozen=True, slots=True)
class Setting:
    """One layer's setting of a key.

    Attributes:
        layer: ``default``, ``file``, ``secret``, ``env``; ``schema`` for a value no layer
            has that a schema's (or model's) ``default`` filled in; ``history`` for a version
            restored from the history (a rollback, the last-known-good at start-up).
        origin: where: ``config.yaml:3`` (a file and line), ``APP_DB__POOL_SIZE`` (a
            variable), ``/run/secrets/db__password`` (a secret file), ``defaults``.
        value: the value this layer has there (``"<redacted>"`` where secret).
    """

    layer: str
    origin: str
    value: Any

    def __str__(self) -> str:
        return f"{_LABELS.get(self.layer, self.layer)} {self.origin}"

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "origin": self.origin, "value": self.value}


@dataclass(frozen=True, slots=True)
class Explanation:
    """Where the value of one key came from (``live.explain("db.pool_size")``).

    Attributes:
        key: the dotted key.
        version: the version explained (``None`` for a config that is not served, as
            ``hotconf explain`` reads it).
        found: the key is in that version.
        value: its value (``"<redacted>"`` where secret).
        sensitive: the value is secret.
        set_by: what set it: one `Setting`, or, for a mapping that several layers add keys
            to, each of them, lowest precedence first. Empty when the key is absent.
        overrode: the settings it replaced, the most recent first.
        note: why the layers are not known, when they are not.

    Example:
        >>> print(live.explain("db.pool_size"))  # doctest: +SKIP
        db.pool_size = 30 (v4)
          set by   environment variable APP_DB__POOL_SIZE
          overrode file /srv/app/config.yaml:3 (10)
    """

    key: str
    version: int | None
    found: bool
    value: Any
    sensitive: bool
    set_by: tuple[Setting, ...]
    overrode: tuple[Setting, ...] = ()
    note: str | None = None

    @property
    def layer(self) -> str | None:
        """The layer of the setting that won (``None`` when the key is absent)."""
        return self.set_by[-1].layer if self.set_by else None

    def __str__(self) -> str:
        head = (
            f"{self.key or '(root)'} = {_show(self.value)}"
            if self.found
            else (f"{self.key or '(root)'} is not set")
        )
        lines = [f"{head} (v{self.version})" if self.version is not None else head]
        verb = "set by  " if len(self.set_by) < 2 else "merged from"
        for n, setting in enumerate(self.set_by):
            lines.append(f"  {verb if n == 0 else ' ' * len(verb)} {setting}")
        for n, setting in enumerate(self.overrode):
            label = "overrode" if n == 0 else "        "
            lines.append(f"  {label} {setting} ({_show(setting.value)})")
        if self.note:
            lines.append(f"  note: {self.note}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the CLI's ``--format json``, ``GET /v1/config/{key}?explain=1``)."""
        return {
            "key": self.key,
            "version": self.version,
            "found": self.found,
            "value": self.value,
            "sensitive": self.sensitive,
            "layer": self.layer,
            "set_by": [s.to_dict() for s in self.set_by],
            "overrode": [s.to_dict() for s in self.overrode],
            "note": self.note,
        }


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=dict)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_ABSENT: Any = object()


class Origin:
    """The documents a snapshot was assembled from, and where each one-value document went.

    Args:
        documents: the raw documents, lowest precedence first.
        paths: per document, the path a one-value document was placed at (``None`` for a
            whole document, or a value that was left out), from `Assembled.paths`.
    """

    __slots__ = ("_parts", "documents", "paths")

    def __init__(self, documents: Sequence[RawDocument], paths: Sequence[Key | None]) -> None:
        self.documents = tuple(documents)
        self.paths = tuple(paths)
        self._parts: tuple[Any, ...] | None = None

    def _parsed(self) -> tuple[Any, ...]:
        parts = self._parts
        if parts is None:  # parsed once, on the first explanation (two threads may both do it)
            found: list[Any] = []
            for doc, placed in zip(self.documents, self.paths, strict=True):
                if doc.key is None:
                    found.append(parse(doc.data, doc.format, name=doc.name))
                elif placed is None:
                    found.append(None)  # left out: it set nothing
                else:
                    value: Any = value_of(doc)
                    for segment in reversed(placed):
                        value = {segment: value}
                    found.append(value)
            parts = self._parts = tuple(found)
        return parts

    def explain(
        self,
        path: Path,
        *,
        value: Any,
        version: int | None,
        sensitive: Callable[[Path], bool],
    ) -> Explanation:
        """Replay the merge for ``path`` (see the module docstring)."""
        set_by: list[tuple[int, Any]] = []
        overrode: list[tuple[int, Any]] = []
        for i, part in enumerate(self._parsed()):
            if part is None:
                continue
            node, state = part, "set"
            for segment in path:
                if isinstance(node, list) and str(segment).isdigit():
                    if int(segment) >= len(node):
                        state = "absent"
                        break
                    node = node[int(segment)]  # a list is set whole, by one layer
                    continue
                if not isinstance(node, Mapping):
                    state = "cleared"  # a non-mapping at an ancestor replaces all under it
                    break
                if segment not in node:
                    state = "absent"
                    break
                node = node[segment]
            if state == "absent":
                continue
            merges = state == "set" and isinstance(node, Mapping) and set_by
            if merges and isinstance(set_by[-1][1], Mapping):
                set_by.append((i, node))
                continue
            overrode[:0] = reversed(set_by)
            set_by = [(i, node)] if state == "set" else []
        secret = sensitive(path)

        def setting(i: int, raw: Any) -> Setting:
            doc = self.documents[i]
            return Setting(doc.layer, self._where(doc, path), redact(raw, sensitive, path))

        shown = redact(value, sensitive, path) if value is not _ABSENT else None
        settings = tuple(setting(i, raw) for i, raw in set_by)
        if value is not _ABSENT and not settings:  # no layer has it: a default filled it in
            settings = (Setting("schema", "the schema's default", shown),)
        return Explanation(
            key=to_dotted(path),
            version=version,
            found=value is not _ABSENT,
            value=shown,
            sensitive=secret,
            set_by=settings,
            overrode=tuple(setting(i, raw) for i, raw in overrode),
        )

    def _where(self, doc: RawDocument, path: Path) -> str:
        if doc.key is not None:
            return doc.name
        pointer = to_pointer(path)
        line = locate(doc.data, doc.format, [pointer]).get(pointer)
        return doc.name if line is None else f"{doc.name}:{line}"


def unexplained(
    path: Path, *, value: Any, version: int, source: str, sensitive: Callable[[Path], bool]
) -> Explanation:
    """The explanation of a version whose documents are not known (restored from history)."""
    found = value is not _ABSENT
    shown = redact(value, sensitive, path) if found else None
    return Explanation(
        key=to_dotted(path),
        version=version,
        found=found,
        value=shown,
        sensitive=sensitive(path),
        set_by=(Setting("history", f"v{version} ({source})", shown),) if found else (),
        note=f"v{version} was restored from the history ({source}), not read from its layers "
        "in this process: which layer set each value is not recorded",
    )


ABSENT = _ABSENT
"""The ``value`` to pass for a key the version does not have."""


def explain(snapshot: Snapshot, key: str, sensitive: Callable[[Path], bool]) -> Explanation:
    """Explain a dotted key of a snapshot: replay its `Origin`, or say it has none."""
    path = split_dotted(key)
    found = snapshot.lookup(key, _ABSENT)
    origin = snapshot._origin
    if origin is None:
        return unexplained(
            path, value=found, version=snapshot.version, source=snapshot.source, sensitive=sensitive
        )
    return origin.explain(path, value=found, version=snapshot.version, sensitive=sensitive)


def secret_paths(stored: str | None) -> frozenset[tuple[str, ...]]:
    """The secret paths kept in the store's meta (JSON), or none when unreadable."""
    try:
        found = json.loads(stored) if stored else []
        return frozenset(tuple(str(part) for part in path) for path in found)
    except (ValueError, TypeError):
        log.error("hotconf: the stored secret paths are unreadable; starting from none")
        return frozenset()


def secret_paths_json(paths: frozenset[tuple[str, ...]]) -> str:
    """What `secret_paths` reads back."""
    return json.dumps(sorted(paths))


__all__ = [
    "ABSENT", "Explanation", "Origin", "Setting", "explain", "secret_paths", "secret_paths_json",
    "unexplained",
]  # fmt: skip
