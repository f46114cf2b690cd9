"""Incremental loading of block-style YAML: parse again only the top-level keys that changed.

A YAML document whose top level is a block mapping is cut before every line that starts, at
column 0, with a plain key (``name:`` followed by a space or the line's end). Each piece is a
YAML document of its own holding some of the top-level keys, and parsing each piece gives the
same values as parsing the whole, as long as no construct reaches across a cut:

* anchors, aliases and merge keys (``&``, ``*``, ``<<`` anywhere), directives, document
  markers and explicit keys or values (``%``, ``---``, ``...``, ``?``, ``:`` at the start of
  a line), or content that does not start at column 0: such texts are never cut;
* a quoted scalar, a flow collection or anything else still open at a cut leaves the piece
  before it unparseable: then the whole text is parsed as usual;
* a block scalar, a list or a mapping at deeper indentation ends where a line starts at
  column 0 in the whole text just as in a piece;
* a key in two pieces (a duplicate), or more nodes in all than ``Limits.max_nodes``: then the
  whole text is parsed, which reports them with their lines.

So whenever a piece fails, or anything looks unusual, `ParseCache.load` returns None and the
caller parses the whole text (`hotconf.pipeline.load.parse`), which is the reference for the
result and the errors alike. A piece seen in the previous candidate is not parsed, frozen or
encoded again: a save that changes one section, or only a comment, costs that section. The
canonical form of the document is put together from each key's canonical value, sorted.
tests/pipeline/test_pieces.py checks pieces against whole parses on generated texts.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from sys import intern
from types import MappingProxyType
from typing import Any

from ..errors import LoadError
from . import encode
from .load import DEFAULT_LIMITS, Limits, fast_unchecked, parse_text
from .share import Facts, settle

# a line break before a plain key at column 0 (the piece before keeps the line break: a block
# scalar's last one is part of its value)
_CUT = re.compile(r"\n(?=[A-Za-z_][A-Za-z0-9_.-]*:(?:[ \r\n]|\Z))")
# anchors, aliases, merge keys anywhere; directives, document markers, explicit keys and
# values at the start of a line (each search starts with a literal: they cost little)
_UNSAFE = ("&", "*", "<<")
_UNSAFE_LINE = re.compile(r"\n(?:---|\.\.\.|[%?:])")
_UNSAFE_START = ("---", "...", "%", "?", ":")
# the first line with content (not blank, not only a comment) starts at column 0
_FLUSH_LEFT = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\n)*[^\s#]")
_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class _Piece:
    """One parsed piece: its top-level keys with their plain, frozen and canonical values."""

    data: dict[str, Any]
    frozen: tuple[Any, ...]
    canonical: tuple[bytes, ...]
    keys_json: tuple[bytes, ...]
    nodes: int  # its keys and values, and every node inside them
    plain: bool


@dataclass(frozen=True, slots=True)
class Loaded:
    """A document put together from pieces.

    Attributes:
        data: the plain data (what `hotconf.pipeline.load.parse` returns for the text). Parts
            of it are shared with the next load: never change it.
        frozen: the same, frozen (`hotconf.pipeline.share.settle`), sharing with the previous
            snapshot.
        canonical: its canonical JSON.
        plain: jsonschema-rs may read ``data`` (see `hotconf.pipeline.share.Facts`).
        parsed: how many pieces were parsed (the others came from the cache).
    """

    data: dict[str, Any]
    frozen: Mapping[str, Any]
    canonical: bytes
    plain: bool
    parsed: int


class ParseCache:
    """The pieces of the last YAML text loaded, to parse only what changed in the next one.

    One per source (a `LiveConfig` holds one); safe to share between threads, though each
    load replaces what the cache holds.

    Args:
        limits: the loader's guards (`hotconf.pipeline.load.Limits`).
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._pieces: dict[str, _Piece] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._pieces = {}

    def load(self, raw: bytes, previous: Mapping[str, Any] | None = None) -> Loaded | None:
        """Load YAML bytes piece by piece, or None: parse the whole text instead.

        Args:
            raw: the document (UTF-8, a byte-order mark allowed).
            previous: the frozen config it may replace (a `Snapshot`): new pieces share
                its subtrees where they are equal.

        Returns:
            The `Loaded` document, equal to what parsing the whole text gives; ``None`` when
            the text cannot be cut safely or any piece fails (never an error).
        """
        limits = self.limits
        if len(raw) > limits.max_bytes:
            return None
        try:
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            return None
        if (
            any(mark in text for mark in _UNSAFE)
            or text.startswith(_UNSAFE_START)
            or _UNSAFE_LINE.search(text) is not None
            or _FLUSH_LEFT.match(text) is None
        ):
            return None
        cuts = [m.end() for m in _CUT.finditer(text)]
        if not cuts:
            return None
        parts = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        with self._lock:
            known = self._pieces
        fresh: dict[str, _Piece] = {}
        data: dict[str, Any] = {}
        frozen: dict[str, Any] = {}
        canonical: dict[str, bytes] = {}
        nodes = 1
        plain = True
        parsed = 0
        for part in parts:
            piece = known.get(part) or fresh.get(part)
            if piece is None:
                piece = self._parse(part, previous)
                if piece is None:
                    return None
                parsed += 1
            fresh[part] = piece
            for key, value, fz, canon, kj in zip(
                piece.data,
                piece.data.values(),
                piece.frozen,
                piece.canonical,
                piece.keys_json,
                strict=True,
            ):
                if key in data:
                    return None  # a duplicate key: the whole parse says where
                data[key] = value
                frozen[intern(key)] = fz
                canonical[key] = kj + b":" + canon
            nodes += piece.nodes
            plain = plain and piece.plain
        if nodes > limits.max_nodes:
            return None
        with self._lock:
            self._pieces = fresh
        body = b",".join(canonical[k] for k in sorted(canonical))
        return Loaded(data, _proxy(frozen), b"{" + body + b"}", plain, parsed)

    def _parse(self, part: str, previous: Mapping[str, Any] | None) -> _Piece | None:
        # yaml-rs where it may read the piece; `settle` then checks what the loader's own
        # check would (str keys, finite floats, 64-bit ints, depth) on its way. Anything
        # unusual: the loader's full rules, then the result is checked again.
        data = fast_unchecked(part)
        piece = self._settle(data, previous) if data is not None else None
        if piece is None:
            try:
                data = parse_text(part, "yaml", "<piece>", self.limits)
            except (LoadError, RecursionError):
                return None
            piece = self._settle(data, previous, checked=True)
        return piece

    def _settle(
        self, data: dict[str, Any], previous: Mapping[str, Any] | None, checked: bool = False
    ) -> _Piece | None:
        if not data:
            return None
        frozen = []
        canonical = []
        nodes = 2 * len(data)
        plain = True
        for key, value in data.items():
            if type(key) is not str:
                return None
            prev = previous.get(key, _ABSENT) if previous is not None else _ABSENT
            fz, facts = settle(value, prev, Facts())
            if not checked and (not facts.plain or facts.depth + 1 > self.limits.max_depth):
                return None  # parse it by the full rules
            try:
                canonical.append(encode.dumps(value, floats=facts.floats if facts.plain else None))
            except (TypeError, ValueError):
                return None  # not JSON-compatible: the whole parse decides
            frozen.append(fz)
            nodes += facts.nodes
            plain = plain and facts.plain
        keys_json = tuple(encode.key_json(k) for k in data)
        return _Piece(data, tuple(frozen), tuple(canonical), keys_json, nodes, plain)


def _proxy(data: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(data)


__all__ = ["Loaded", "ParseCache"]
