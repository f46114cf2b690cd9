"""Bytes to plain config data: YAML (1.2 core schema), JSON or TOML, behind guards.

`load` reads a file, `parse` turns bytes into dicts, lists, str, int, float, bool and None with
string keys, and `locate` finds the lines of JSON Pointers for error reports. Anything bad raises
`LoadError` with one `Problem` naming the file, the line and a ``code``; docs/loading.md has the
rules.

PyYAML never composes or constructs here: its C parser (a non-recursive state machine) yields
events and `_build` assembles the data on an explicit stack, checking depth, alias expansion,
tags, keys and duplicates as events arrive, so no input can recurse deeply or explode. With the
``fast`` extra, yaml-rs parses the texts where it provably agrees (`hotconf.pipeline._fastyaml`).
TOML goes through the standard library's ``tomllib`` (`hotconf.pipeline._toml`).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from ..errors import LoadError, Problem, SourceError
from . import _fastyaml, _toml
from .paths import from_pointer, to_pointer

FORMATS = ("yaml", "json", "toml")
SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}
"""File suffixes (compared in lower case) and the format each is read as."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Guards applied while loading; a candidate over any of them is refused (code ``limit``).

    The defaults are what a whole reload (parse, checksum, diff, report) of a worst-case
    config takes about a second for on a 2-core machine without the ``fast`` extra
    (``bench/bench_limits.py``, docs/loading.md): 50,000 nodes is about 25,000 keys. Raise
    them with ``hotconf.watch(limits=Limits(...))`` for bigger configs, knowing each reload
    of those holds the reload worker (and a CPU) longer.

    Args:
        max_bytes: largest accepted file or byte string.
        max_depth: deepest nesting of mappings and sequences (the top-level mapping is 1).
        max_nodes: most nodes (mappings, sequences, keys, scalars) after alias expansion:
            an alias counts as its whole subtree, so alias bombs stop here.
    """

    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 64
    max_nodes: int = 50_000


DEFAULT_LIMITS = Limits()


class _Parser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's pure-Python event parser, for when libyaml is absent."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


_EventParser: Callable[[str], Any]
try:
    from yaml._yaml import CParser as _EventParser
except ImportError:  # PyYAML built without libyaml
    _EventParser = _Parser

# libyaml 0.2.6 and later refuse nesting past 1000 levels themselves, and count the levels their
# scanner has read ahead of the events `_build` sees (up to a line of brackets): so libyaml may
# say "syntax" where the text nests past `Limits.max_depth` first. `_nested_too_deep` re-reads
# such a failure with the pure-Python parser, which has no limit of its own; a cap above this
# one reads with that parser from the start, so the cap is always the limit that fires.
_LIBYAML_MAX_DEPTH = 256

_Y = "tag:yaml.org,2002:"
_NOKEY: Any = object()  # the mapping being built waits for a key
_MERGE: Any = object()  # its pending key is a plain `<<`
_OPEN: Any = object()  # an anchored collection still being built: an alias to it is recursive
_MISS: Any = object()
_PLAIN: dict[str, bool | None] = {"": None, "~": None, "null": None, "Null": None, "NULL": None}
_PLAIN.update({"true": True, "True": True, "TRUE": True})
_PLAIN.update({"false": False, "False": False, "FALSE": False})
_NUMERIC_START = frozenset("0123456789+-.")
_INT = re.compile(r"[-+]?[0-9]+").fullmatch
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?").fullmatch
_RADIX = re.compile(r"0o[0-7]+|0x[0-9a-fA-F]+").fullmatch
_INF_NAN = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)").fullmatch
_CORE_TAGS = "only !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are allowed"
_STARTS = (MappingStartEvent, SequenceStartEvent)
_ENDS = (MappingEndEvent, SequenceEndEvent)


class _Bad(Exception):
    """A rule broke at the current event; `_build` adds the line and the path."""

    def __init__(self, code: str, message: str, leaf: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.leaf = code, message, leaf


def _fail(code: str, message: str, name: str, line: int | None = None, path: str = "") -> NoReturn:
    where = name if line is None else f"{name}:{line}"
    problem = Problem(message, path=path, code=code, source=name, line=line)
    raise LoadError(f"{where}: {message}", problems=[problem])


def format_for(path: str | os.PathLike[str]) -> str:
    """The format a file is read as, from its suffix (any case): `SUFFIXES`.

    Args:
        path: a file path.

    Returns:
        ``"yaml"`` for ``.yaml``/``.yml``, ``"json"`` for ``.json``, ``"toml"`` for ``.toml``.

    Raises:
        SourceError: any other suffix, or none: hotconf does not guess a format.
    """
    name = os.fspath(path)
    suffix = os.path.splitext(name)[1].lower()
    found = SUFFIXES.get(suffix)
    if found is None:
        why = f"unknown extension {suffix!r}" if suffix else "no extension"
        msg = f"{why}: hotconf reads .yaml, .yml, .json and .toml files and does not guess"
        raise SourceError(f"{name}: {msg}", [Problem(msg, code="source", source=name)])
    return found


def load(
    source: str | os.PathLike[str] | bytes,
    format: str | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Read a config file (or bytes) into plain data.

    Args:
        source: a file path, or the content itself.
        format: ``"yaml"``, ``"json"`` or ``"toml"``; by default `format_for` the path,
            and ``"yaml"`` for bytes (YAML 1.2 reads JSON too, with the YAML rules).
        limits: the guards to apply.

    Returns:
        The top-level mapping, as `parse` returns it.

    Raises:
        SourceError: the file is missing or cannot be read, or its suffix is none of
            `SUFFIXES` and no ``format`` was given.
        LoadError: the content is refused (see `parse`); a file over ``limits.max_bytes``
            is refused before it is read.

    Example:
        >>> load(b"port: 8080\\nhosts: [a, b]\\n")
        {'port': 8080, 'hosts': ['a', 'b']}
    """
    if isinstance(source, bytes):
        return parse(source, format or "yaml", limits=limits)
    name = os.fspath(source)
    format = format or format_for(name)
    try:
        with open(name, "rb") as f:
            if os.fstat(f.fileno()).st_size > limits.max_bytes:
                _fail("limit", f"larger than {limits.max_bytes} bytes (Limits.max_bytes)", name)
            data = f.read(limits.max_bytes + 1)
    except OSError as exc:
        msg = f"cannot read the file: {exc.strerror or exc}"
        raise SourceError(f"{name}: {msg}", [Problem(msg, code="source", source=name)]) from exc
    return parse(data, format, name=name, limits=limits)


