"""TOML for `hotconf.pipeline.load`: the standard library's ``tomllib`` behind hotconf's rules,
and the lines of keys, which ``tomllib`` does not keep.

``tomllib`` already refuses duplicate keys, tables declared twice and every syntax error, with a
line in its message; this maps those to `LoadError` codes, finds both lines of a duplicate, turns
dates and times into RFC 3339 strings (JSON has no such type) and refuses ``nan``/``inf``.

`scan` walks the text once, like a tokenizer that skips values, and yields every key, table
header and array-of-tables header with its line: enough to place a problem on its key and to
name a duplicate. It never raises on text ``tomllib`` accepted.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn

from .paths import to_pointer

Fail = Callable[..., NoReturn]

_AT = re.compile(r" \(at (?:line (\d+), column \d+|end of document)\)$")
_DUPLICATE = ("Cannot overwrite", "Cannot declare", "Duplicate inline", "Cannot mutate",
              "Cannot redefine")  # fmt: skip
_BARE = re.compile(r"[A-Za-z0-9_-]+")
_DATES = (datetime.datetime, datetime.date, datetime.time)


def parse_toml(text: str, name: str, depth_limit: int, fail: Fail) -> dict[str, Any]:
    """``tomllib.loads`` under hotconf's rules; ``fail(code, message, name, line, path)``
    raises the `LoadError`. Depth and node limits are checked by the caller."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _AT.search(message)
        line: int | None = None
        if found is not None:
            message = message[: found.start()]
            line = int(found.group(1)) if found.group(1) else _last_line(text)
        if not message.startswith(_DUPLICATE):
            fail("syntax", message, name, line)
        dup = duplicate(text)
        if dup is None:
            fail("duplicate-key", message, name, line)
        path, first, second = dup
        fail("duplicate-key", f"duplicate key {path[-1]!r} (first at line {first})", name,
             second, to_pointer(path))  # fmt: skip
    except RecursionError:
        fail("limit", f"nested deeper than {depth_limit} levels (Limits.max_depth)", name)
    if not data:
        fail("empty", "the file is empty (no key); an empty config is an error", name, 1)
    bad = _plain(data)
    if bad is not None:
        path, value = bad
        pointer = to_pointer(path)
        where = lines(text, [pointer]).get(pointer)
        fail("number", f"{value} is not allowed: config numbers must be finite", name, where,
             pointer)  # fmt: skip
    return data


def _last_line(text: str) -> int:
    return text.rstrip().count("\n") + 1


def _plain(data: dict[str, Any]) -> tuple[tuple[str | int, ...], float] | None:
    """Dates and times to RFC 3339 strings, in place; the first non-finite float, if any."""
    todo: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while todo:
        node, path = todo.pop()
        items: Iterable[tuple[Any, Any]] = (
            node.items() if isinstance(node, dict) else enumerate(node)
        )
        for key, value in list(items):
            if isinstance(value, dict | list):
                todo.append((value, (*path, key)))
            elif isinstance(value, _DATES):
                node[key] = value.isoformat()
            elif isinstance(value, float) and not math.isfinite(value):
                return (*path, key), value
    return None


def lines(text: str, pointers: Iterable[str]) -> dict[str, int]:
    """``{pointer: line}`` for the pointers `scan` finds (the first place each is written)."""
    wanted = set(pointers)
    found: dict[str, int] = {}
    try:
        for path, line, _kind in scan(text):
            pointer = to_pointer(path)
            if pointer in wanted and pointer not in found:
                found[pointer] = line
    except Exception:  # noqa: S110  (best effort, by contract)
        pass
    if "" in wanted:
        found[""] = 1
    return found


