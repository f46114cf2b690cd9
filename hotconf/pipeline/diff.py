"""Two documents in, the tuple of `Change`s between them out; the only importer of deepdiff.

A direct, single-pass walk does the work: mappings key by key, lists index by index (a list
holding the same items in another order is one ``list_reordered``), types compared strictly
(``1``, ``1.0`` and ``true`` differ, as they do in the canonical checksum, and so do ``0.0``
and ``-0.0``, which ``==`` takes for equal). Unchanged
subtrees cost one identity check or one strict comparison and are never reported.

Lists the schema marks as sets (``x-hotconf-set: true``) are compared without order by
DeepDiff (``ignore_order``), which reports items added and removed by value: that is where
its matching pays; everywhere else the direct walk is ~70x faster on large configs. DeepDiff
is imported then, on the first such list, not with this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from math import copysign
from typing import Any, Literal

from . import encode
from .levels import Level
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
        new: the value after (``None`` when removed; the default it falls back to when the
            defaults stage filled it in: `hotconf.pipeline.impact`).
        sensitive: the path holds a secret; `redacted` hides both values.
        level: how much it matters (set by `hotconf.pipeline.impact`).
        reason: why it has that level, for a human.
    """

    path: Path
    kind: ChangeKind
    old: Any = None
    new: Any = None
    sensitive: bool = False
    level: Level = Level.SAFE
    reason: str = ""

    @property
    def pointer(self) -> str:
        return to_pointer(self.path)

    def redacted(self) -> Change:
        """This change with secret values replaced by ``REDACTED``.

        The change itself is still reported (docs/architecture.md, invariant 8).
        """
        if not self.sensitive:
            return self
        return replace(
            self,
            old=None if self.old is None else REDACTED,
            new=None if self.new is None else REDACTED,
        )


def _seq(value: Any) -> bool:
    return isinstance(value, list | tuple)


def changes(
    old: Any,
    new: Any,
    *,
    sensitive: Callable[[Path], bool] | None = None,
    is_set: Callable[[Path], bool] | None = None,
) -> tuple[Change, ...]:
    """Every change between ``old`` and ``new``, in document order.

    Args:
        old: the previous config (plain or frozen data).
        new: the candidate config.
        sensitive: tells whether a path holds a secret; such changes are marked
            ``sensitive`` (use `Change.redacted` before showing them).
        is_set: tells whether the list at a path is a set (order does not matter).

    Returns:
        The changes; empty when the two are semantically equal.
    """
    out: list[Change] = []
    same = strict_equal()
    set_lists = [0]  # how many set lists were compared (DeepDiff)

    def emit(path: Path, kind: ChangeKind, a: Any, b: Any) -> None:
        out.append(Change(path, kind, a, b, bool(sensitive and sensitive(path))))

    def walk(path: Path, a: Any, b: Any) -> None:
        if a is b:
            return
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            if same(a, b):
                return
            for key, x in a.items():
                if key in b:
                    walk((*path, key), x, b[key])
                else:
                    emit((*path, key), "key_removed", x, None)
            for key, y in b.items():
                if key not in a:
                    emit((*path, key), "key_added", None, y)
        elif _seq(a) and _seq(b):
            if same(a, b):
                return
            if is_set is not None and is_set(path):
                walk_set(path, a, b)
            else:
                walk_list(path, a, b)
        elif type(a) is not type(b):
            emit(path, "type_changed", a, b)
        elif a != b or (type(a) is float and a == 0.0 and copysign(1.0, a) != copysign(1.0, b)):
            emit(path, "value_changed", a, b)  # 0.0 to -0.0 too: the canonical form differs

    def walk_list(path: Path, a: Sequence[Any], b: Sequence[Any]) -> None:
        mark = len(out)
        sets = set_lists[0]
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            walk((*path, i), x, y)
        if len(out) == mark and len(a) == len(b):
            return
        # A reordering moves two items at least, so one changed index is no reordering
        # (unless a set list inside compared equal but canonically different).
        moved = set_lists[0] != sets or len({c.path[len(path)] for c in out[mark:]}) > 1
        if len(a) == len(b) and moved and _same_items(a, b):
            del out[mark:]
            emit(path, "list_reordered", a, b)
            return
        for i in range(len(b), len(a)):
            emit((*path, i), "item_removed", a[i], None)
        for i in range(len(a), len(b)):
            emit((*path, i), "item_added", None, b[i])

    def walk_set(path: Path, a: Sequence[Any], b: Sequence[Any]) -> None:
        from deepdiff import DeepDiff

        set_lists[0] += 1
        found = DeepDiff(
            list(a),
            list(b),
            ignore_order=True,
            report_repetition=False,
            cutoff_intersection_for_pairs=0.0,  # never pair items: a set member changes whole
            threshold_to_diff_deeper=0,
            view="tree",
        )
        removed = {
            tuple(item.path(output_format="list")): item.t1
            for item in found.get("iterable_item_removed", ())
        }
        added = {
            tuple(item.path(output_format="list")): item.t2
            for item in found.get("iterable_item_added", ())
        }
        # DeepDiff hashes 0.0 and -0.0 alike; the canonical form does not: a member it
        # matched by that hash alone is still removed and added
        ka, kb = list(map(canonical_json, a)), list(map(canonical_json, b))
        sa, sb = set(ka), set(kb)
        removed.update(
            {(i,): x for i, x in enumerate(a) if ka[i] not in sb and (i,) not in removed}
        )
        added.update({(i,): y for i, y in enumerate(b) if kb[i] not in sa and (i,) not in added})
        for at in sorted(removed):
            emit((*path, *at), "item_removed", removed[at], None)
        for at in sorted(added):
            emit((*path, *at), "item_added", None, added[at])

    walk((), old, new)
    return tuple(out)


def strict_equal() -> Callable[[Any, Any], bool]:
    """A quick test that two subtrees are equal, types included (``1``, ``1.0``, ``true``
    and ``0.0``/``-0.0`` differ), so the walk can skip them; it may say False for equal ones.

    Two C-level steps: ``==`` (which takes ``1 == 1.0 == True``), then, only where that
    holds, orjson's bytes of both, which tell those apart. Without orjson: always False
    (the walk decides).
    """
    orjson = encode._fast()
    if orjson is None:
        return _never
    dumps = orjson.dumps
    option = orjson.OPT_SORT_KEYS

    def same(a: Any, b: Any) -> bool:
        if a != b:
            return False
        try:
            return bool(
                dumps(a, option=option, default=dict) == dumps(b, option=option, default=dict)
            )
        except (TypeError, orjson.JSONEncodeError):  # an int beyond 64 bits...
            return False

    return same


def _never(a: Any, b: Any) -> bool:
    return False


def _same_items(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return sorted(map(canonical_json, a)) == sorted(map(canonical_json, b))
