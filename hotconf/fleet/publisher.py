"""Fleet mode: publish configs to etcd, roll them back, and run canaries across instances.

Key layout, under ``/hotconf/<name>/`` (the prefix is configurable)::

    current              pointer {"version": N, "checksum": ...}: what every instance serves
    canary               pointer {"id", "version", "stable", "instances": [...], budget...}
                         while a canary runs: the listed instances serve that version instead
    versions/0000000042  an envelope (below); append-only, never rewritten
    instances/<id>       what each instance serves and its outcomes, under a lease (it
                         disappears when the instance stops or stops renewing it)
    rollouts/<id>        each canary rollout: state (running, promoted, aborted) and reason

Version keys are zero-padded so that key order is version order. A version is an *envelope*,
JSON: ``{"hotconf": 1, "name", "version", "format": "yaml"|"json", "config": "<the config
text>", "sha256": "<of the config text's UTF-8 bytes>", "checksum": "<canonical checksum of the
parsed config, as Snapshot.checksum>", "published_at", "publisher", "source", "previous",
"restores", "rolled_back_from", "level", "summary"}``. Instances check ``sha256`` and refuse
an envelope that does not verify (the pipeline records it as a rejection; the LKG stays).

Every move of ``current`` (publish, rollback, canary start, promotion) is one etcd transaction
comparing the pointer's ``mod_revision`` with the one read before: of two concurrent
publishes exactly one wins, the other raises `PublishConflictError` and writes nothing.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import (
    CheckError,
    PublishConflictError,
    RolloutError,
    ValidationError,
    VersionNotFoundError,
)
from ..pipeline.evaluate import Validator, evaluate, parse_all
from ..pipeline.impact import ImpactReport
from ..pipeline.levels import Level, LevelName
from ..pipeline.model import Model
from ..pipeline.schema import Schema
from ..sources import RawDocument
from .canaries import Canaries, _decided
from .checks import Check
from .etcd import cmp, delete_op, put_op
from .keys import PREFIX, Envelope, InstanceStatus, Keys, _json, _now, select
from .prometheus import Prometheus


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What a publish (or rollback) did.

    Attributes:
        status: ``published``, ``canary`` (a canary rollout started), ``noop`` (the candidate
            is what is live), ``held`` (invalid, or its impact reached ``fail_on``) or
            ``gated`` (a release gate failed and it was not forced); nothing was written
            for the last two.
        version: the new version (``None`` when nothing was written).
        previous: the version ``current`` pointed to before.
        report: the impact report against ``previous``.
        rollout: the canary rollout's id.
        instances: the canary instances.
        gate: the release gate's readings (``passed``, ``forced``, ``checks``), as the
            version's envelope records them; ``None`` without a gate.
    """

    status: Literal["published", "canary", "noop", "held", "gated"]
    version: int | None
    previous: int | None
    report: ImpactReport
    rollout: str | None = None
    instances: tuple[str, ...] = field(default=())
    gate: Mapping[str, Any] | None = None