def duplicate(text: str) -> tuple[tuple[str | int, ...], int, int] | None:
    """The first key or table written twice: (path, first line, second line)."""
    seen: dict[tuple[str | int, ...], tuple[int, str]] = {}
    try:
        for path, line, kind in scan(text):
            if kind in ("array", "element"):
                continue
            before = seen.get(path)
            if before is not None and not (kind == before[1] == "dotted"):
                return path, before[0], line
            seen.setdefault(path, (line, kind))
    except Exception:  # noqa: S110  (best effort, by contract)
        pass
    return None


def scan(text: str) -> Iterator[tuple[tuple[str | int, ...], int, str]]:
    """Every ``key = value`` (kind ``key``, the full path of the key; ``dotted`` for the tables
    a dotted key passes through), ``[table]`` (``table``) and ``[[array]]`` (``array`` for the
    array, ``element`` for the element it starts) with its 1-based line.

    Keys inside inline tables and arrays are not yielded: their problems go to the key that
    holds them."""
    i, n, line = 0, len(text), 1
    table: tuple[str | int, ...] = ()
    counts: dict[tuple[str, ...], int] = {}  # array-of-tables path -> elements so far

    def resolve(path: tuple[str, ...]) -> tuple[str | int, ...]:
        out: list[str | int] = []
        for k in range(len(path)):
            out.append(path[k])
            if path[: k + 1] in counts:
                out.append(counts[path[: k + 1]] - 1)
        return tuple(out)

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "#":
            i = _eol(text, i)
        elif c == "[":
            array = text.startswith("[[", i)
            key, i = _key(text, i + (2 if array else 1))
            i = _eol(text, i)
            if key is None:
                continue
            if array:
                counts[key] = counts.get(key, 0) + 1
                for other in [p for p in counts if p[: len(key)] == key and p != key]:
                    del counts[other]  # a new element starts its own nested arrays
                table = resolve(key)
                yield table[:-1], line, "array"
                yield table, line, "element"
            else:
                table = resolve(key)
                yield table, line, "table"
        else:
            key, i = _key(text, i)
            i = _spaces(text, i)
            if key is None or i >= n or text[i] != "=":
                i = _eol(text, i)
                continue
            for k in range(1, len(key)):  # the tables a dotted key defines on the way
                yield (*table, *key[:k]), line, "dotted"
            yield (*table, *key), line, "key"
            i, line = _value(text, i + 1, line)


def _eol(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _key(text: str, i: int) -> tuple[tuple[str, ...] | None, int]:
    """A dotted key at ``i``: its parts and the index after it (None when there is none)."""
    parts: list[str] = []
    while True:
        i = _spaces(text, i)
        if text.startswith('"', i):
            end = i + 1
            while end < len(text) and text[end] != '"' and text[end] != "\n":
                end += 2 if text[end] == "\\" else 1
            try:
                parts.append(json.loads(text[i : end + 1]))
            except ValueError:
                return None, end
            i = end + 1
        elif text.startswith("'", i):
            end = text.find("'", i + 1)
            if end < 0:
                return None, len(text)
            parts.append(text[i + 1 : end])
            i = end + 1
        else:
            bare = _BARE.match(text, i)
            if bare is None:
                return None, i
            parts.append(bare.group())
            i = bare.end()
        i = _spaces(text, i)
        if not text.startswith(".", i):
            return tuple(parts), i
        i += 1


def _value(text: str, i: int, line: int) -> tuple[int, int]:
    """Skip a value (strings, arrays, inline tables, comments): the index of the newline that
    ends it, and the line there."""
    depth, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            if depth == 0:
                return i, line
            line += 1
            i += 1
        elif c == "#":
            i = _eol(text, i)
        elif c in "[{":
            depth += 1
            i += 1
        elif c in "]}":
            depth -= 1
            i += 1
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            end = i + len(quote)
            while end < n and not text.startswith(quote, end):
                if c == '"' and text[end] == "\\":
                    end += 1
                end += 1
            while len(quote) == 3 and text.startswith(c, end + 3):  # """a"""" ends later
                end += 1
            line += text.count("\n", i, end)
            i = end + len(quote)
        else:
            i += 1
    return i, line
