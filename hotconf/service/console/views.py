"""What the console's templates show, shaped from hotconf's own values: config rows, version
rows with their level, change rows of an impact report, problems with file:line, readiness.

Everything here is plain data for Jinja; nothing renders HTML (the templates escape it all).
Secret values arrive redacted unless the caller holds a token (`config_rows`), and reports,
rejections and listings never carry one.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...errors import Problem
from ...pipeline.impact import ImpactReport
from ...pipeline.levels import LEVELS, Level
from ...pipeline.paths import Path, to_dotted
from ...pipeline.redaction import scrub_text
from ...pipeline.snapshot import REDACTED, VersionInfo, thaw

KINDS = {
    "value_changed": "changed",
    "type_changed": "type changed",
    "key_added": "added",
    "key_removed": "removed",
    "item_added": "item added",
    "item_removed": "item removed",
    "list_reordered": "reordered",
}

LEVEL_MEANINGS = {
    Level.NONE: "semantically the same: order, comments, quoting",
    Level.SAFE: "a value changed within the schema; an optional key or item added",
    Level.RISKY: "a key removed, a type changed, a list reordered, a 10x change, or marked risky",
    Level.RESTART: "a key marked x-hotconf-reload: restart changed: felt after a restart",
    Level.BREAKING: "invalid: the candidate is refused",
}

STATES = {
    "starting": "Starting: the config is being read and validated.",
    "warming": "Warming up: the config is loaded; the service is getting ready.",
    "ready": "Ready: the config served is the source's.",
    "degraded": "Degraded: the source is rejected, so the last-known-good is served.",
    "failed": "Failed: there is no valid config to serve.",
    "shutting_down": "Shutting down.",
}


def when(moment: datetime | str | None) -> str:
    """A time as people read it: ``2025-01-31 14:03:07 UTC`` (seconds are enough here)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def show(value: Any) -> str:
    """A value as compact JSON (strings quoted, so ``"5"`` and ``5`` differ on screen)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=dict)


@dataclass(frozen=True, slots=True)
class ConfigRow:
    """One leaf of the config: its dotted key and its value (or that it is redacted)."""

    key: str
    value: str
    secret: bool
    redacted: bool


def config_rows(
    data: Any, sensitive: Callable[[Path], bool], secrets: bool, path: Path = ()
) -> list[ConfigRow]:
    """The config flattened to one row per leaf, secrets redacted unless ``secrets`` (and,
    unless ``secrets``, the passwords inside strings: `hotconf.pipeline.redaction`)."""
    secret = bool(path) and sensitive(path)
    if secret and not secrets:
        return [ConfigRow(to_dotted(path), REDACTED, True, True)]
    if isinstance(data, Mapping) and data:
        return [
            row for k, v in data.items() for row in config_rows(v, sensitive, secrets, (*path, k))
        ]
    if isinstance(data, list | tuple) and data and not secret:
        return [
            row
            for i, v in enumerate(data)
            for row in config_rows(v, sensitive, secrets, (*path, i))
        ]
    if isinstance(data, str) and not secrets:  # a password inside a URL or a DSN
        data = scrub_text(data)
    return [ConfigRow(to_dotted(path) or "(root)", show(data), secret, False)]


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One change of an impact report, for a table row."""

    key: str
    pointer: str
    kind: str
    level: str
    reason: str
    old: str | None
    new: str | None
    secret: bool
    default: bool
    """``new`` is the default a removed key falls back to."""


def change_rows(report: ImpactReport) -> list[ChangeRow]:
    """The report's changes, highest level first, then by key (values redacted as given)."""
    rows = []
    for c in report.changes:
        added = c.kind in ("key_added", "item_added")
        removed = c.kind in ("key_removed", "item_removed")
        rows.append(
            ChangeRow(
                key=to_dotted(c.path) or "(root)",
                pointer=c.pointer,
                kind=KINDS.get(c.kind, c.kind.replace("_", " ")),
                level=str(c.level),
                reason=c.reason,
                old=None if added else show(thaw(c.old)),
                new=None if removed and c.new is None else show(thaw(c.new)),
                secret=c.sensitive,
                default=removed and c.new is not None,
            )
        )
    rank = {str(level): n for n, level in enumerate(LEVELS)}
    rows.sort(key=lambda r: (-rank[r.level], r.key))
    return rows


def level_counts(report: ImpactReport) -> list[tuple[str, int]]:
    """``[(level, n), ...]`` for the levels that occur, highest first."""
    return [
        (str(level), report.counts[level]) for level in reversed(LEVELS) if report.counts[level]
    ]


@dataclass(frozen=True, slots=True)
class ProblemRow:
    """A problem of a rejected candidate: where (file:line and path) and what."""

    where: str
    path: str
    message: str
    code: str


def problem_rows(problems: Iterable[Problem]) -> list[ProblemRow]:
    rows = []
    for p in problems:
        where = p.source or ""
        if where and p.line is not None:
            where = f"{where}:{p.line}"
        rows.append(ProblemRow(where, p.path, p.message, p.code))
    return rows


@dataclass(frozen=True, slots=True)
class Summary:
    """What a version changed, as the timeline shows it."""

    level: str
    changes: int


class Summaries:
    """The level and number of changes of each version against the one before it, kept.

    Computed as ``GET /v1/diff`` computes them (`LiveConfig.compare`), so the timeline and
    the diff page agree, once per version when first shown: versions never change, so an
    entry never goes stale.

    Args:
        size: how many versions to remember.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._known: OrderedDict[int, Summary] = OrderedDict()

    def record(self, version: int, report: ImpactReport) -> None:
        with self._lock:
            self._known[version] = Summary(str(report.level), report.counts["total"])
            self._known.move_to_end(version)
            while len(self._known) > self._size:
                self._known.popitem(last=False)

    def get(self, version: int) -> Summary | None:
        with self._lock:
            return self._known.get(version)

    def fill(self, versions: Iterable[VersionInfo], compare: Callable[[int, int], Any]) -> None:
        """Compute the summaries still missing (blocking: call it in a worker thread)."""
        for info in versions:
            if info.version > 1 and self.get(info.version) is None:
                self.record(info.version, compare(info.version - 1, info.version))


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One version in the timeline."""

    version: int
    created_at: datetime
    source: str
    status: str
    rolled_back_from: int | None
    restores: int | None
    summary: Summary | None
    current: bool


def version_rows(
    history: Iterable[VersionInfo], current: int, summaries: Summaries
) -> list[VersionRow]:
    return [
        VersionRow(
            version=i.version,
            created_at=i.created_at,
            source=i.source,
            status=i.status,
            rolled_back_from=i.rolled_back_from,
            restores=i.restores,
            summary=summaries.get(i.version),
            current=i.version == current,
        )
        for i in history
    ]
