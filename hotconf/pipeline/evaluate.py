"""The one candidate check: `evaluate` turns a candidate into an `Evaluation`.

Raw documents (or data) → one candidate (parse each, deep-merge in order, place the values
of environment variables and secret files: `hotconf.pipeline.assemble`) → the effective
config (the schemas' defaults filled in) → canonical checksum → problems (the schema on the
candidate as written and on the effective config, the model on the effective config, which
builds its instance, then custom validators on the effective config) located at file:line
(or at the variable or secret file that set the value) → impact report against the previous
config → gate. Reloads, dry-run validation,
rollouts, fleet publish and rollback, and the CLI all go through it; what each then does
with the verdict (commit, hold, refuse, print) is theirs. Nothing here has state or threads.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from ..errors import LoadError, Problem
from ..sources import RawDocument
from . import encode
from .assemble import Assembled, Key, assemble, defines
from .assemble import merge as merge
from .defaults import with_defaults
from .impact import ImpactReport, assess
from .levels import Level, LevelName
from .load import DEFAULT_LIMITS, Limits, locate
from .model import Model
from .paths import Path, covered, from_pointer, to_pointer
from .pieces import ParseCache
from .provenance import Origin
from .redaction import scrub_text
from .schema import Schema, sensitive_name
from .share import settle
from .snapshot import Snapshot, canonical_json, freeze, thaw

log = logging.getLogger("hotconf")

Validator = Callable[[Mapping[str, Any]], Iterable[Problem | str] | None]
"""A custom check: takes the candidate (read-only), returns problems (or strings); none means
it passes. An exception raised by a validator rejects the candidate."""


def schemas_of(schema: Schema | None, model: Model[Any] | None) -> tuple[Schema, ...]:
    """The schemas that say what is secret, what needs a restart and what the defaults are:
    the JSON Schema, then the model's (those that are given)."""
    found = (schema, model.schema if model is not None else None)
    return tuple(s for s in found if s is not None)


def check(
    data: Mapping[str, Any],
    schema: Schema | None,
    validators: Iterable[Validator] = (),
    *,
    frozen: Mapping[str, Any] | None = None,
    model: Model[Any] | None = None,
    secrets: Collection[tuple[str, ...]] = (),
    plain: bool | None = None,
) -> tuple[Problem, ...]:
    """Validate a candidate: the schema and the model, then the custom validators.

    Returns:
        The problems; empty when the candidate passes.
    """
    return validate(
        data, schema, validators, frozen=frozen, model=model, secrets=secrets, plain=plain
    )[0]


def validate(
    data: Mapping[str, Any],
    schema: Schema | None,
    validators: Iterable[Validator] = (),
    *,
    frozen: Mapping[str, Any] | None = None,
    model: Model[Any] | None = None,
    json_text: bytes | None = None,
    written: Mapping[str, Any] | None = None,
    defaulted: Collection[Path] = frozenset(),
    secrets: Collection[tuple[str, ...]] = (),
    plain: bool | None = None,
) -> tuple[tuple[Problem, ...], Any]:
    """Validate a config and build its typed value.

    ``data`` is the effective config, what is served: it must pass the schema, and the model
    (pydantic, reading it as JSON) builds its instance from it, so reload, start-up and
    rollback build it from the same input. The config as written (``written``, when the
    defaults filled something in) must pass the schema too: a key it requires must be
    written, default or not. Then the custom validators run on ``frozen`` (the effective
    config, frozen: a validator cannot change what gets committed).

    Args:
        data: the effective config (plain data).
        json_text: ``data`` as JSON, if the caller has it (the model reads JSON).
        written: the config as written, when it differs from ``data``.
        defaulted: the paths of ``data`` the defaults filled in (problems there say so).
        secrets: paths whose values messages must not quote, whatever the schemas say
            (values a secret file set).
        plain: what `hotconf.pipeline.share.Facts.plain` says of ``data``, if known (then
            the schema's fast path need not look for itself).

    Returns:
        The problems (empty when the config passes) and the model's instance (``None``
        without a model, or when a problem was found).
    """
    problems: list[Problem] = []
    instance: Any = None
    schemas = schemas_of(schema, model)
    if schema is not None:
        if written is None:
            found = schema._validate(data, plain, secrets)
        else:  # valid as written (``plain`` is of ``data``), and with what the defaults made?
            found = schema._validate(written, None, secrets)
            if not found:
                found = _by_defaults(schema._validate(data, plain, secrets), defaulted, every=True)
        if model is not None and found:
            found = _hide(found, model.schema, schema)
        problems.extend(found)
    if model is not None:
        text = json_text if json_text is not None else canonical_json(data)
        instance, found = model.validate(data, text, _sensitive(schemas, secrets))
        problems.extend(_by_defaults(found, defaulted, every=False))
    if problems:
        return tuple(problems), None  # custom checks may assume a valid candidate
    validators = tuple(validators)
    if validators and frozen is None:
        frozen = freeze(data)
    for validator in validators:
        try:
            result = validator(frozen or {}) or ()
            problems.extend(
                replace(p, message=scrub_text(p.message))
                if isinstance(p, Problem)
                else Problem(scrub_text(str(p)), code="check")
                for p in result
            )
        except Exception as exc:
            name = getattr(validator, "__qualname__", repr(validator))
            # The exception's message may quote the candidate (a secret too): log where it
            # was raised, not what it said.
            where = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
            log.warning("hotconf: validator %s raised %s at\n%s", name, type(exc).__name__, where)
            problems.append(Problem(f"validator {name} raised {type(exc).__name__}", code="check"))
    return tuple(problems), None if problems else instance


