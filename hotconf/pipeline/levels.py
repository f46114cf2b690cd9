"""Impact levels: how much a change matters, lowest to highest.

`Level` is ordered, so a gate reads ``report.level > gate``, and each level is also its
lowercase name (``Level.RISKY == "risky"``; JSON, logs and the CLI show the name), so code and
configs that spell levels as strings keep working.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

LevelName = Literal["none", "safe", "risky", "restart", "breaking"]
"""A level spelled as a string, as ``watch(gate="risky")`` and the CLI's ``--fail-on`` take it."""


class Level(StrEnum):
    """An impact level; compares by rank: ``NONE < SAFE < RISKY < RESTART < BREAKING``.

    Example:
        >>> Level.RISKY > "safe", Level("restart") >= Level.RISKY, f"{Level.SAFE}"
        (True, True, 'safe')
    """

    NONE = "none"
    """Semantically equal (order, comments, anchors, quoting): a no-op."""
    SAFE = "safe"
    """A value changed within the schema; an optional key or a list item added."""
    RISKY = "risky"
    """A key removed, a type change, a list reordered, a 10x change, or marked risky."""
    RESTART = "restart"
    """A key marked ``x-hotconf-reload: restart`` changed: applied, felt after a restart."""
    BREAKING = "breaking"
    """The candidate is invalid (rejected), or a schema change breaks configs."""

    @classmethod
    def of(cls, value: Level | str) -> Level:
        """``value`` as a `Level`.

        Raises:
            ValueError: it names no level (the message lists them).
        """
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(level.value for level in cls)
            raise ValueError(f"a level is one of {names}, not {value!r}") from None

    @property
    def rank(self) -> int:
        """0 for ``none`` up to 4 for ``breaking``."""
        return _RANK[self]

    def __lt__(self, other: str) -> bool:
        return _RANK[self] < _RANK[Level.of(other)]

    def __le__(self, other: str) -> bool:
        return _RANK[self] <= _RANK[Level.of(other)]

    def __gt__(self, other: str) -> bool:
        return _RANK[self] > _RANK[Level.of(other)]

    def __ge__(self, other: str) -> bool:
        return _RANK[self] >= _RANK[Level.of(other)]


_RANK: dict[str, int] = {level.value: n for n, level in enumerate(Level)}

LEVELS: tuple[Level, ...] = tuple(Level)
"""Every level, lowest first."""


def max_level(levels: Iterable[Level | str]) -> Level:
    """The highest of some levels (``none`` for none)."""
    best = Level.NONE
    for level in levels:
        if _RANK[level] > _RANK[best]:
            best = Level.of(level)
    return best


__all__ = ["LEVELS", "Level", "LevelName", "max_level"]
