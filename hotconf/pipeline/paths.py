"""Paths into a config: JSON Pointers (reports, problems), dotted keys (``live.get``,
subscriber patterns) and the tuple form both turn into.

A path is a tuple of segments: ``str`` for a mapping key, ``int`` for a list index.
``("db", "hosts", 0)`` is ``/db/hosts/0`` as a JSON Pointer and ``db.hosts.0`` dotted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from fnmatch import fnmatchcase

Path = tuple[str | int, ...]


def to_pointer(path: Iterable[str | int]) -> str:
    """``("a/b", 0)`` -> ``"/a~1b/0"`` (RFC 6901); the empty path is ``""``."""
    return "".join("/" + str(seg).replace("~", "~0").replace("/", "~1") for seg in path)


def from_pointer(pointer: str) -> tuple[str, ...]:
    """``"/a~1b/0"`` -> ``("a/b", "0")``; segments stay strings (a pointer has no types)."""
    if pointer in ("", "#"):
        return ()
    if pointer.startswith("#"):
        pointer = pointer[1:]
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON Pointer: {pointer!r}")
    return tuple(s.replace("~1", "/").replace("~0", "~") for s in pointer[1:].split("/"))


def to_dotted(path: Iterable[str | int]) -> str:
    """``("db", "hosts", 0)`` -> ``"db.hosts.0"``."""
    return ".".join(str(seg) for seg in path)


def split_dotted(key: str) -> tuple[str, ...]:
    """``"db.hosts.0"`` -> ``("db", "hosts", "0")``; an empty key is the root."""
    return tuple(key.split(".")) if key else ()


def matches(path: Sequence[str | int], pattern: Sequence[str]) -> bool:
    """Does a change at ``path`` concern a subscriber watching ``pattern``?

    Segments compare with shell globs (``*`` is one whole segment or part of one). A change
    matches when the pattern covers the path or one of its ancestors (``db`` and ``db.*`` see
    ``db.pool.size``), or when the path is an ancestor of what the pattern names (replacing
    all of ``db`` changes ``db.pool_size`` too).
    """
    n = min(len(path), len(pattern))
    return all(fnmatchcase(str(path[i]), pattern[i]) for i in range(n))


def covered(path: Sequence[str | int], roots: Collection[tuple[str, ...]]) -> bool:
    """Is ``path`` one of ``roots`` or under one of them? (``("db", "password")`` is covered
    by ``{("db",)}``.) ``roots`` hold string segments; an int index in ``path`` compares as
    its string."""
    if not roots:
        return False
    parts = tuple(str(seg) for seg in path)
    return any(parts[:n] in roots for n in range(len(parts) + 1))
