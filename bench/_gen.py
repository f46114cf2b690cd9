"""Deterministic synthetic configs for the benchmarks (nested mappings and lists of strings,
ints and bools, as the floors in bench/README.md are measured on).

Nested mappings and lists holding strings, ints and bools; 1k leaves make about 26 KiB of
block-style YAML, 10k about 250 KiB, 100k about 2.5 MiB. `schema_for` derives a JSON Schema
that checks every leaf.
"""

from __future__ import annotations

import json
import random
from typing import Any

import yaml

from hotconf.pipeline.load import Limits

BIG = Limits(max_bytes=1 << 30, max_nodes=100_000_000)
"""Limits the benchmarks load with: their largest configs are above the defaults."""

_WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray",
]  # fmt: skip


def _leaf(rng: random.Random) -> Any:
    kind = rng.randrange(10)
    if kind < 5:
        return f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}.internal"
    if kind < 8:
        return rng.randrange(100_000)
    return rng.random() < 0.5


def make_config(leaves: int, seed: int = 0) -> dict[str, Any]:
    """A nested config with exactly ``leaves`` scalar leaves, the same for the same seed.

    Args:
        leaves: number of scalar values (strings, ints, bools) in the result.
        seed: seed for the generator; the same arguments give the same config.

    Returns:
        A dict of sections, each a mapping of up to 20 entries: scalars, small
        mappings, and lists of scalars.
    """
    rng = random.Random(seed)
    root: dict[str, Any] = {}
    left = leaves
    section_no = 0
    while left > 0:
        section: dict[str, Any] = {}
        root[f"section_{section_no}"] = section
        section_no += 1
        entry_no = 0
        while left > 0 and entry_no < 20:
            key = f"{rng.choice(_WORDS)}_{entry_no}"
            entry_no += 1
            shape = rng.randrange(4)
            if shape == 0 and left >= 3:
                n = min(left, rng.randrange(3, 8))
                section[key] = [_leaf(rng) for _ in range(n)]
                left -= n
            elif shape == 1 and left >= 3:
                n = min(left, rng.randrange(2, 6))
                section[key] = {f"{rng.choice(_WORDS)}_{i}": _leaf(rng) for i in range(n)}
                left -= n
            else:
                section[key] = _leaf(rng)
                left -= 1
    return root


def schema_for(value: Any) -> dict[str, Any]:
    """A JSON Schema (2020-12) that describes ``value``'s shape, with a check on every leaf."""
    if isinstance(value, dict):
        return {
            "type": "object",
            "properties": {k: schema_for(v) for k, v in value.items()},
            "required": list(value),
            "additionalProperties": False,
        }
    if isinstance(value, list):
        return {
            "type": "array",
            "items": {"type": ["string", "integer", "boolean"]},
            "maxItems": 64,
        }
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer", "minimum": 0, "maximum": 10_000_000}
    if isinstance(value, str):
        return {"type": "string", "minLength": 1, "maxLength": 200}
    raise TypeError(type(value).__name__)


def to_yaml(data: Any) -> bytes:
    """Block-style YAML, keys in insertion order, UTF-8."""
    text = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False)
    return text.encode("utf-8")


def to_json(data: Any) -> bytes:
    """Indented JSON, UTF-8."""
    return json.dumps(data, indent=2).encode("utf-8")
