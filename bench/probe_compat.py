"""How often `schema_diff` is wrong about an upgrade: a probe over a fixed corpus of pairs.

    python bench/probe_compat.py [--examples N] [--verbose]

Three families of schema pairs, built here (deterministic, no network):

* rewrites: a schema becomes a ``oneOf``/``anyOf`` union containing it, ``allOf``, ``anyOf``
  and ``oneOf`` trade places, branches are duplicated, a one-branch composition changes
  keyword, over pairs of leaf schemas, at the root and under a property;
* unproven: ``pattern`` and ``format`` changes, tuples beside ``unevaluatedItems`` that grow
  or shrink;
* openapi: an OpenAPI 3.0 (and 3.1) document whose ``Alias`` component is only a ``$ref``
  to ``Target``; ``Target`` is edited, and ``--pointer`` at ``Alias`` is compared with
  ``--pointer`` at ``Target``.

The truth for the first two families is decided without hotconf: a config the old schema
accepts and the new one rejects (checked with ``jsonschema``) is looked for among a fixed
list of values and among configs hypothesis-jsonschema generates for the old schema
(derandomized, ``--examples`` of them). A pair with such a witness breaks; a pair without one
is counted as compatible (sampling can miss a witness: such a miss would show up as a false
"breaking" that is not one, never the reverse). For the openapi family the truth is the
verdict with the pointer at ``Target``.

It prints, per family: pairs, false "breaking" (the report says breaking, no config breaks),
false "compatible" (the report says compatible, a config breaks). Run it against another
tree with ``PYTHONPATH=that/tree python bench/probe_compat.py`` to compare.
"""

from __future__ import annotations

import argparse
import itertools
import json
import warnings
from typing import Any

from hypothesis import HealthCheck, find, settings
from hypothesis.errors import NoSuchExample
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from hotconf.compat import schema_diff

STR, INT, NUM = {"type": "string"}, {"type": "integer"}, {"type": "number"}
LEAVES: list[Any] = [
    STR,
    INT,
    {"type": "number", "minimum": 0},
    {"type": "string", "maxLength": 3},
    {"type": "null"},
    {"type": "object", "required": ["a"]},
    {"enum": [1, 2]},
    {"type": "array", "items": INT},
]
VALUES: list[Any] = [
    None, True, False, 0, 1, 2, 3, -1, 0.5, 5, "", "a", "x", "abcd", "date-time", [], [1],
    ["a"], {}, {"a": 1}, {"a": "x"}, {"a": None}, ["a", 1], ["a", 1, "b"], ["a", 1, 2],
]  # fmt: skip


def rewrites() -> list[tuple[str, Any, Any]]:
    pairs: list[tuple[str, Any, Any]] = []
    for x, y in itertools.permutations(LEAVES, 2):
        pairs += [
            ("type to anyOf union", x, {"anyOf": [x, y]}),
            ("type to oneOf union", x, {"oneOf": [x, y]}),
            ("oneOf to anyOf", {"oneOf": [x, y]}, {"anyOf": [x, y]}),
            ("anyOf to oneOf", {"anyOf": [x, y]}, {"oneOf": [x, y]}),
            ("allOf to anyOf", {"allOf": [x, y]}, {"anyOf": [x, y]}),
            ("allOf to oneOf", {"allOf": [x, y]}, {"oneOf": [x, y]}),
            ("anyOf to allOf", {"anyOf": [x, y]}, {"allOf": [x, y]}),
            ("anyOf branch duplicated", {"anyOf": [x, y]}, {"anyOf": [x, y, x]}),
            ("allOf branch duplicated", {"allOf": [x, y]}, {"allOf": [x, y, x]}),
            ("oneOf branch duplicated", {"oneOf": [x, y]}, {"oneOf": [x, y, x]}),
        ]
    for x in LEAVES:
        pairs += [
            ("oneOf of one to allOf of one", {"oneOf": [x]}, {"allOf": [x]}),
            ("anyOf of one to oneOf of one", {"anyOf": [x]}, {"oneOf": [x]}),
        ]
    nested = [
        (f"{name}, under a property", _under(old), _under(new))
        for name, old, new in pairs[:: len(LEAVES)]
    ]
    return pairs + nested


def _under(schema: Any) -> Any:
    return {"type": "object", "properties": {"p": schema}, "required": ["p"]}


