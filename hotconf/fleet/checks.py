"""Canary checks and release gates: ``NAME=PROMQL <= THRESHOLD``, and the rule that judges a
canary by rounds of them.

A `Check` is parsed from the command line's ``--check`` and ``--gate`` (`Check.parse`): a name
(letters, digits, ``_``, ``.``, ``-``), ``=``, a PromQL expression, then one of ``<=``, ``<``,
``>=``, ``>`` and a number at the very end. The expression may itself hold ``=``, ``<`` or
``>`` (label matchers, comparisons): the last operator followed by the number is the check's.

Each round queries every check once (`read`, through `hotconf.fleet.prometheus`) and gives a
`Round` of `Reading`s: ``pass``, ``fail``, or ``nodata`` (an empty result, NaN, or Prometheus
unreachable). `Analysis` applies the rule to the rounds:

- one failing reading aborts the canary;
- ``count`` consecutive rounds in which every check passes promote it;
- a round with no data is inconclusive: it breaks the run of passing rounds, and when no
  round has been conclusive for ``no_data_timeout`` seconds the canary is aborted.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import CheckError, PrometheusError

if TYPE_CHECKING:
    from .prometheus import Prometheus

Op = Literal["<=", "<", ">=", ">"]
Result = Literal["pass", "fail", "nodata"]

_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=(?!=)(.*)\Z", re.S)
_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|[Ii]nf)"
_TAIL = re.compile(rf"(.*?)\s*(<=|>=|<|>)\s*({_NUMBER})\s*\Z", re.S)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda v, t: v <= t,
    "<": lambda v, t: v < t,
    ">=": lambda v, t: v >= t,
    ">": lambda v, t: v > t,
}


@dataclass(frozen=True, slots=True)
class Check:
    """One check: a PromQL query whose value must stay on one side of a threshold.

    Example:
        >>> c = Check.parse('errors=sum(rate(http_errors_total{code=~"5.."}[1m])) <= 0.5')
        >>> c.name, c.op, c.threshold, c.passes(0.2), c.passes(0.7)
        ('errors', '<=', 0.5, True, False)
    """

    name: str
    query: str
    op: Op
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Check:
        """Parse ``NAME=PROMQL OP THRESHOLD``.

        Raises:
            CheckError: it is not of that form.
        """
        named = _NAME.match(text)
        if named is None:
            raise CheckError(
                f"not a check: {text!r}: want NAME=PROMQL <= THRESHOLD "
                "(a name of letters, digits, '_', '.', '-', then '=')"
            )
        name, rest = named.groups()
        tail = _TAIL.match(rest.strip())
        if tail is None:
            raise CheckError(
                f"check {name}: {rest.strip()!r} does not end in a comparison with a number "
                "(<=, <, >=, > THRESHOLD)"
            )
        query, op, number = tail.groups()
        if not query.strip():
            raise CheckError(f"check {name}: the PromQL expression is empty")
        threshold = float(number)
        if math.isnan(threshold):  # pragma: no cover - the pattern admits no NaN
            raise CheckError(f"check {name}: the threshold is not a number")
        return cls(name, query.strip(), op, threshold)  # type: ignore[arg-type]

    def passes(self, value: float) -> bool:
        """``value OP threshold``."""
        return _COMPARE[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.name}={self.query} {self.op} {self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "query": self.query, "op": self.op, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Check:
        """The inverse of `to_dict` (a canary record read back from etcd).

        Raises:
            CheckError: it is not a check.
        """
        try:
            op, threshold = str(doc["op"]), float(doc["threshold"])
            if op not in _COMPARE:
                raise ValueError(op)
            return cls(str(doc["name"]), str(doc["query"]), op, threshold)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            raise CheckError(f"not a check: {dict(doc)!r:.200}") from None


def parse_checks(texts: Iterable[str]) -> tuple[Check, ...]:
    """`Check.parse` each; names must differ.

    Raises:
        CheckError: one does not parse, or two share a name.
    """
    checks = tuple(Check.parse(t) for t in texts)
    seen: set[str] = set()
    for c in checks:
        if c.name in seen:
            raise CheckError(f"two checks are named {c.name!r}: give each its own name")
        seen.add(c.name)
    return checks


@dataclass(frozen=True, slots=True)
class Reading:
    """One check's value in one round, and its result.

    Attributes:
        check: the check.
        value: what the query returned (``None``: no data).
        result: ``pass``, ``fail`` or ``nodata``.
        why: for no data, or a failure that is no comparison (a query that stopped
            giving one number), what happened.
    """

    check: Check
    value: float | None
    result: Result
    why: str | None = None

    def __str__(self) -> str:
        c = self.check
        if self.value is None:
            return f"{c.name}: no data ({self.why})"
        shown = f"{c.name}={self.value:.6g} {c.op} {c.threshold:g}"
        return (
            f"{shown} {self.result}" if self.why is None else f"{shown} {self.result}: {self.why}"
        )

    def to_dict(self) -> dict[str, Any]:
        value = self.value
        if value is not None and math.isinf(value):
            value = None  # JSON has no infinity: `why` says it
        return {**self.check.to_dict(), "value": value, "result": self.result, "why": self.why}


@dataclass(frozen=True, slots=True)
class Round:
    """One round: every check read once."""

    number: int
    at: str
    readings: tuple[Reading, ...]
    unreachable: bool = False  # Prometheus could not be reached in this round

    @property
    def verdict(self) -> Result:
        """``fail`` if a check failed, else ``nodata`` if one had none, else ``pass``."""
        results = {r.result for r in self.readings}
        return "fail" if "fail" in results else "nodata" if "nodata" in results else "pass"

    def __str__(self) -> str:
        shown = "; ".join(str(r) for r in self.readings)
        return f"round {self.number}: {self.verdict}: {shown}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "at": self.at,
            "verdict": self.verdict,
            "checks": [r.to_dict() for r in self.readings],
        }


def read(prometheus: Prometheus, checks: Sequence[Check], number: int = 0) -> Round:
    """Query each check once.

    Prometheus out of reach makes each reading ``nodata`` (the round says ``unreachable``);
    a query that no longer gives one number fails its check.
    """
    readings: list[Reading] = []
    unreachable = False
    for check in checks:
        try:
            value = prometheus.query(check.query)
        except PrometheusError as exc:
            unreachable = True
            readings.append(Reading(check, None, "nodata", exc.message))
            continue
        except CheckError as exc:
            readings.append(Reading(check, None, "fail", exc.message))
            continue
        if value is None:
            readings.append(Reading(check, None, "nodata", "the query returned no sample"))
        else:
            result: Result = "pass" if check.passes(value) else "fail"
            why = "the value is infinite" if math.isinf(value) else None
            readings.append(Reading(check, value, result, why))
    at = datetime.now(UTC).isoformat()
    return Round(number, at, tuple(readings), unreachable)


Verdict = Literal["promote", "abort"]


@dataclass
class Analysis:
    """The rule over rounds (see the module docstring).

    Args:
        checks: what each round reads.
        count: consecutive passing rounds that promote.
        no_data_timeout: seconds without a conclusive round before the canary is aborted.
        clock: monotonic seconds (a test passes its own).
    """

    checks: tuple[Check, ...]
    count: int
    no_data_timeout: float
    clock: Callable[[], float] = time.monotonic
    streak: int = 0
    rounds: int = 0
    unreachable: bool = False
    _since: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.checks:
            raise CheckError("a canary analysis needs at least one check")
        if self.count < 1:
            raise CheckError(f"the count of passing rounds must be at least 1, not {self.count}")

    def judge(self, round: Round) -> tuple[Verdict | None, str]:
        """Take one round; ``(verdict, why)``, the verdict ``None`` while undecided."""
        now = self.clock()
        if self._since is None:
            self._since = now
        self.rounds += 1
        self.unreachable = round.unreachable
        verdict = round.verdict
        if verdict == "fail":
            failed = next(r for r in round.readings if r.result == "fail")
            return "abort", f"check {failed} (round {round.number})"
        if verdict == "nodata":
            self.streak = 0
            missing = next(r for r in round.readings if r.result == "nodata")
            quiet = now - self._since
            if quiet >= self.no_data_timeout:
                return "abort", (
                    f"no conclusive round for {quiet:.0f}s (limit {self.no_data_timeout:g}s): "
                    f"{missing}"
                )
            return None, f"inconclusive, {missing}; {quiet:.0f}s of {self.no_data_timeout:g}s"
        self._since = now
        self.streak += 1
        if self.streak >= self.count:
            return "promote", f"{self.streak} consecutive rounds passed every check"
        return None, f"{self.streak}/{self.count} consecutive rounds passed"


__all__ = [
    "Analysis",
    "Check",
    "Op",
    "Reading",
    "Result",
    "Round",
    "Verdict",
    "parse_checks",
    "read",
]
