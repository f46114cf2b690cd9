"""`Snapshot`: one immutable, versioned config, and the canonical form its checksum hashes.

A snapshot is a ``dict`` subclass whose mutators raise, holding read-only data all the way
down: nested mappings are ``MappingProxyType``, lists are tuples (docs/architecture.md,
invariant 2). It is a ``dict`` so that ``live.current["db"]["pool"]`` stays C-speed item
lookups; ``get`` on a dotted key goes through a per-snapshot memo, safe because nothing in a
snapshot changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from sys import intern
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

from .paths import Path, split_dotted

if TYPE_CHECKING:
    from .provenance import Origin

REDACTED = "<redacted>"
"""What a secret value is replaced with in reports, events, logs and listings (invariant 8)."""

_ABSENT: Any = object()
ABSENT: Any = _ABSENT
"""What a snapshot's memo holds for a key that is not there."""
_MEMO_SIZE = 4096


def freeze(value: Any) -> Any:
    """Deep-freeze plain JSON data: dicts become ``MappingProxyType``, lists tuples."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or isinstance(value, Mapping):
        # Interned keys make each lookup an identity check instead of a string compare.
        return MappingProxyType(
            {intern(k): v if type(v) in _SCALARS else freeze(v) for k, v in value.items()}
        )
    if isinstance(value, list | tuple):
        return tuple([v if type(v) in _SCALARS else freeze(v) for v in value])
    return value


def thaw(value: Any) -> Any:
    """The inverse of `freeze`: plain, mutable ``dict``/``list`` data (a deep copy)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is MappingProxyType or isinstance(value, Mapping):
        return {k: v if type(v) in _SCALARS else thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [v if type(v) in _SCALARS else thaw(v) for v in value]
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})  # exact types: subclasses walk on


def redact(value: Any, sensitive: Callable[[Path], bool], path: Path = ()) -> Any:
    """A plain copy of ``value`` (found at ``path``) with every value at a sensitive path
    replaced by `REDACTED`, and the passwords inside every other string (URLs, DSNs) too."""
    if sensitive(path):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: redact(v, sensitive, (*path, k)) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [redact(v, sensitive, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, str):  # a password inside a URL or a DSN (hotconf.pipeline.redaction)
        from .redaction import scrub_text

        return scrub_text(value)
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON-compatible: {type(value).__name__}")


def canonical_json(data: Any) -> bytes:
    """The canonical form of config data: sorted keys, no whitespace, UTF-8, no NaN.

    ``4`` and ``4.0`` stay distinct, so do ``1`` and ``true``; key order, comments, anchors
    and quoting do not survive parsing, so they never change it.
    """
    text = json.dumps(
        data,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )
    return text.encode("utf-8")


def checksum(data: Any) -> str:
    """sha256 hex digest of `canonical_json`."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


def list_index(seg: object) -> int | None:
    """A path segment as a list index, or None when it is not one.

    Only canonical, non-negative indexes count: an ``int`` from 0, or a string of ASCII
    digits without a leading zero (``"0"``, ``"12"``). ``"-1"``, ``"00"``, ``"+1"``,
    ``" 1"``, ``"1_0"`` and non-ASCII digits name nothing: a dotted key from outside (an HTTP path)
    must not reach an item by the back door of Python's ``int()`` and negative indexing.
    """
    if isinstance(seg, int):
        return int(seg) if seg >= 0 else None
    if isinstance(seg, str) and seg.isascii() and seg.isdigit() and (seg == "0" or seg[0] != "0"):
        return int(seg)
    return None


def lookup(data: Any, path: Iterable[str | int]) -> Any:
    """Follow ``path`` through mappings and sequences; raise ``KeyError`` where it stops.

    A sequence is indexed by `list_index` segments only.
    """
    node = data
    for seg in path:
        if isinstance(node, Mapping):
            node = node[seg]
        elif isinstance(node, tuple | list):
            index = list_index(seg)
            if index is None or index >= len(node):
                raise KeyError(seg)
            node = node[index]
        else:
            raise KeyError(seg)
    return node


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One entry of the history: what a version is, without its data.

    ``status`` is ``"applied"`` for a version that came from the source and ``"rollback"`` for
    one made by `LiveConfig.rollback`; then ``rolled_back_from`` is the version it replaced and
    ``restores`` the version whose content it carries.
    """

    version: int
    checksum: str
    created_at: datetime
    source: str
    status: str = "applied"
    rolled_back_from: int | None = None
    restores: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "checksum": self.checksum,
            "created_at": self.created_at.isoformat(),
            "source": self.source,
            "status": self.status,
            "rolled_back_from": self.rolled_back_from,
            "restores": self.restores,
        }