def _by_defaults(
    problems: tuple[Problem, ...], defaulted: Collection[Path], *, every: bool
) -> tuple[Problem, ...]:
    """Problems the defaults made say so: one at (or inside) a value a default filled in
    names it; with ``every`` (the config as written passed), each one lists the defaults."""
    if not problems or not defaulted:
        return problems
    filled = sorted(to_pointer(path) for path in defaulted)
    listed = ", ".join(filled[:3]) + (f" and {len(filled) - 3} more" if len(filled) > 3 else "")
    out = []
    for p in problems:
        at = next((f for f in filled if p.path == f or p.path.startswith(f + "/")), None)
        if at is not None:
            p = Problem(f"{p.message} (the default filled in at {at})", *_where(p))
        elif every:
            p = Problem(f"{p.message} (with the defaults filled in: {listed})", *_where(p))
        out.append(p)
    return tuple(out)


def _where(p: Problem) -> tuple[str, str, str | None, int | None]:
    return p.path, p.code, p.source, p.line


def _sensitive(
    schemas: Sequence[Schema], secrets: Collection[tuple[str, ...]] = ()
) -> Callable[[Path], bool]:
    def sensitive(path: Path) -> bool:
        if secrets and covered(path, secrets):
            return True
        if schemas:
            return any(s.is_sensitive(path) for s in schemas)
        return any(isinstance(seg, str) and sensitive_name(seg) for seg in path)

    return sensitive


def _hide(problems: tuple[Problem, ...], model: Schema, schema: Schema) -> tuple[Problem, ...]:
    # jsonschema's message may show the value where only the model knows it is a secret
    out = []
    for p in problems:
        path = from_pointer(p.path) if p.path else ()
        if model.is_sensitive(path) and not schema.is_sensitive(path):
            p = Problem(f"value fails {p.code!r}", p.path, p.code, p.source, p.line)
        out.append(p)
    return tuple(out)


def digest(docs: Iterable[RawDocument]) -> str:
    h = hashlib.sha256()
    for doc in docs:
        for part in (doc.name.encode(), doc.format.encode(), doc.data):
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
    return h.hexdigest()


