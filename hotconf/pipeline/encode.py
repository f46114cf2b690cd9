"""JSON encodings of config data through orjson, byte for byte what the stdlib path makes.

The canonical form (`hotconf.pipeline.snapshot.canonical_json`: sorted keys, no whitespace,
UTF-8, no NaN) is what every checksum hashes, so a faster encoder may only be used where it
provably gives the same bytes. The stdlib ``json`` module stays the reference; orjson (the
``fast`` extra) agrees with it on str (escapes included), int within 64 bits, bool, None,
lists, tuples and dicts with str keys sorted by code point (tests/pipeline/test_encode.py
checks this on generated data). It differs on floats it writes in another notation
(``1e-05`` is ``0.00001`` to orjson), on ints beyond 64 bits (refused) and on anything else;
for those the stdlib path runs. `hotconf.pipeline.share.settle` collects the floats a
document holds on its way, so the check costs nothing more than a look at each float.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

_orjson: Any = None
_loaded = False
_AGREES: dict[float, bool] = {}


def _fast() -> Any:
    """The orjson module, or None (not installed, or ``HOTCONF_FAST=0``)."""
    global _orjson, _loaded
    if not _loaded:
        try:
            import orjson

            _orjson = orjson
        except ImportError:  # the optional `fast` extra is not installed
            _orjson = None
        _loaded = True
    return _orjson if os.environ.get("HOTCONF_FAST") != "0" else None


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON-compatible: {type(value).__name__}")


def reference(data: Any, *, sort_keys: bool = True) -> bytes:
    """The stdlib encoding: no whitespace, UTF-8 (not ASCII-escaped), no NaN; read-only
    mappings encode as objects."""
    return json.dumps(
        data,
        sort_keys=sort_keys,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    ).encode("utf-8")


def floats_agree(floats: Iterable[float]) -> bool:
    """Does orjson write each of these floats as the stdlib does (``float.__repr__``)?"""
    orjson = _fast()
    if orjson is None:
        return False
    agrees = _AGREES
    for f in floats:
        known = agrees.get(f)
        if known is None:
            known = orjson.dumps(f) == float.__repr__(f).encode()
            if f != 0.0:  # 0.0 and -0.0 are one key: never remember zeros
                if len(agrees) >= 4096:
                    agrees.clear()
                agrees[f] = known
        if not known:
            return False
    return True


def dumps(data: Any, *, sort_keys: bool = True, floats: Iterable[float] | None = None) -> bytes:
    """`reference`'s bytes, made by orjson where that is proven equal.

    Args:
        data: config data (plain, or frozen: tuples and read-only mappings).
        sort_keys: sort mapping keys (the canonical form does).
        floats: every float ``data`` holds, when the caller knows them (`settle` collects
            them); ``None``: unknown, so the stdlib path runs unless ``data`` has no float
            orjson would write differently, which only a walk could tell.

    Returns:
        UTF-8 JSON bytes, equal to ``reference(data, sort_keys=sort_keys)``.

    Raises:
        TypeError, ValueError: what `reference` raises for data that is not JSON.
    """
    orjson = _fast()
    if orjson is None or floats is None or not floats_agree(floats):
        return reference(data, sort_keys=sort_keys)
    option = orjson.OPT_SORT_KEYS if sort_keys else 0
    try:
        out: bytes = orjson.dumps(data, option=option, default=_orjson_default)
    except (TypeError, orjson.JSONEncodeError):  # an int beyond 64 bits, a key not a str...
        return reference(data, sort_keys=sort_keys)
    return out


def _orjson_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(type(value).__name__)


def key_json(key: str) -> bytes:
    """One mapping key as its JSON string (what the canonical form writes before ``:``)."""
    orjson = _fast()
    if orjson is not None:
        try:
            out: bytes = orjson.dumps(key)
            return out
        except orjson.JSONEncodeError:  # half a surrogate pair: let the reference say so
            pass
    return json.dumps(key, ensure_ascii=False).encode("utf-8")


__all__ = ["dumps", "floats_agree", "key_json", "reference"]