class Fleet(Canaries):
    """One config in one etcd cluster: read it (`FleetReader`), publish and roll it back
    (here), run its canaries (`Canaries`); the functions below open one per call.

    Args:
        url: etcd client URL(s), comma-separated.
        name: the config's name.
        prefix: the key prefix (default ``/hotconf``).
    """

    # -- publishing ----------------------------------------------------------------------

    def publish(
        self,
        config: bytes | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        schema: Schema | None = None,
        model: Model[Any] | type[Any] | None = None,
        validators: Iterable[Validator] = (),
        format: str = "yaml",
        fail_on: Level | LevelName = Level.BREAKING,
        publisher: str | None = None,
        canary: str | None = None,
        budget: float = 0.01,
        min_samples: int = 100,
        min_duration: float = 0.0,
        prometheus: str | Prometheus | None = None,
        gate: Sequence[Check | str] = (),
        force: bool = False,
        checks: Sequence[Check | str] = (),
        check_interval: float = 60.0,
        check_count: int = 5,
        no_data_timeout: float | None = None,
        expect: int | None = None,
    ) -> PublishResult:
        """Validate ``config``, assess it against what is current, and publish it.

        Args:
            config: bytes (in ``format``), or a file, files or a directory as on the command
                line (one file is published as its bytes; several as their merged JSON).
            schema: the JSON Schema instances validate with; ``model``: their typed model
                (both must pass). The checksum published is that of the effective config
                under them, as instances with the same contract compute it.
            canary: start a canary instead: ``"10%"`` of the instances alive now, or labels
                ``"zone=a,tier=web"`` (every instance reports its id as label ``instance``).
            prometheus: the Prometheus ``gate`` and ``checks`` ask (a URL or a `Prometheus`).
            gate: release gates, ``"NAME=PROMQL <= THRESHOLD"``, read once before anything is
                written: one that fails (or has no data) refuses the publish (``gated``)
                unless ``force``; the readings go into the version's envelope either way.
            checks: judge the canary by these instead of by reported outcomes: each is
                asked once now (a refused query or no Prometheus writes nothing), and
                `watch_rollout` reads them every ``check_interval`` seconds: ``check_count``
                passing rounds in a row promote, one failing check aborts, and no data for
                ``no_data_timeout`` seconds (default 5 intervals) aborts.
            expect: publish only if ``current`` is still this version.

        Raises:
            PublishConflictError: someone else moved the pointer first, a canary runs, or
                ``current`` is not ``expect``.
            RolloutError: a canary cannot start (nothing current, no instance selected).
            CheckError: a gate or check is not usable (bad expression, refused query).
            PrometheusError: Prometheus cannot be reached (a gate with ``force`` is recorded
                as unread and passed over).
            EtcdError: etcd cannot be reached.
        """
        from . import analysis  # Prometheus: only for gates and checks

        gates, judged_by = analysis.checks_of(gate), analysis.checks_of(checks)
        if judged_by and canary is None:
            raise CheckError("checks judge a canary: give canary= (--canary) too")
        prom = analysis.client(prometheus, "gates and checks") if gates or judged_by else None
        try:
            return self._publish(
                config, schema, model, validators, format, fail_on, publisher, canary,
                {"budget": budget, "min_samples": min_samples, "min_duration": min_duration},
                prom, gates, force, judged_by, (check_interval, check_count, no_data_timeout),
                expect,
            )  # fmt: skip
        finally:
            if prom is not None and prom is not prometheus:
                prom.close()

    def _publish(
        self,
        config: bytes | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        schema: Schema | None,
        model: Model[Any] | type[Any] | None,
        validators: Iterable[Validator],
        format: str,
        fail_on: Level | LevelName,
        publisher: str | None,
        canary: str | None,
        rule: dict[str, Any],
        prom: Prometheus | None,
        gates: tuple[Check, ...],
        force: bool,
        checks: tuple[Check, ...],
        timing: tuple[float, int, float | None],
        expect: int | None,
    ) -> PublishResult:
        from . import analysis

        doc, source = _document(config, format)
        contract = _model(model)
        old, mod, previous, old_csum = self._current_data(schema, contract)
        ev = evaluate(
            (doc,),
            schema=schema,
            model=contract,
            validators=validators,
            previous=old,
            previous_checksum=old_csum,
            previous_version=previous,
        )
        report = ev.report
        assert report is not None
        if not ev.valid or report.level >= fail_on:
            return PublishResult("held", None, previous, report)
        csum = ev.checksum
        assert csum is not None
        if csum == old_csum and canary is None:
            return PublishResult("noop", previous, previous, report)
        if csum == old_csum:
            raise RolloutError(
                f"{self.keys.name}: the candidate is what v{previous} serves: nothing to roll out"
            )
        if expect is not None and previous != expect:
            raise PublishConflictError(
                f"{self.keys.name}: v{previous} is current, not v{expect}: nothing was written"
            )
        gated: dict[str, Any] | None = None
        if prom is not None and gates:
            gated = analysis.check_gate(prom, gates, force)
            if not gated["passed"] and not force:
                return PublishResult("gated", None, previous, report, gate=gated)
        judged: dict[str, Any] | None = None
        if prom is not None and checks:
            analysis.preflight(prom, checks)
            judged = analysis.analysis_record(prom, checks, *timing)
        version = self._last_version() + 1
        envelope = Envelope(
            self.keys.name,
            version,
            doc.format,
            doc.data,
            csum,
            _now(),
            publisher or _publisher(),
            source,
            previous,
            level=report.level,
            summary=report.summary(),
            gate=gated,
        )
        guard = [
            cmp(self.keys.current, "MOD", mod),
            cmp(self.keys.canary, "CREATE", 0),
            cmp(self.keys.version(version), "CREATE", 0),
        ]
        writes = [put_op(self.keys.version(version), envelope.encode())]
        if canary is None:
            writes.append(put_op(self.keys.current, _json({"version": version, "checksum": csum})))
            self._commit(guard, writes, f"publish v{version}")
            return PublishResult(
                "published", version, previous, report.with_version(version), gate=gated
            )
        if previous is None:
            raise RolloutError(
                f"{self.keys.name}: nothing is current yet: publish without a canary first"
            )
        chosen = select(self.instances(), canary, self.keys.name)
        ident = "r" + os.urandom(4).hex()
        record: dict[str, Any] = {
            "id": ident,
            "version": version,
            "stable": previous,
            "checksum": csum,
            "instances": list(chosen),
            "selector": canary,
            **rule,
            "started_at": _now(),
            "publisher": envelope.publisher,
        }
        if judged is not None:
            record["analysis"] = judged
        writes.append(put_op(self.keys.canary, _json(record)))
        writes.append(put_op(self.keys.rollout(ident), _json({**record, "state": "running"})))
        self._commit(guard, writes, f"canary v{version}")
        return PublishResult(
            "canary", version, previous, report.with_version(version), ident, chosen, gated
        )

    def _commit(self, guard: list[dict[str, Any]], writes: list[dict[str, Any]], what: str) -> int:
        ok, revision = self.etcd.txn(guard, writes)
        if ok:
            return revision
        canary, _ = self.pointer("canary")
        if canary is not None:
            raise PublishConflictError(
                f"{self.keys.name}: {what} refused: canary rollout {canary.get('id')} of "
                f"v{canary.get('version')} is running; promote or abort it first"
            )
        current, _ = self.pointer("current")
        now = f"v{current['version']}" if current else "nothing"
        raise PublishConflictError(
            f"{self.keys.name}: {what} lost a race: another publish moved "
            f"{self.keys.current} first (now {now}); nothing was written, publish again"
        )

    def rollback(
        self,
        to: int | None = None,
        *,
        schema: Schema | None = None,
        model: Model[Any] | type[Any] | None = None,
        publisher: str | None = None,
    ) -> PublishResult:
        """Point ``current`` at an earlier version's content, as a new version.

        Args:
            to: the version to restore; default: the one ``current`` replaced.
            schema: check the target against it first (`ValidationError` when it fails);
                ``model`` too.

        A running canary is aborted in the same transaction.
        """
        ptr, mod = self.pointer("current")
        if ptr is None:
            raise VersionNotFoundError(f"{self.keys.name}: nothing is published yet")
        now = int(ptr["version"])
        if to is None:
            to = self.envelope(now).previous
            if to is None:
                raise VersionNotFoundError(f"{self.keys.name} v{now} has no previous version")
        target = self.envelope(to)
        data = parse_all((target.document(self.keys),))
        contract = _model(model)
        old, _, _, old_csum = self._current_data(schema, contract)
        ev = evaluate(
            data,
            schema=schema,
            model=contract,
            previous=old,
            previous_checksum=old_csum,
            previous_version=now,
        )
        if ev.problems:
            raise ValidationError(f"cannot roll back to v{to}: it fails the schema", ev.problems)
        report = ev.report
        csum = ev.checksum
        assert report is not None and csum is not None
        if csum == old_csum:
            return PublishResult("noop", now, now, report)
        version = self._last_version() + 1
        envelope = Envelope(
            self.keys.name,
            version,
            target.format,
            target.config,
            csum,
            _now(),
            publisher or _publisher(),
            f"rollback to v{to}",
            now,
            restores=to,
            rolled_back_from=now,
            level=report.level,
            summary=report.summary(),
        )
        writes = [
            put_op(self.keys.version(version), envelope.encode()),
            put_op(self.keys.current, _json({"version": version, "checksum": csum})),
        ]
        canary, canary_mod = self.pointer("canary")
        guard = [
            cmp(self.keys.current, "MOD", mod),
            cmp(self.keys.canary, "MOD", canary_mod),
            cmp(self.keys.version(version), "CREATE", 0),
        ]
        if canary is not None:
            writes.append(delete_op(self.keys.canary))
            writes.append(_decided(self.keys, canary, "aborted", f"rolled back to v{to}"))
        self._commit(guard, writes, f"rollback to v{to}")
        return PublishResult("published", version, now, report.with_version(version))


