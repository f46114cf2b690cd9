"""The one candidate check: `evaluate` turns a candidate into an `Evaluation`.

Raw documents (or data) → one candidate (parse each, deep-merge in order) → canonical checksum
→ problems (schema, then custom validators) located at file:line → impact report against the
previous config → gate. Reloads, dry-run validation, rollouts, fleet publish and rollback, and
the CLI all go through it; what each then does with the verdict (commit, hold, refuse, print)
is theirs. Nothing here has state or threads.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import LoadError, Problem
from ..sources import RawDocument
from .impact import ImpactReport, assess
from .levels import Level, LevelName
from .load import locate, parse
from .paths import from_pointer, to_pointer
from .schema import Schema
from .snapshot import canonical_json, freeze, thaw

log = logging.getLogger("hotconf")

Validator = Callable[[Mapping[str, Any]], Iterable[Problem | str] | None]
"""A custom check: takes the candidate (read-only), returns problems (or strings); none means
it passes. An exception raised by a validator rejects the candidate."""


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two documents: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merge(old, value)
        else:
            out[key] = value
    return out


def check(
    data: Mapping[str, Any],
    schema: Schema | None,
    validators: Iterable[Validator] = (),
    *,
    frozen: Mapping[str, Any] | None = None,
) -> tuple[Problem, ...]:
    """Validate a candidate: the schema first (on the plain data jsonschema wants), then the
    custom validators (on frozen data, so a validator cannot change what gets committed).

    Returns:
        The problems; empty when the candidate passes.
    """
    problems: list[Problem] = []
    if schema is not None:
        problems.extend(schema.validate(data))
    if problems:
        return tuple(problems)  # custom checks may assume a schema-valid candidate
    validators = tuple(validators)
    if validators and frozen is None:
        frozen = freeze(data)
    for validator in validators:
        try:
            found = validator(frozen or {}) or ()
            problems.extend(
                p if isinstance(p, Problem) else Problem(str(p), code="check") for p in found
            )
        except Exception as exc:
            name = getattr(validator, "__qualname__", repr(validator))
            # The exception's message may quote the candidate (a secret too): log where it
            # was raised, not what it said.
            where = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
            log.warning("hotconf: validator %s raised %s at\n%s", name, type(exc).__name__, where)
            problems.append(Problem(f"validator {name} raised {type(exc).__name__}", code="check"))
    return tuple(problems)


def digest(docs: Iterable[RawDocument]) -> str:
    h = hashlib.sha256()
    for doc in docs:
        for part in (doc.name.encode(), doc.format.encode(), doc.data):
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
    return h.hexdigest()


def parse_all(docs: Iterable[RawDocument]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for i, doc in enumerate(docs):
        part = parse(doc.data, doc.format, name=doc.name)
        data = part if i == 0 else merge(data, part)
    return data


def locate_problems(
    problems: tuple[Problem, ...], docs: tuple[RawDocument, ...]
) -> tuple[Problem, ...]:
    """Give problems a file and line (the last document that defines the path wins), and
    sort them by file and line."""
    wanted = {p.path for p in problems if p.line is None}
    if not wanted:
        return problems
    found: dict[str, tuple[str, int]] = {}
    for doc in docs:
        for pointer, line in locate(doc.data, doc.format, wanted).items():
            found[pointer] = (doc.name, line)
    out = []
    for p in problems:
        hit = found.get(p.path) if p.line is None else None
        if hit is None and p.line is None:
            # point at the nearest ancestor the documents define (a missing key's parent)
            parts = from_pointer(p.path) if p.path else ()
            for n in range(len(parts) - 1, -1, -1):
                anc = to_pointer(parts[:n])
                if anc in found:
                    hit = found[anc]
                    break
        if hit is not None:
            p = Problem(p.message, p.path, p.code, hit[0], hit[1])
        elif len(docs) == 1 and p.source is None:
            p = Problem(p.message, p.path, p.code, docs[0].name, None)
        out.append(p)
    # In the order a reader meets them: document by document, line by line (problems
    # without a line, such as the count of those left out, last); path order breaks ties.
    order = {doc.name: n for n, doc in enumerate(docs)}
    last = len(docs)
    out.sort(key=lambda p: (order.get(p.source or "", last), p.line is None, p.line or 0))
    return tuple(out)


Verdict = Literal["invalid", "unchanged", "noop", "held", "ok"]


@dataclass(frozen=True, slots=True, eq=False)
class Evaluation:
    """What `evaluate` found out about one candidate.

    Attributes:
        verdict: ``invalid`` (it does not parse, or has problems), ``unchanged`` (its
            checksum is one of ``known``: nothing else was looked at), ``noop`` (valid, and
            nothing a consumer can see changes), ``held`` (valid, but its impact is above
            the gate) or ``ok`` (valid, to be applied).
        data: the candidate as plain data (``None`` when it does not parse).
        frozen: the same, deep-frozen (what a `Snapshot` holds).
        canonical: its canonical JSON bytes; ``checksum`` is their sha256.
        problems: why it is invalid, located at file:line where the documents say.
        report: its `ImpactReport` against the previous config (``None`` when ``unchanged``
            or when it does not parse and no report was asked for).
        load_error: the `LoadError` when it does not parse.
        timings: seconds spent per stage (parse, hash, freeze, validate, diff).
    """

    verdict: Verdict
    data: dict[str, Any] | None = None
    frozen: Mapping[str, Any] | None = None
    canonical: bytes | None = None
    checksum: str | None = None
    problems: tuple[Problem, ...] = ()
    report: ImpactReport | None = None
    load_error: LoadError | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """It parsed and passed every check (``unchanged`` counts: it was valid before)."""
        return self.verdict not in ("invalid",)

    @property
    def level(self) -> Level:
        """The report's level (``breaking`` when invalid, ``none`` when unchanged)."""
        if self.report is not None:
            return self.report.level
        return Level.BREAKING if self.verdict == "invalid" else Level.NONE