def parse(
    data: bytes,
    format: str,
    *,
    name: str = "<bytes>",
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Turn config bytes into plain, JSON-compatible data.

    Args:
        data: the content, UTF-8 (a UTF-8 byte-order mark is allowed).
        format: ``"yaml"``, ``"json"`` or ``"toml"``.
        name: how errors name the source (``Problem.source``).
        limits: the guards to apply.

    Returns:
        A dict with str keys; values are dicts, lists, str, int, float, bool or None.
        Aliased YAML nodes may be shared objects.

    Raises:
        LoadError: with one `Problem` whose ``code`` is ``syntax``, ``duplicate-key``,
            ``tag``, ``key-type``, ``limit``, ``empty``, ``encoding``, ``document``,
            ``root-type`` or ``number``.
        ValueError: ``format`` is not one of `FORMATS`.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {FORMATS}")
    if len(data) > limits.max_bytes:
        _fail("limit", f"larger than {limits.max_bytes} bytes (Limits.max_bytes)", name)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        msg = f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        _fail("encoding", msg, name, line)
    return parse_text(text.removeprefix("\ufeff"), format, name, limits)


def parse_text(
    text: str, format: str, name: str, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """`parse` for text already decoded (no byte-order mark): the same result, the same errors."""
    if format == "json":
        return _parse_json(text, name, limits)
    if format == "toml":
        table = _toml.parse_toml(text, name, limits.max_depth, _fail)
        _limit(_check(table, limits), name, limits)
        return table
    if not text.strip(" \t\r\n"):  # blank, tabs too (YAML's scanner refuses a tab there)
        _fail("empty", "the file is empty (no document); an empty config is an error", name, 1)
    if _fast is not None and os.environ.get("HOTCONF_FAST") != "0":
        result = _fast(text, limits)
        if result is not None:
            return result
    return _parse_yaml(text, name, limits)


def fast_unchecked(text: str) -> dict[str, Any] | None:
    """The yaml-rs fast path without `_check`: the caller must check the result as `_check`
    does (depth, str keys, finite floats, ints Python can print, node count), and parse
    with `parse_text` where it does not pass. None: the fast path declines this text."""
    if _fast is None or os.environ.get("HOTCONF_FAST") == "0":
        return None
    return _fast(text, DEFAULT_LIMITS, None)


def _parse_yaml(text: str, name: str, limits: Limits) -> dict[str, Any]:
    parser = _EventParser if limits.max_depth <= _LIBYAML_MAX_DEPTH else _Parser
    try:
        return _build(text, name, limits, parser)
    except yaml.MarkedYAMLError as exc:
        if parser is not _Parser:
            _nested_too_deep(text, exc, name, limits)
        mark = exc.problem_mark or exc.context_mark
        msg = str(exc.problem or exc.context)
        char = text[mark.index : mark.index + 1] if mark and "start any token" in msg else ""
        if char == "\t":
            msg += " (a tab: YAML indents with spaces)"
        elif char in ("@", "`"):
            msg += f" ({char} cannot start a plain value: quote it)"
        _fail("syntax", msg, name, mark.line + 1 if mark else None)
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        point, where = getattr(exc, "character", None), getattr(exc, "position", None)
        line = None
        if isinstance(where, int):  # libyaml counts the bytes of the UTF-8 it was given
            c_parser = _EventParser is not _Parser
            line = (
                text.encode()[:where].count(b"\n") if c_parser else text.count("\n", 0, where)
            ) + 1
        msg = f"{getattr(exc, 'reason', 'invalid character')}"
        msg += f" (U+{point:04X}); is the file really UTF-8 text?" if isinstance(point, int) else ""
        _fail("encoding", msg, name, line)


_SCALAR_MESSAGES = {
    "tag": f"has a tag that is not allowed or does not fit its value ({_CORE_TAGS})",
    "number": "is a number JSON cannot hold (infinite, NaN or too long); quote it to keep the text",
}


def scalar(text: str, *, name: str = "<value>") -> Any:
    """One YAML 1.2 scalar by the rules of `parse`: ``30`` an int, ``true`` a bool, ``"30"``
    (quoted) a string, nothing at all ``None``. What environment variables are read as.

    Args:
        text: the value.
        name: how errors name it (``Problem.source``), e.g. the variable.

    Returns:
        str, int, float, bool or None.

    Raises:
        LoadError: ``text`` is a mapping or a sequence (code ``root-type``), has a tag other
            than the core ones (``tag``), a number JSON cannot hold (``number``), or is not
            valid YAML (``syntax``). The message never quotes the value (it may be secret).

    Example:
        >>> [scalar(v) for v in ("30", "true", "'30'", "0o17", "")]
        [30, True, '30', 15, None]
    """
    try:
        events = iter(_EventParser(text).get_event, None)
        for e in events:
            cls = e.__class__
            if cls is ScalarEvent:
                rest = [r.__class__ for r in events]  # the document must end here
                if rest != [yaml.DocumentEndEvent, StreamEndEvent]:
                    break
                v = e.value
                if e.tag is not None:
                    return _tagged(e.tag, v)
                if not e.style:
                    r = _PLAIN.get(v, _MISS)
                    if r is not _MISS:
                        return r
                    if v[0] in _NUMERIC_START:
                        return _number(v)
                return v
            if cls is AliasEvent or cls in _STARTS:
                kind = "a sequence" if cls is SequenceStartEvent else "a mapping"
                kind = "an alias" if cls is AliasEvent else kind
                msg = f"is {kind}; a value here is one scalar (quote it to keep the text)"
                _fail("root-type", msg, name)
            if cls is StreamEndEvent:
                return None
    except _Bad as bad:  # the messages of `parse` quote values; this value may be a secret
        _fail(bad.code, _SCALAR_MESSAGES.get(bad.code, "is refused"), name)
    except yaml.YAMLError as exc:
        msg = str(getattr(exc, "problem", None) or "not a valid YAML scalar")
        _fail("syntax", f"{msg} (quote it to keep the text)", name)
    _fail("syntax", "is not one YAML scalar (quote it to keep the text)", name)


def _nested_too_deep(text: str, exc: yaml.MarkedYAMLError, name: str, limits: Limits) -> None:
    """Raise the depth cap's error if the text nests past it before libyaml's error."""
    if text.count("[") + text.count("{") <= limits.max_depth:
        return  # flow brackets cannot nest past the cap; block levels reach `_build` in order
    mark = exc.problem_mark or exc.context_mark
    end = len(text)
    if mark is not None:  # libyaml has read ahead at most to the end of the next line
        end = 0
        for _ in range(mark.line + 2):
            end = text.find("\n", end) + 1
            if not end:
                end = len(text)
                break
    try:
        _build(text[:end], name, limits, _Parser)
    except LoadError as error:
        if error.problems[0].code == "limit":
            raise
    except yaml.YAMLError:
        pass


def _number(v: str) -> Any:
    """Resolve a plain scalar that starts like a number by the core schema; else keep the str."""
    if _INT(v):
        try:
            return int(v)
        except ValueError:  # over sys.get_int_max_str_digits()
            raise _Bad("limit", _too_long(v)) from None
    if _FLOAT(v):
        f = float(v)
        if math.isinf(f):
            raise _Bad("number", f"{v} is out of the float range (JSON has no infinity)")
        return f
    if _RADIX(v):
        # Python reads any number of hex or octal digits, but then cannot print the int in
        # decimal (canonical JSON, reports) past sys.get_int_max_str_digits(): refuse it here.
        n = int(v[2:], 8 if v[1] == "o" else 16)
        try:
            str(n)
        except ValueError:
            raise _Bad("limit", _too_long(v)) from None
        return n
    if _INF_NAN(v):
        raise _Bad("number", f"{v} is not a JSON number; quote it to keep the string")
    return v


def _too_long(v: str) -> str:
    limit = sys.get_int_max_str_digits()
    return (
        f"integer {v[:12]}... is longer than Python's limit of {limit} decimal digits "
        "(sys.set_int_max_str_digits); quote it to keep it as a string"
    )


def _tagged(tag: str, v: str) -> Any:
    """A scalar with an explicit tag: a core-schema tag, and a value that fits it."""
    if tag in ("!", _Y + "str"):
        return v
    kind = tag.removeprefix(_Y)
    if kind in ("int", "float", "bool", "null"):
        r = _PLAIN.get(v, _MISS)
        r = _number(v) if r is _MISS and v[:1] in _NUMERIC_START else r
        if kind == "float" and type(r) in (int, float):
            return float(r)
        if (kind, type(r)) in (("int", int), ("bool", bool), ("null", type(None))):
            return r
        raise _Bad("tag", f"{v!r} is not a valid !!{kind}")
    raise _Bad("tag", f"tag {_short(tag)} is not allowed ({_CORE_TAGS})")


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_Y) if tag.startswith(_Y) else tag


def _merge_sources(value: Any, merges: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    sources = value if type(value) is list else [value]
    if not sources or any(type(s) is not dict for s in sources):
        raise _Bad("syntax", "a merge key '<<' takes a mapping or a list of mappings")
    return [*(merges or ()), *sources]


def _merged(own: dict[str, Any], merges: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for source in merges:  # the earlier merged mapping wins...
        for k, v in source.items():
            out.setdefault(k, v)
    out.update(own)  # ...and keys written in the mapping itself win over all of them
    return out


def _build(text: str, name: str, limits: Limits, parser: Callable[[str], Any]) -> dict[str, Any]:
    """One document from parser events; see the module docstring for why."""
    get_event: Callable[[], Any] = parser(text).get_event
    max_depth, max_nodes = limits.max_depth, limits.max_nodes
    anchors: dict[str, Any] = {}  # name -> (value, expanded size, height) or _OPEN
    # The collection being filled lives in locals; the enclosing ones are saved on `stack`.
    stack: list[tuple[Any, ...]] = []
    cur: Any = None
    is_map = False
    key: Any = _NOKEY  # a mapping's pending key; a sequence's is unused
    h = 0  # height of `cur` so far (a scalar is 0), to bound depth through aliases
    anchor: str | None = None
    start = depth = n = 0  # n counts nodes, aliases expanded
    merges: list[dict[str, Any]] | None = None
    e: Any = get_event()  # StreamStart
    if get_event().__class__ is StreamEndEvent:
        _fail("empty", "the file is empty (no document); an empty config is an error", name, 1)
    try:
        while True:
            e = get_event()
            cls = e.__class__
            if cls is ScalarEvent:
                v = e.value
                tag = e.tag
                if tag is not None:
                    v = _tagged(tag, v)
                elif not e.style:  # plain
                    r = _PLAIN.get(v, _MISS)
                    if r is not _MISS:
                        v = r
                    elif v[0] in _NUMERIC_START:
                        v = _number(v)
                n += 1
                if e.anchor is not None:
                    anchors[e.anchor] = (v, 1, 0)
                if is_map:
                    if key is _NOKEY:
                        if v.__class__ is not str:
                            raise _Bad("key-type", _key_type(v, e.value))
                        if v in cur:
                            raise _Bad("duplicate-key", f"duplicate key {v!r}", v)
                        key = _MERGE if v == "<<" and tag is None and not e.style else v
                        continue
                    if key is _MERGE:
                        _merge_sources(v, None)
                    cur[key] = v
                    key = _NOKEY
                elif cur is not None:
                    cur.append(v)
                elif e.value == "" and tag is None and not e.style:
                    raise _Bad("empty", "the document is empty; an empty config is an error")
                else:
                    raise _Bad("root-type", f"the top level must be a mapping, not {_kind(v)}")
                if n > max_nodes:
                    raise _Bad("limit", f"more than {max_nodes} nodes (Limits.max_nodes)")
                continue
            if cls is MappingStartEvent or cls is SequenceStartEvent:
                if is_map and key is _NOKEY:
                    raise _Bad("key-type", "a key is a collection; keys must be strings")
                tag = e.tag
                if tag not in (None, "!", _Y + ("map" if cls is MappingStartEvent else "seq")):
                    raise _Bad("tag", f"tag {_short(tag)} is not allowed ({_CORE_TAGS})")
                depth += 1
                if depth > max_depth:
                    raise _Bad("limit", f"nested deeper than {max_depth} levels (Limits.max_depth)")
                if cur is None and cls is SequenceStartEvent:
                    raise _Bad("root-type", "the top level must be a mapping, not a sequence")
                n += 1
                stack.append((cur, is_map, key, h, anchor, start, merges))
                is_map = cls is MappingStartEvent
                cur, key = ({}, _NOKEY) if is_map else ([], None)
                h, anchor, start, merges = 1, e.anchor, n, None
                if anchor is not None:
                    anchors[anchor] = _OPEN
                continue
            if cls is MappingEndEvent or cls is SequenceEndEvent:
                value = _merged(cur, merges) if merges else cur
                if anchor is not None:
                    anchors[anchor] = (value, n - start + 1, h)
                ch = h
                cur, is_map, key, h, anchor, start, merges = stack.pop()
                depth -= 1
                if cur is None:
                    break
            elif cls is AliasEvent:
                target = anchors.get(e.anchor)
                if target is None or target is _OPEN:
                    why = "refers to a node that contains it" if target else "is not defined"
                    raise _Bad("syntax", f"alias *{e.anchor} {why}")
                value, size, ch = target
                n += size
                if n > max_nodes:
                    msg = f"more than {max_nodes} nodes after expanding aliases (Limits.max_nodes)"
                    raise _Bad("limit", msg)
                if depth + ch > max_depth:
                    msg = f"nested deeper than {max_depth} levels through *{e.anchor}"
                    raise _Bad("limit", msg + " (Limits.max_depth)")
                if is_map and key is _NOKEY:
                    if value.__class__ is not str:
                        raise _Bad("key-type", _key_type(value, "*" + e.anchor))
                    if value in cur:
                        raise _Bad("duplicate-key", f"duplicate key {value!r}", value)
                    key = value
                    continue
            else:
                raise _Bad("syntax", f"unexpected {cls.__name__}")
            # a finished collection or an alias goes into the enclosing collection
            if not is_map:
                cur.append(value)
                h = max(h, ch + 1)
            elif key is _MERGE:  # merged values sit one level up from their mapping
                merges = _merge_sources(value, merges)
                h = max(h, ch - (type(value) is list))
                key = _NOKEY
            else:
                cur[key] = value
                h = max(h, ch + 1)
                key = _NOKEY
        get_event()  # DocumentEnd
        e = get_event()
        if e.__class__ is DocumentStartEvent:
            msg = "a second document starts here; a config file holds exactly one document"
            _fail("document", msg, name, _line(e))
    except _Bad as bad:
        frames = [*(f[:3] for f in stack[1:]), (cur, is_map, key)] if cur is not None else []
        path = [len(c) if not m else "<<" if k is _MERGE else k for c, m, k in frames]
        path = [p for p in path if p is not _NOKEY]
        msg = bad.message
        if bad.leaf is not None:
            path.append(bad.leaf)
            first = locate(text.encode(), "yaml", [to_pointer(path)])
            msg += f" (first at line {first.popitem()[1]})" if first else ""
        _fail(bad.code, msg, name, _line(e), to_pointer(path))
    result: dict[str, Any] = value
    return result


def _line(event: Any) -> int | None:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _kind(v: Any) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a float", type(None): "null"}
    return kinds.get(type(v), "a string" if isinstance(v, str) else "a collection")


def _key_type(v: Any, shown: str) -> str:
    if isinstance(v, dict | list):
        return f"key {shown} is a collection; keys must be strings"
    shown = shown or "(empty)"
    return f"key {shown} is {_kind(v)}; keys must be strings: quote it, as in '{shown}': ..."


def _parse_json(text: str, name: str, limits: Limits) -> dict[str, Any]:
    if not text.strip(" \t\r\n"):
        _fail("empty", "the file is empty (no document); an empty config is an error", name, 1)
    try:
        data = json.loads(
            text, object_pairs_hook=_json_object, parse_constant=_json_bad, parse_float=_json_float
        )
    except _Bad as bad:
        line, path = None, ""
        if bad.code == "duplicate-key":
            found = _duplicate(_compose(text), bad.leaf or "")
            if found:
                path, first, line = found
                bad.message += f" (first at line {first})"
        else:  # the line of the first such token outside a string
            for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[-+.\w]+', text):
                if m.group() == bad.leaf:
                    line = text.count("\n", 0, m.start()) + 1
                    break
        _fail(bad.code, bad.message, name, line, path)
    except json.JSONDecodeError as exc:
        _fail("syntax", exc.msg, name, exc.lineno)
    except RecursionError:
        _fail("limit", f"nested deeper than {limits.max_depth} levels (Limits.max_depth)", name)
    except ValueError:  # an integer over sys.get_int_max_str_digits()
        limit = sys.get_int_max_str_digits()
        msg = f"an integer is longer than Python's limit of {limit} decimal digits"
        _fail("limit", msg + " (sys.set_int_max_str_digits)", name)
    if "\\ud" in text or "\\uD" in text:  # JSON can escape half a surrogate pair; YAML cannot
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            _fail("encoding", "a \\u escape makes half a surrogate pair, which is not text", name)
    if type(data) is not dict:
        kind = "an array" if type(data) is list else _kind(data)
        _fail("root-type", f"the top level must be an object, not {kind}", name, 1)
    _limit(_check(data, limits), name, limits)
    return data


def _limit(why: str | None, name: str, limits: Limits) -> None:
    if why == "depth":
        _fail("limit", f"nested deeper than {limits.max_depth} levels (Limits.max_depth)", name)
    if why == "nodes":
        _fail("limit", f"more than {limits.max_nodes} nodes (Limits.max_nodes)", name)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _Bad("duplicate-key", f"duplicate key {dup!r}", dup)
    return obj


def _json_bad(token: str) -> NoReturn:
    raise _Bad("number", f"{token} is not allowed: config numbers must be finite", token)


def _json_float(token: str) -> float:
    f = float(token)
    if math.isinf(f):
        _json_bad(token)
    return f


def _check(data: dict[str, Any], limits: Limits) -> str | None:
    """The first guard or rule parsed data breaks, or None.

    ``depth`` and ``nodes`` are `Limits`; ``key`` is a key that is not a str and ``number``
    a float that is not finite or an int too long for Python to print (yaml-rs makes both).
    """
    n = 1
    todo: list[tuple[Any, int]] = [(data, 1)]
    isfinite = math.isfinite
    while todo:
        node, depth = todo.pop()
        if depth > limits.max_depth:
            return "depth"
        if type(node) is dict:
            if node and {*map(type, node)} != _STR_ONLY:
                return "key"
            n += 2 * len(node)
            node = node.values()
        else:
            n += len(node)
        for v in node:
            t = type(v)
            if t is dict or t is list:
                todo.append((v, depth + 1))
            elif (t is float and not isfinite(v)) or (t is int and v.bit_length() > 14_000):
                return "number"
    return "nodes" if n > limits.max_nodes else None


_STR_ONLY = {str}


def locate(data: bytes, format: str, pointers: Iterable[str]) -> dict[str, int]:
    """Best-effort lines of JSON Pointers, to report a validation failure.

    Args:
        data: bytes that `parse` accepted.
        format: ``"yaml"``, ``"json"`` (read as the YAML it also is) or ``"toml"``.
        pointers: JSON Pointers into the parsed data.

    Returns:
        ``{pointer: 1-based line}``: the line of the key for a mapping member, of the item
        for a sequence item, of the document for ``""``; merge keys and aliases are followed
        to where the value is written. Pointers it cannot find are left out.
        It never raises.
    """
    found: dict[str, int] = {}
    if format == "toml":
        try:
            return _toml.lines(bytes(data).decode("utf-8-sig"), pointers)
        except Exception:
            return found
    try:
        root = _compose(bytes(data).decode("utf-8-sig"))
        for pointer in pointers if root is not None else ():
            try:
                line = _line_of(root, from_pointer(pointer))
            except Exception:  # noqa: S112  (best effort, by contract)
                continue
            if line is not None:
                found[pointer] = line
    except Exception:  # noqa: S110  (best effort, by contract)
        pass
    return found


def _compose(text: str) -> Any:
    """PyYAML's node tree of `text` (it keeps lines), or None; never raises."""
    try:
        depth = 0  # yaml.compose recurses (in C, where a deep input crashes): bound it first
        for e in iter(_EventParser(text).get_event, None):
            depth += 1 if e.__class__ in _STARTS else -1 if e.__class__ in _ENDS else 0
            if depth > 256:  # deeper than any config `parse` accepts with sane limits
                return None
            if e.__class__ is StreamEndEvent:
                break
        return yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except Exception:
        return None


def _duplicate(root: Any, key: str) -> tuple[str, int, int] | None:
    """Where `key` is duplicated in a node tree: (JSON Pointer, first line, second line)."""
    todo: list[tuple[Any, tuple[Any, ...]]] = [(root, ())] if root is not None else []
    while todo:
        node, path = todo.pop()
        if isinstance(node, yaml.SequenceNode):
            todo.extend((item, (*path, i)) for i, item in reversed([*enumerate(node.value)]))
        elif isinstance(node, yaml.MappingNode):
            lines = [k.start_mark.line + 1 for k, _ in node.value if k.value == key]
            if len(lines) > 1:
                return to_pointer((*path, key)), lines[0], lines[1]
            todo.extend((v, (*path, k.value)) for k, v in reversed(node.value))
    return None


def _line_of(node: Any, segments: tuple[str, ...]) -> int | None:
    line: int = node.start_mark.line + 1
    for seg in segments:
        if isinstance(node, yaml.MappingNode):
            pair = _member(node, seg, 0)
            if pair is None:
                return None
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and seg.isdigit():
            node = node.value[int(seg)]
            line = node.start_mark.line + 1
        else:
            return None
    return line


def _member(node: yaml.MappingNode, seg: str, hops: int) -> tuple[Any, Any] | None:
    merged: list[Any] = []
    for k, v in node.value:
        if k.tag == _Y + "merge":
            merged.extend(v.value if isinstance(v, yaml.SequenceNode) else [v])
        elif isinstance(k, yaml.ScalarNode) and k.value == seg:
            return k, v
    for source in merged:
        if isinstance(source, yaml.MappingNode) and hops < 100:
            pair = _member(source, seg, hops + 1)
            if pair is not None:
                return pair
    return None


_fast = _fastyaml.loader(_check)