def parse_all(docs: Iterable[RawDocument], limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The documents of a candidate, parsed and merged (`assemble` without a schema)."""
    return assemble(tuple(docs), limits=limits).data


def locate_problems(
    problems: tuple[Problem, ...],
    docs: tuple[RawDocument, ...],
    placed: Sequence[Key | None] | None = None,
) -> tuple[Problem, ...]:
    """Give problems a file and line: the last document that defines the path wins. A
    one-value document (placed at ``placed[i]``) gives its name and no line. Then sort them
    by file and line."""
    wanted = {p.path for p in problems if p.line is None and p.source is None}
    if not wanted:
        return problems
    found: dict[str, tuple[str, int | None]] = {}
    for i, doc in enumerate(docs):
        if doc.key is None:
            for pointer, line in locate(doc.data, doc.format, wanted).items():
                found[pointer] = (doc.name, line)
        elif placed is not None:
            for pointer in wanted:
                if defines(doc, placed[i], from_pointer(pointer)):
                    found[pointer] = (doc.name, None)
    out = []
    for p in problems:
        hit = found.get(p.path) if p.path in wanted else None
        if hit is None and p.path in wanted:
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
            checksum is one of ``known``, or its ``written_checksum`` one of
            ``known_written``: nothing else was looked at), ``noop`` (valid, and
            nothing a consumer can see changes), ``held`` (valid, but its impact is above
            the gate) or ``ok`` (valid, to be applied).
        data: the effective config as plain data: the candidate with its defaults filled in
            (``None`` when it does not parse).
        frozen: the same, deep-frozen (what a `Snapshot` holds).
        canonical: its canonical JSON bytes; ``checksum`` is their sha256.
        problems: why it is invalid, located at file:line where the documents say.
        report: its `ImpactReport` against the previous config (``None`` when ``unchanged``
            or when it does not parse and no report was asked for).
        load_error: the `LoadError` when it does not parse.
        timings: seconds spent per stage (parse, defaults, hash, freeze, validate, diff).
        instance: the model's instance, built once here (``None`` without a model, or when
            the candidate is not valid or ``unchanged``).
        defaulted: the paths the defaults filled in.
        written_checksum: the checksum of the candidate as written, before the defaults
            (``checksum`` when they filled nothing in): it stays the same when a schema's
            defaults change, so a rollback pins the source's content by it.
        secrets: the paths whose values are secret whatever the schemas say: those secret
            files set, and the ``secrets`` it was given.
        origin: the documents it was assembled from (what ``live.explain`` replays), when
            it came from documents and parsed.
        ignored: warnings about environment variables left out (unknown keys).
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
    instance: Any = None
    defaulted: frozenset[Path] = frozenset()
    secrets: frozenset[tuple[str, ...]] = frozenset()
    origin: Origin | None = None
    ignored: tuple[str, ...] = ()
    written_checksum: str | None = None

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


def effective(
    data: dict[str, Any],
    schema: Schema | None = None,
    model: Model[Any] | None = None,
    *,
    apply_defaults: bool = True,
) -> tuple[dict[str, Any], frozenset[Path]]:
    """The effective config: ``data`` with the defaults of the schema, then the model's.

    Returns:
        The effective config (``data`` itself when nothing was filled or ``apply_defaults``
        is false) and the paths filled.
    """
    if not apply_defaults:
        return data, frozenset()
    schemas = schemas_of(schema, model)
    return with_defaults(data, schemas) if schemas else (data, frozenset())


def evaluate(
    candidate: Sequence[RawDocument] | Mapping[str, Any],
    *,
    schema: Schema | None = None,
    model: Model[Any] | None = None,
    validators: Iterable[Validator] = (),
    apply_defaults: bool = True,
    previous: Mapping[str, Any] | None = None,
    previous_checksum: str | None = None,
    previous_version: int | None = None,
    known: Collection[str] = (),
    known_written: Collection[str] = (),
    gate: Level | LevelName | None = None,
    report_unparsed: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    secrets: Collection[tuple[str, ...]] = (),
    cache: ParseCache | None = None,
) -> Evaluation:
    """Check one candidate: parse, fill defaults, hash, validate, assess against
    ``previous``, gate.

    Args:
        candidate: raw documents (merged in order) or data.
        schema: the JSON Schema it must pass, if any.
        model: the typed contract it must pass too (`Model`), if any; its instance is built
            here, once.
        validators: custom checks, run after the schema and the model on frozen data.
        apply_defaults: fill in the ``default``s of the schema and the model (the effective
            config is what is hashed, compared and served).
        previous: the config it would replace (a `Snapshot` or plain data), if any.
        previous_checksum: ``previous``'s canonical checksum (a `Snapshot`'s is used, or it
            is computed).
        previous_version: ``previous``'s version, for the report.
        known: checksums that make the candidate ``unchanged`` at once (what is served,
            what a rollback pinned out); nothing is validated then.
        known_written: checksums of configs as written that do the same (the source's
            content a rollback pinned out, whatever defaults the schemas have now).
        gate: the highest level applied automatically; a valid candidate above it is
            ``held``. ``None``: no gate.
        report_unparsed: give a candidate that does not parse a report too (everything
            removed, ``breaking``), as the CLI and fleet publish show.
        limits: the loader's guards (`hotconf.Limits`).
        secrets: paths to redact whatever the schemas say (besides those the candidate's
            secret files set): a LiveConfig passes every path a secret file ever set.
        cache: the pieces of the source's last YAML document (`ParseCache`): only the
            top-level keys whose text changed are parsed again. The result is the same.

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

    schemas = schemas_of(schema, model)
    if previous is not None and previous_checksum is None:
        previous_checksum = getattr(previous, "checksum", None)
        if not isinstance(previous_checksum, str):
            previous_checksum = hashlib.sha256(canonical_json(previous)).hexdigest()
    if previous is not None and previous_version is None:
        version = getattr(previous, "version", None)
        previous_version = version if isinstance(version, int) else None
    docs: tuple[RawDocument, ...] = ()
    assembled: Assembled | None = None
    loaded = None
    if isinstance(candidate, Mapping):
        written = thaw(candidate)
    else:
        docs = tuple(candidate)
        one = docs[0] if len(docs) == 1 else None
        if (
            cache is not None
            and cache.limits == limits  # the pieces are parsed under the same guards
            and one is not None
            and one.key is None
            and one.format == "yaml"
        ):
            loaded = cache.load(one.data, previous)
        try:
            # one whole document: what `assemble` makes of it, from the pieces
            assembled = (
                Assembled(loaded.data, (None,), (), (), frozenset())
                if loaded is not None
                else assemble(docs, schemas, limits)
            )
            written = assembled.data
        except LoadError as exc:
            problems = exc.problems or (Problem(exc.message, code="syntax"),)
            report = None
            if report_unparsed:
                report = assess(
                    previous,
                    {},
                    schemas,
                    problems=problems,
                    old_checksum=previous_checksum,
                    old_version=previous_version,
                    secrets=frozenset(secrets),
                )
            return Evaluation("invalid", problems=problems, report=report, load_error=exc)
        lap("parse")
    hidden = frozenset(secrets) | (assembled.secrets if assembled else frozenset())
    origin = Origin(docs, assembled.paths) if assembled is not None else None
    ignored = assembled.ignored if assembled is not None else ()
    refused = assembled.problems if assembled is not None else ()
    data, defaulted = effective(written, schema, model, apply_defaults=apply_defaults)
    if defaulted:
        lap("defaults")
    # One walk freezes the effective config, sharing what equals the previous snapshot, and
    # collects what the hash and the schema's fast path need; pieces from the cache (when no
    # default was filled in) skip even that.
    plain: bool | None = None
    if loaded is not None and data is written:
        frozen, canonical, plain = loaded.frozen, loaded.canonical, loaded.plain
    else:
        # a Snapshot's values are frozen: they can be shared (not a caller's plain data)
        root = MappingProxyType(previous) if isinstance(previous, Snapshot) else None
        frozen, facts = settle(data, root)
        lap("freeze")
        plain = facts.plain  # of the effective config, which the schema validates
        canonical = encode.dumps(data, floats=facts.floats if facts.plain else None)
    csum = hashlib.sha256(canonical).hexdigest()
    wsum = csum  # the checksum of the config as written: what a rollback pins
    if data is not written:
        wsum = hashlib.sha256(
            loaded.canonical if loaded is not None else canonical_json(written)
        ).hexdigest()
    lap("hash")
    if (csum in known or wsum in known_written) and not refused:
        return Evaluation(
            "unchanged",
            data,
            canonical=canonical,
            checksum=csum,
            timings=timings,
            secrets=hidden,
            origin=origin,
            ignored=ignored,
            written_checksum=wsum,
        )
    # The effective config must pass the schema and builds the model's instance; the config
    # as written must pass the schema too. (custom checks may assume that every layer was
    # placed)
    problems, instance = validate(
        data,
        schema,
        () if refused else validators,
        frozen=frozen,
        model=model,
        json_text=canonical,
        written=None if data is written else written,
        defaulted=defaulted,
        secrets=hidden,
        plain=plain,
    )
    if problems and docs:
        problems = locate_problems(problems, docs, assembled.paths if assembled else None)
    if refused:
        problems, instance = refused + problems, None
    lap("validate")
    report = assess(
        previous,
        frozen,
        schemas,
        problems=problems,
        old_checksum=previous_checksum,
        new_checksum=csum,
        old_version=previous_version,
        defaults=apply_defaults,
        secrets=hidden,
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
    return Evaluation(
        verdict, data, frozen, canonical, csum, problems, report, None, timings, instance,
        defaulted, hidden, origin, ignored, wsum,
    )  # fmt: skip