def _model(value: Model[Any] | type[Any] | None) -> Model[Any] | None:
    return value if value is None or isinstance(value, Model) else Model.of(value)


def _publisher() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _document(
    config: bytes | str | os.PathLike[str] | Sequence[str | os.PathLike[str]], format: str
) -> tuple[RawDocument, str]:
    if isinstance(config, bytes):
        return RawDocument("candidate", config, format), "bytes"
    from ..sources.files import coerce_source  # watchdog: publishing needs it only here

    source = coerce_source(config)
    docs = source.read()
    if len(docs) == 1:
        return docs[0], source.name
    merged = parse_all(docs)  # several files: publish what they merge into
    return RawDocument(source.name, json.dumps(merged, indent=1).encode(), "json"), source.name


# -- one call, one connection -----------------------------------------------------------------


def publish(url: str, name: str, config: Any, **options: Any) -> PublishResult:
    """`Fleet.publish` on a connection of its own (``prefix=`` and ``timeout=`` included)."""
    conn = {k: options.pop(k) for k in ("prefix", "timeout") if k in options}
    with Fleet(url, name, **conn) as fleet:
        return fleet.publish(config, **options)


def rollback(
    url: str,
    name: str,
    to: int | None = None,
    *,
    schema: Schema | None = None,
    model: Model[Any] | type[Any] | None = None,
    prefix: str = PREFIX,
    publisher: str | None = None,
) -> PublishResult:
    """Point ``/hotconf/NAME/current`` back at ``to`` (default: the version it replaced), as a
    new version, in one compare-and-swap transaction; a running canary is aborted.

    Raises:
        VersionNotFoundError: no such version (or no previous one).
        ValidationError: the target fails ``schema`` or ``model``.
        PublishConflictError: the pointer moved meanwhile.
    """
    with Fleet(url, name, prefix=prefix) as fleet:
        return fleet.rollback(to, schema=schema, model=model, publisher=publisher)


__all__ = [
    "PREFIX",
    "Envelope",
    "Fleet",
    "InstanceStatus",
    "Keys",
    "PublishResult",
    "publish",
    "rollback",
    "select",
]
