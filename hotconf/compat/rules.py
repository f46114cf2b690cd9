"""The rules behind `hotconf.compat`, in order: two schemas in, `Finding`s out.

A schema is read as the set of configs it accepts. `compare_schemas` walks the old and the new
schema side by side (following ``$ref`` on both sides, with cycle protection) and says, keyword
by keyword, whether the new set is wider, narrower, different, or not provably any of these
("semantic"). The keywords of one schema object are a conjunction, so a node whose findings all
widen (narrow) widens (narrows) as a whole: that is what makes per-keyword verdicts sound. What
a mode makes of an effect is `hotconf.compat.report`'s business.

`RULES` lists the rules, one per family of keywords (each in its own module: values, limits,
arrays, objects, composition), then ``default`` and every other keyword, compared here. The
`Comparator` runs them in that order at each pair of subschemas it reaches.
"""

from __future__ import annotations

from collections.abc import Callable

from ..pipeline.schema import Schema
from ..pipeline.snapshot import REDACTED
from .arrays import compare_arrays
from .comparator import Comparator, Finding, Path, Rule
from .composition import compare_compositions
from .limits import compare_limits
from .navigate import _MISSING, _REFS, Node, Side, value_key
from .objects import compare_objects
from .subsume import refine
from .values import compare_values

MAX_COMPARISONS = 50_000
MAX_DEPTH = 64  # nested schema levels; each costs several Python stack frames

_HANDLED = frozenset(
    {
        "type", "nullable", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format",
        "minItems", "maxItems", "uniqueItems", "items", "prefixItems", "additionalItems",
        "contains", "minContains", "maxContains", "unevaluatedItems", "required", "properties",
        "patternProperties", "additionalProperties", "unevaluatedProperties", "propertyNames",
        "minProperties", "maxProperties", "dependentRequired", "dependentSchemas",
        "dependencies", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "discriminator",
        *_REFS,
    }
)  # fmt: skip
# Locations and identifiers: what they change is seen through the references they resolve.
_STRUCTURAL = frozenset(
    {"$defs", "definitions", "$id", "id", "$anchor", "$dynamicAnchor", "$recursiveAnchor",
     "$schema", "$vocabulary", "default"}
)  # fmt: skip


def _default(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    do, dn = o.schema.get("default", _MISSING), n.schema.get("default", _MISSING)
    if value_key(do) == value_key(dn):
        return
    shown_o, shown_n = (cmp.show(v, path) for v in (do, dn))
    if do is _MISSING:
        kind, text = "default_added", f"default {shown_n} added"
    elif dn is _MISSING:
        kind, text = "default_removed", f"default {shown_o} removed"
    else:
        kind, text = "default_changed", f"default changed from {shown_o} to {shown_n}"
    old, new = (None if v is _MISSING else v for v in (do, dn))
    where = (o if dn is _MISSING else n).at("default")
    text += ": configs that leave it out change meaning"
    cmp.emit(kind, path, where, "none", text, old, new)


def _rest(cmp: Comparator, o: Node, n: Node, path: Path) -> None:
    so, sn = o.schema, n.schema
    for key in [*so, *(k for k in sn if k not in so)]:
        active = key in o.side.active or key in n.side.active
        vo, vn = so.get(key, _MISSING), sn.get(key, _MISSING)
        if key in _STRUCTURAL or (active and key in _HANDLED) or value_key(vo) == value_key(vn):
            continue
        where = (n if vn is not _MISSING else o).at(key)
        vo, vn = (None if v is _MISSING else v for v in (vo, vn))
        if active:
            text = f"{key} changed: how it changes what is accepted is unknown to hotconf"
            cmp.emit("keyword_changed", path, where, "semantic", text, vo, vn)
        else:
            hide = key in ("examples", "example", "const", "enum") and cmp.sensitive(path)
            vo, vn = (None if v is None else REDACTED if hide else v for v in (vo, vn))
            text = f"{key} changed (metadata: does not affect validation)"
            cmp.emit("metadata_changed", path, where, "none", text, vo, vn)


# The order of the rules is the order of the findings in a report.
RULES: tuple[Rule, ...] = (
    compare_values,
    compare_limits,
    compare_arrays,
    compare_objects,
    compare_compositions,
    _default,
    _rest,
)


def compare_schemas(
    old: Schema, new: Schema, sensitive: Callable[[Path], bool]
) -> tuple[list[Finding], Side, Side]:
    """Every `Finding` between two schemas, in schema order, without duplicates."""
    old_side, new_side = Side(old), Side(new)
    cmp = Comparator(
        sensitive, RULES, max_comparisons=MAX_COMPARISONS, max_depth=MAX_DEPTH, refine=refine
    )
    if old.dialect != new.dialect:
        text = f"dialect changed from {old.dialect} to {new.dialect}: keywords may mean otherwise"
        cmp.emit("dialect_changed", (), "", "semantic", text, old.dialect, new.dialect)
    cmp.compare(old_side.root, new_side.root, ())
    if cmp.truncated and not any(f.kind == "comparison_truncated" for f in cmp.findings):
        # the limit was met inside comparisons collected aside: the walk stopped all the same
        text = "schemas too large or too deeply nested to compare fully; rest skipped"
        cmp.emit("comparison_truncated", (), new_side.root.pointer, "semantic", text)
    seen: set[tuple[str, Path, str, str]] = set()
    unique = []
    for f in cmp.findings:  # a subschema reached twice on the same path reports once
        if (f.kind, f.path, f.pointer, f.reason) not in seen:
            seen.add((f.kind, f.path, f.pointer, f.reason))
            unique.append(f)
    return unique, old_side, new_side