def unproven() -> list[tuple[str, Any, Any]]:
    pairs: list[tuple[str, Any, Any]] = []
    patterns = ["date-time", "uuid", "^a", "^b", "^(?:a)", "^[0-9]+$", "^[a-z]+$", "x"]
    for p, q in itertools.permutations(patterns, 2):
        pairs.append(("pattern changed", {**STR, "pattern": p}, {**STR, "pattern": q}))
    formats = ["date-time", "uuid", "email", "ipv4", "date"]
    for p, q in itertools.permutations(formats, 2):
        pairs.append(("format changed", {**STR, "format": p}, {**STR, "format": q}))
    tuples = [
        {"type": "array", "prefixItems": [STR, NUM], "items": STR, "unevaluatedItems": False},
        {"type": "array", "prefixItems": [STR, NUM, NUM], "unevaluatedItems": False},
        {"type": "array", "prefixItems": [STR, NUM, STR], "unevaluatedItems": False},
        {"type": "array", "prefixItems": [STR], "unevaluatedItems": NUM},
        {"type": "array", "prefixItems": [STR, NUM], "unevaluatedItems": STR},
    ]
    for a, b in itertools.permutations(tuples, 2):
        pairs.append(("tuple beside unevaluatedItems", a, b))
    return pairs


def _document(version: str, target: Any) -> dict[str, Any]:
    schemas = {"Target": target, "Alias": {"$ref": "#/components/schemas/Target"}}
    return {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "components": {"schemas": schemas},
    }


def _edits(base: dict[str, Any]) -> list[tuple[str, Any]]:
    props = base["properties"]
    out: list[tuple[str, Any]] = []
    for name in props:
        if name not in base.get("required", []):
            required = [*base.get("required", []), name]
            out.append((f"require {name}", {**base, "required": required}))
        out.append((f"drop {name}", {**base, "properties": _without(props, name)}))
        out.append((f"{name} to integer", {**base, "properties": {**props, name: INT}}))
        out.append((f"{name} gets a description", _describe(base, name)))
    out.append(("add property", {**base, "properties": {**props, "extra": STR}}))
    out.append(("close it", {**base, "additionalProperties": False}))
    out.append(("describe it", {**base, "description": "the app"}))
    return out


def _without(props: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != name}


def _describe(base: dict[str, Any], name: str) -> dict[str, Any]:
    props = base["properties"]
    return {**base, "properties": {**props, name: {**props[name], "description": "d"}}}


def openapi() -> list[tuple[str, Any, Any]]:
    bases = [
        {"type": "object", "properties": {"a": STR, "b": NUM}},
        {"type": "object", "properties": {"a": STR, "b": NUM}, "required": ["a"]},
        {"type": "object", "properties": {"a": {**STR, "maxLength": 8}, "c": INT}},
    ]
    pairs = []
    for version in ("3.0.3", "3.1.0"):
        for base in bases:
            for name, edited in _edits(base):
                for old, new in ((base, edited), (edited, base)):
                    pairs.append((name, _document(version, old), _document(version, new)))
    return pairs


# --- truth ---------------------------------------------------------------------------------


def breaks(old: Any, new: Any, examples: int) -> list[Any]:
    """``[a config old accepts and new rejects]``, or ``[]`` when none is found (the config
    itself may be null)."""
    check = Draft202012Validator.FORMAT_CHECKER
    before = Draft202012Validator(old, format_checker=check)
    after = Draft202012Validator(new, format_checker=check)
    for value in VALUES:
        for config in (value, {"p": value}):
            if before.is_valid(config) and not after.is_valid(config):
                return [config]
    quiet = settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [find(from_schema(old), lambda c: not after.is_valid(c), settings=quiet)]
    except (NoSuchExample, Exception):  # an unsatisfiable or unsupported schema: none found
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    print(
        f"{'family':<10} {'pairs':>6} {'false breaking':>15} {'false compatible':>17}", flush=True
    )
    for family, pairs in (("rewrites", rewrites()), ("unproven", unproven())):
        false_breaking = false_compatible = 0
        for name, old, new in pairs:
            report = schema_diff(old, new)
            witness = breaks(old, new, args.examples)
            wrong = ""
            if report.level == "breaking" and not witness:
                false_breaking += 1
                wrong = "false breaking"
            elif report.compatible and witness:
                false_compatible += 1
                wrong = f"false compatible (e.g. {json.dumps(witness[0])})"
            if wrong and args.verbose:
                print(f"  {name}: {json.dumps(old)} -> {json.dumps(new)}: {wrong}")
        print(
            f"{family:<10} {len(pairs):>6} {false_breaking:>15} {false_compatible:>17}", flush=True
        )
    pairs = openapi()
    false_breaking = false_compatible = 0
    for name, old, new in pairs:
        via_ref = schema_diff(old, new, pointer="#/components/schemas/Alias")
        direct = schema_diff(old, new, pointer="#/components/schemas/Target")
        if via_ref.level == "breaking" and direct.level != "breaking":
            false_breaking += 1
        elif via_ref.compatible and not direct.compatible:
            false_compatible += 1
        if args.verbose and via_ref.level != direct.level:
            print(f"  {old['openapi']} {name}: {via_ref.level} via $ref, {direct.level} direct")
    print(f"{'openapi':<10} {len(pairs):>6} {false_breaking:>15} {false_compatible:>17}")


if __name__ == "__main__":
    main()
