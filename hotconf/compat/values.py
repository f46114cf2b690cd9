"""The values rule: ``type`` (with OpenAPI 3.0's ``nullable``), ``enum`` and ``const``.

A type gained widens, a type lost narrows, both change (``integer`` is within ``number``);
``nullable: true`` counts as the type ``null``. ``enum`` and ``const`` are read together as the
list of values they allow, compared as JSON values (``1 == 1.0``, ``True != 1``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .comparator import Comparator, Path, _moved
from .navigate import Node, _keys, allowed_values, covered, types, value_key


def compare_values(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    """``type`` (with OpenAPI 3.0's ``nullable``), ``enum`` and ``const``."""
    _type(cmp, o, n, path, types(o), types(n))
    _values(cmp, o, n, path)


def _type(cmp: Comparator, o: Node, n: Node, path: Path, to: Any, tn: Any) -> None:
    where, old, new = (n if tn is not None else o).at("type"), _raw_type(to), _raw_type(tn)
    if to == tn:
        return
    if to is None or tn is None:
        state, effect, _ = _moved(to is None)
        what = "other types are now rejected" if to is None else "any type are accepted"
        text = f"type {_fmt_types(tn or to)} {state}: values of {what}"
        cmp.emit(f"type_{state}", path, where, effect, text, old, new)
        return
    gained = [t for t in tn if not covered(t, to)]
    lost = [t for t in to if not covered(t, tn)]
    change = f"type changed from {_fmt_types(to)} to {_fmt_types(tn)}"
    if gained and not lost:
        what = "null is" if gained == ["null"] else f"{_fmt_types(gained)} values are"
        text = f"{change}: {what} now accepted"
        cmp.emit("type_widened", path, where, "widen", text, old, new)
    elif lost:
        what = "null is" if lost == ["null"] else f"{_fmt_types(lost)} values are"
        kind, effect = ("type_changed", "change") if gained else ("type_narrowed", "narrow")
        cmp.emit(kind, path, where, effect, f"{change}: {what} now rejected", old, new)


def _values(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    vo, vn = allowed_values(o), allowed_values(n)
    if vo is None and vn is None:
        return
    name = "enum" if "enum" in o.active() | n.active() else "const"
    node = n if vn is not None else o
    where = node.at("enum" if "enum" in node.active() else "const")
    if vo is None or vn is None:
        state, effect, _ = _moved(vo is None)
        what = f"only {cmp.show(vn, path)} accepted now" if vo is None else (
            f"{cmp.show(vo, path)} no longer restricts the value")  # fmt: skip
        cmp.emit(f"{name}_{state}", path, where, effect, f"{name} {state}: {what}", vo, vn)
        return
    ko, kn = _keys(vo), _keys(vn)
    lost = [v for v in vo if value_key(v) not in kn]
    gained = [v for v in vn if value_key(v) not in ko]
    if lost and gained:
        shown_o, shown_n = (vo, vn) if name == "enum" else (vo[0], vn[0])
        text = f"{name} changed from {cmp.show(shown_o, path)} to {cmp.show(shown_n, path)}: "
        text += f"{cmp.show(lost, path)} no longer accepted"
        cmp.emit(f"{name}_changed", path, where, "change", text, vo, vn)
    elif gained:
        text = f"enum extended by {cmp.show(gained, path)}: configs with it are now accepted"
        cmp.emit("enum_extended", path, where, "widen", text, vo, vn)
    elif lost:
        text = f"{cmp.show(lost, path)} removed from enum: configs with it are now rejected"
        cmp.emit("enum_narrowed", path, where, "narrow", text, vo, vn)


def _fmt_types(allowed: Iterable[str]) -> str:
    return " or ".join(sorted(allowed)) or "nothing"


def _raw_type(allowed: frozenset[str] | None) -> Any:
    ordered = sorted(allowed or (), key=lambda t: (t == "null", t))
    return ordered[0] if len(ordered) == 1 else ordered or None