def evaluate(
    candidate: Sequence[RawDocument] | Mapping[str, Any],
    *,
    schema: Schema | None = None,
    validators: Iterable[Validator] = (),
    previous: Mapping[str, Any] | None = None,
    previous_checksum: str | None = None,
    previous_version: int | None = None,
    known: Collection[str] = (),
    gate: Level | LevelName | None = None,
    report_unparsed: bool = True,
) -> Evaluation:
    """Check one candidate: parse, hash, validate, assess against ``previous``, gate.

    Args:
        candidate: raw documents (merged in order) or data.
        schema: the schema it must pass, if any.
        validators: custom checks, run after the schema on frozen data.
        previous: the config it would replace (a `Snapshot` or plain data), if any.
        previous_checksum: ``previous``'s canonical checksum (a `Snapshot`'s is used, or it
            is computed).
        previous_version: ``previous``'s version, for the report.
        known: checksums that make the candidate ``unchanged`` at once (what is served,
            what a rollback pinned out); nothing is validated then.
        gate: the highest level applied automatically; a valid candidate above it is
            ``held``. ``None``: no gate.
        report_unparsed: give a candidate that does not parse a report too (everything
            removed, ``breaking``), as the CLI and fleet publish show.

    Returns:
        The `Evaluation`. Never raises for a bad candidate.

    Example:
        >>> evaluate({"a": 1}, previous={"a": 2}).report.changes[0].pointer
        '/a'
    """
    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[stage] = now - mark
        mark = now

    if previous is not None and previous_checksum is None:
        previous_checksum = getattr(previous, "checksum", None)
        if not isinstance(previous_checksum, str):
            previous_checksum = hashlib.sha256(canonical_json(previous)).hexdigest()
    if previous is not None and previous_version is None:
        version = getattr(previous, "version", None)
        previous_version = version if isinstance(version, int) else None
    docs: tuple[RawDocument, ...] = ()
    if isinstance(candidate, Mapping):
        data = thaw(candidate)
    else:
        docs = tuple(candidate)
        try:
            data = parse_all(docs)
        except LoadError as exc:
            problems = exc.problems or (Problem(exc.message, code="syntax"),)
            report = None
            if report_unparsed:
                report = assess(
                    previous,
                    {},
                    schema,
                    problems=problems,
                    old_checksum=previous_checksum,
                    old_version=previous_version,
                )
            return Evaluation("invalid", problems=problems, report=report, load_error=exc)
        lap("parse")
    canonical = canonical_json(data)
    csum = hashlib.sha256(canonical).hexdigest()
    lap("hash")
    if csum in known:
        return Evaluation("unchanged", data, canonical=canonical, checksum=csum, timings=timings)
    frozen = freeze(data)
    lap("freeze")
    problems = check(data, schema, validators, frozen=frozen)
    if problems and docs:
        problems = locate_problems(problems, docs)
    lap("validate")
    report = assess(
        previous,
        frozen,
        schema,
        problems=problems,
        old_checksum=previous_checksum,
        new_checksum=csum,
        old_version=previous_version,
    )
    lap("diff")
    verdict: Verdict
    if problems:
        verdict = "invalid"
    elif report.idempotent and previous is not None:
        verdict = "noop"
    elif gate is not None and previous is not None and report.level > gate:
        verdict = "held"
    else:
        verdict = "ok"
    return Evaluation(verdict, data, frozen, canonical, csum, problems, report, None, timings)
