"""Two documents in, the tuple of `Change`s between them out.

A direct recursive walk: mappings key by key, sequences index by index, with a reorder of
the same items reported once as ``list_reordered``. Types are compared strictly (``1``,
``1.0`` and ``true`` differ), as the canonical checksum does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from .paths import Path, to_pointer
from .snapshot import REDACTED, canonical_json

ChangeKind = Literal[
    "value_changed",
    "type_changed",
    "key_added",
    "key_removed",
    "item_added",
    "item_removed",
    "list_reordered",
]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two configs.

    Attributes:
        path: where, as a tuple of keys and list indexes (``pointer`` gives the JSON Pointer).
        kind: what happened there.
        old: the value before (``None`` when added).
        new: the value after (``None`` when removed).
        sensitive: the path holds a secret; `redacted` hides both values.
    """

    path: Path
    kind: ChangeKind
    old: Any = None
    new: Any = None
    sensitive: bool = False

    @property
    def pointer(self) -> str:
        return to_pointer(self.path)

    def redacted(self) -> Change:
        """This change with secret values replaced by ``REDACTED`` (DESIGN inv. 8)."""
        if not self.sensitive:
            return self
        return replace(
            self,
            old=None if self.old is None else REDACTED,
            new=None if self.new is None else REDACTED,
        )


def _is_seq(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _same(a: Any, b: Any) -> bool:
    if (
        type(a) is not type(b)
        and not (_is_seq(a) and _is_seq(b))
        and not (isinstance(a, Mapping) and isinstance(b, Mapping))
    ):
        return False
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if _is_seq(a):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _kind_of(value: Any) -> type:
    if isinstance(value, Mapping):
        return Mapping
    if _is_seq(value):
        return Sequence
    return type(value)


def changes(
    old: Any,
    new: Any,
    *,
    sensitive: Callable[[Path], bool] | None = None,
) -> tuple[Change, ...]:
    """Every change between ``old`` and ``new``, in document order.

    Args:
        old: the previous config (plain or frozen data).
        new: the candidate config.
        sensitive: tells whether a path holds a secret; such changes are marked
            ``sensitive`` (use `Change.redacted` before showing them).

    Returns:
        The changes; empty when the two are semantically equal.
    """
    out: list[Change] = []

    def emit(path: Path, kind: ChangeKind, a: Any, b: Any) -> None:
        secret = bool(sensitive and sensitive(path))
        out.append(Change(path, kind, a, b, secret))

    def walk(path: Path, a: Any, b: Any) -> None:
        ka, kb = _kind_of(a), _kind_of(b)
        if ka is not kb:
            emit(path, "type_changed", a, b)
        elif ka is Mapping:
            for key in a:
                if key not in b:
                    emit((*path, key), "key_removed", a[key], None)
                elif not _same(a[key], b[key]):
                    walk((*path, key), a[key], b[key])
            for key in b:
                if key not in a:
                    emit((*path, key), "key_added", None, b[key])
        elif ka is Sequence:
            walk_seq(path, a, b)
        elif a != b:
            emit(path, "value_changed", a, b)

    def walk_seq(path: Path, a: Sequence[Any], b: Sequence[Any]) -> None:
        if len(a) == len(b) and sorted(map(canonical_json, a)) == sorted(map(canonical_json, b)):
            emit(path, "list_reordered", a, b)
            return
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if not _same(x, y):
                walk((*path, i), x, y)
        for i in range(len(b), len(a)):
            emit((*path, i), "item_removed", a[i], None)
        for i in range(len(a), len(b)):
            emit((*path, i), "item_added", None, b[i])

    if not _same(old, new):
        walk((), old, new)
    return tuple(out)
