"""The limits rule: number bounds and ``multipleOf``; string length, ``pattern``, ``format``.

A limit that lets fewer values pass narrows, and its reason names the values in between
(``minimum raised from 1 to 5: values 1..4 are now rejected``). ``exclusiveMinimum`` and
``exclusiveMaximum`` are numbers, or flags in draft-04 and OpenAPI 3.0. A ``multipleOf`` changed
to a multiple of itself narrows, to a divisor widens, otherwise it changes both ways. A changed
``pattern`` is semantic (hotconf does not compare regular expressions), and so is a changed
``format`` that the validator checks on both sides; a format it does not check has no effect.
`_count` compares the counts of characters, items and keys for the array and object rules too.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .comparator import Comparator, Effect, Path, _moved
from .navigate import Node, allows, types

_ANNOTATION_FORMATS = frozenset({"password"})  # hotconf reads it to redact; nobody checks it
_UNITS = {"Length": "characters", "Items": "items", "Properties": "keys", "Contains": "matches"}


def compare_limits(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    """Bounds and ``multipleOf`` of numbers, length and ``pattern`` of strings, ``format``."""
    to, tn = types(o), types(n)
    if allows(to, "number") and allows(tn, "number"):
        _bound(cmp, o, n, path, True, to, tn)
        _bound(cmp, o, n, path, False, to, tn)
        _multiple_of(cmp, o, n, path)
    if allows(to, "string") and allows(tn, "string"):
        _count(cmp, o, n, path, "minLength", "maxLength")
        _pattern(cmp, o, n, path)
    _format(cmp, o, n, path)


def _bound(cmp: Comparator, o: Node, n: Node, path: Path, lower: bool, to: Any, tn: Any) -> None:
    bo, bn = _effective_bound(o, lower), _effective_bound(n, lower)
    if bo is None or bn is None:
        if bo is not None or bn is not None:
            state, effect, verdict = _moved(bo is None)
            bound = bn or bo
            assert bound is not None
            where = (o if bn is None else n).at(bound[2])
            text = f"{_bound_text(bound)} {state}: values {_outside(bound, lower)} are now "
            old, new = bo and bo[0], bn and bn[0]
            cmp.emit(f"limit_{state}", path, where, effect, text + verdict, old, new)
        return
    if bo[:2] == bn[:2]:
        return
    tighter = _strictness(bn, lower) > _strictness(bo, lower)
    state, effect, verdict = _tightened(tighter)
    integers = to is not None and tn is not None and to | tn <= {"integer"}
    span = _between(*((bo, bn) if tighter else (bn, bo)), lower, integers)
    if bo[2] == bn[2]:
        head = f"{bo[2]} {'raised' if bn[0] > bo[0] else 'lowered'} from {bo[0]} to {bn[0]}"
    else:
        head = f"{_bound_text(bo)} became {_bound_text(bn)}"
    text = f"{head}: values {span} are now {verdict}"
    cmp.emit(f"limit_{state}", path, n.at(bn[2]), effect, text, bo[0], bn[0])


def _multiple_of(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    if cmp.presence("multiple_of", path, o, n, "multipleOf", "non-multiples are"):
        return
    mo, mn = _number(o.get("multipleOf")), _number(n.get("multipleOf"))
    if mo is None or mn is None or Fraction(str(mo)) == Fraction(str(mn)):
        return
    ratio = Fraction(str(mn)) / Fraction(str(mo))
    effect: Effect = "narrow" if ratio.denominator == 1 else "widen"
    effect = effect if ratio.denominator == 1 or ratio.numerator == 1 else "change"
    shown = f"multiples of {mo} that are not multiples of {mn} are now rejected"
    shown = _either(effect, shown, f"every multiple of {mn} is now accepted", shown)
    text = f"multipleOf changed from {mo} to {mn}: {shown}"
    cmp.emit("multiple_of_changed", path, n.at("multipleOf"), effect, text, mo, mn)


def _count(
    cmp: Comparator, o: Node, n: Node, path: Path, low: str, high: str, floor: int = 0
) -> None:
    unit = _UNITS[low[3:]]
    for name, lower in ((low, True), (high, False)):
        vo, vn = _number(o.get(name)), _number(n.get(name))
        if lower:
            vo, vn = floor if vo is None else vo, floor if vn is None else vn
        if vo == vn:
            continue
        where = (n if n.get(name) is not None else o).at(name)
        if vo is None or vn is None or (lower and floor in (vo, vn)):
            state, effect, verdict = _moved(vn is not None and vn != floor if lower else vo is None)
            text = f"{name} {vn if state == 'added' else vo} {state}: values with "
            text += f"{'fewer' if lower else 'more'} {unit} are now {verdict}"
            cmp.emit(f"limit_{state}", path, where, effect, text, o.get(name), n.get(name))
            continue
        state, effect, verdict = _tightened(vn > vo if lower else vn < vo)
        first, last = (min(vo, vn), max(vo, vn) - 1) if lower else (min(vo, vn) + 1, max(vo, vn))
        span = f"{first}" if first == last else f"{first}..{last}"
        text = f"{name} {'raised' if vn > vo else 'lowered'} from {vo} to {vn}: values with "
        text += f"{span} {unit} are now {verdict}"
        cmp.emit(f"limit_{state}", path, where, effect, text, vo, vn)


def _pattern(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    if cmp.presence("pattern", path, o, n, "pattern", "non-matching strings are"):
        return
    po, pn = o.get("pattern"), n.get("pattern")
    if po != pn:
        text = f"pattern changed from {po!r} to {pn!r}: which strings match both is unprovable"
        cmp.emit("pattern_changed", path, n.at("pattern"), "semantic", text, po, pn)


def _format(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    ro, rn = o.get("format"), n.get("format")
    if ro == rn:
        return
    eo, en = _checked_format(o, ro), _checked_format(n, rn)
    where = (n if rn is not None else o).at("format")
    if eo == en:
        state = "changed" if ro and rn else "added" if rn else "removed"
        text = f"format {state} ({ro!r} -> {rn!r}): not checked by the validator, no effect"
        cmp.emit(f"format_{state}", path, where, "none", text, ro, rn)
    elif eo is not None and en is not None:
        text = f"format changed from {eo!r} to {en!r}: which strings pass both is unprovable"
        cmp.emit("format_changed", path, where, "semantic", text, ro, rn)
    else:
        state, effect, verdict = _moved(eo is None)
        text = f"format {en or eo!r} {state}: strings that are not a valid {en or eo} are now "
        cmp.emit(f"format_{state}", path, where, effect, text + verdict, ro, rn)


def _tightened(tighter: bool) -> tuple[str, Effect, str]:
    return ("tightened", "narrow", "rejected") if tighter else ("relaxed", "widen", "accepted")


def _either(effect: Effect, narrow: str, widen: str, other: str = "change") -> str:
    return {"narrow": narrow, "widen": widen}.get(effect, other)


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _effective_bound(node: Node, lower: bool) -> tuple[Any, bool, str] | None:
    name, flag = ("minimum", "exclusiveMinimum") if lower else ("maximum", "exclusiveMaximum")
    value, exclusive = _number(node.get(name)), node.get(flag)
    found: list[tuple[Any, bool, str]] = []
    if node.side.bool_exclusive:  # draft-04 and OpenAPI 3.0: exclusiveMinimum is a flag
        if value is not None:
            found.append((value, exclusive is True, flag if exclusive is True else name))
    else:
        found += [(value, False, name)] if value is not None else []
        found += [(exclusive, True, flag)] if _number(exclusive) is not None else []
    return max(found, key=lambda b: _strictness(b, lower)) if found else None


def _strictness(bound: tuple[Any, bool, str], lower: bool) -> tuple[Any, bool]:
    return (bound[0] if lower else -bound[0], bound[1])


def _bound_text(bound: tuple[Any, bool, str]) -> str:
    return f"{bound[2]} {bound[0]}"


def _outside(bound: tuple[Any, bool, str], lower: bool) -> str:
    op = ("<=" if bound[1] else "<") if lower else (">=" if bound[1] else ">")
    return f"{op} {bound[0]}"


def _between(
    loose: tuple[Any, bool, str], strict: tuple[Any, bool, str], lower: bool, integers: bool
) -> str:
    """The values the ``loose`` bound accepts and the ``strict`` one rejects."""
    if lower:
        lo, lo_in, hi, hi_in = loose[0], not loose[1], strict[0], strict[1]
    else:
        lo, lo_in, hi, hi_in = strict[0], strict[1], loose[0], not loose[1]
    if integers and float(lo).is_integer() and float(hi).is_integer():
        first, last = int(lo) + (not lo_in), int(hi) - (not hi_in)
        return str(first) if first == last else f"{first}..{last}"
    if lo == hi:
        return f"equal to {lo}"
    return f"{'>=' if lo_in else '>'} {lo} and {'<=' if hi_in else '<'} {hi}"


def _checked_format(node: Node, value: Any) -> str | None:
    known = isinstance(value, str) and value in node.side.checker.checkers
    return value if known and value not in _ANNOTATION_FORMATS else None