class Snapshot(dict[str, Any]):
    """A deep-frozen config with its version metadata.

    Read it like a mapping: ``snap["db"]["pool_size"]``; nested mappings are read-only and
    lists are tuples. ``snap.get("db")`` is the plain mapping ``get``; `lookup` takes a
    dotted key. ``repr`` never shows values, so logging a snapshot leaks no secret.

    Attributes:
        version: the version number (starts at 1, only goes up).
        checksum: sha256 hex of the canonical JSON of the data.
        created_at: when this version was made (UTC).
        source: where the data came from (file paths, ``rollback``, ...).
        info: the `VersionInfo` of this version.
    """

    __slots__ = ("_memo", "_origin", "info")

    info: VersionInfo
    _memo: dict[Any, Any]
    # The documents it was assembled from, for `LiveConfig.explain` (`hotconf.pipeline.provenance`);
    # None for a version restored from the history. Metadata, not data: set when the snapshot
    # is made, or once the source is read again and gives this very content (start-up over
    # the last-known-good).
    _origin: Origin | None

    def __init__(self, data: Mapping[str, Any], info: VersionInfo) -> None:
        dict.__init__(self, ((intern(k), freeze(v)) for k, v in data.items()))
        self.info = info
        self._memo = {}
        self._origin = None

    @classmethod
    def _from_frozen(
        cls, frozen: Mapping[str, Any], info: VersionInfo, origin: Origin | None = None
    ) -> Snapshot:
        """Wrap data that `freeze` already made read-only, without freezing it again."""
        snap = cls.__new__(cls)
        dict.__init__(snap, frozen)
        snap.info = info
        snap._memo = {}
        snap._origin = origin
        return snap

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def checksum(self) -> str:
        return self.info.checksum

    @property
    def created_at(self) -> datetime:
        return self.info.created_at

    @property
    def source(self) -> str:
        return self.info.source

    def lookup(self, key: str | tuple[str | int, ...], default: Any = _ABSENT) -> Any:
        """Value at a dotted key (``"db.hosts.0"``) or a tuple path.

        Raises:
            KeyError: the key is absent and no default was given.
        """
        try:
            value = self._memo[key]
        except KeyError:
            value = self._resolve(key)
        if value is _ABSENT:
            if default is _ABSENT:
                raise KeyError(key)
            return default
        return value

    def _resolve(self, key: str | tuple[str | int, ...]) -> Any:
        path = split_dotted(key) if isinstance(key, str) else key
        try:
            value = lookup(self, path)
        except KeyError:
            value = _ABSENT
        # Keys can come from outside (HTTP): stay bounded. A tuple with a segment that is
        # neither str nor int (1.0, True) equals its int twin as a dict key: not memoized, so
        # it can never stand in for that twin's answer.
        if len(self._memo) < _MEMO_SIZE and (
            isinstance(key, str) or all(type(s) is str or type(s) is int for s in key)
        ):
            self._memo[key] = value
        return value

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable deep copy of the data."""
        return {k: thaw(v) for k, v in self.items()}

    def __repr__(self) -> str:
        return (
            f"<Snapshot version={self.version} checksum={self.checksum[:12]} keys={sorted(self)!r}>"
        )

    def _immutable(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a Snapshot is immutable; reload or roll back to change the config")

    __setitem__ = __delitem__ = _immutable
    clear = pop = popitem = setdefault = update = _immutable
    __ior__ = _immutable

    def __reduce__(self) -> tuple[Any, ...]:
        return (Snapshot, (self.to_dict(), self.info))
