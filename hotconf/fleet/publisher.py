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

import contextlib
import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..errors import (
    LoadError,
    PublishConflictError,
    RolloutError,
    SourceError,
    ValidationError,
    VersionNotFoundError,
)
from ..live.canary import Outcomes, decide
from ..pipeline.evaluate import Validator, effective, evaluate, parse_all
from ..pipeline.impact import ImpactReport
from ..pipeline.levels import Level, LevelName
from ..pipeline.model import Model
from ..pipeline.schema import Schema
from ..pipeline.snapshot import checksum
from ..sources import RawDocument
from .etcd import Etcd, cmp, delete_op, prefix_end, put_op
from .keys import PREFIX, Envelope, InstanceStatus, Keys, _json, _now, select


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What a publish (or rollback) did.

    Attributes:
        status: ``published``, ``canary`` (a canary rollout started), ``noop`` (the candidate
            is what is live) or ``held`` (invalid, or its impact reached ``fail_on``: nothing
            was written).
        version: the new version (``None`` when nothing was written).
        previous: the version ``current`` pointed to before.
        report: the impact report against ``previous``.
        rollout: the canary rollout's id.
        instances: the canary instances.
    """

    status: Literal["published", "canary", "noop", "held"]
    version: int | None
    previous: int | None
    report: ImpactReport
    rollout: str | None = None
    instances: tuple[str, ...] = field(default=())


class Fleet:
    """One config in one etcd cluster; the functions below open one per call.

    Args:
        url: etcd client URL(s), comma-separated.
        name: the config's name.
        prefix: the key prefix (default ``/hotconf``).
    """

    def __init__(
        self, url: str | Etcd, name: str, *, prefix: str = PREFIX, timeout: float = 5.0
    ) -> None:
        self.keys = Keys(name, prefix)
        self._own = not isinstance(url, Etcd)
        self.etcd = Etcd(url, timeout=timeout) if isinstance(url, str) else url

    def close(self) -> None:
        if self._own:
            self.etcd.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------

    def pointer(self, which: Literal["current", "canary"]) -> tuple[dict[str, Any] | None, int]:
        """A pointer's JSON (``None`` when absent) and its ``mod_revision`` (0 when absent)."""
        kv = self.etcd.get(self.keys.current if which == "current" else self.keys.canary)
        if kv is None:
            return None, 0
        try:
            doc = json.loads(kv.value)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
            raise SourceError(f"etcd:{self.keys.base}{which} is not a hotconf pointer")
        return doc, kv.mod_revision

    def envelope(self, version: int) -> Envelope:
        """Read and verify one version. Raises `VersionNotFoundError`, `SourceError`."""
        kv = self.etcd.get(self.keys.version(version))
        if kv is None:
            raise VersionNotFoundError(f"{self.keys.name} v{version} is not in etcd")
        where = f"etcd:{self.keys.version(version)}"
        return Envelope.decode(kv.value, where, name=self.keys.name, version=version)

    def versions(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest versions' metadata, newest first (unreadable ones say so)."""
        found = self.etcd.range(
            self.keys.versions, prefix_end(self.keys.versions), limit=limit, descending=True
        )
        out = []
        for kv in found.kvs:
            n = int(kv.key.rsplit("/", 1)[1])
            try:
                out.append(Envelope.decode(kv.value, kv.key, name=self.keys.name, version=n).info())
            except SourceError as exc:
                out.append({"name": self.keys.name, "version": n, "error": exc.message})
        return out

    def instances(self) -> list[InstanceStatus]:
        """The instances alive now (their leases are current), by id."""
        found = self.etcd.range(self.keys.instances, prefix_end(self.keys.instances))
        parsed = (InstanceStatus.parse(kv) for kv in found.kvs)
        return sorted((i for i in parsed if i is not None), key=lambda i: i.id)

    def _last_version(self) -> int:
        found = self.etcd.range(
            self.keys.versions,
            prefix_end(self.keys.versions),
            limit=1,
            descending=True,
            keys_only=True,
        )
        return int(found.kvs[0].key.rsplit("/", 1)[1]) if found.kvs else 0

    def _current_data(
        self, schema: Schema | None = None, model: Model[Any] | None = None
    ) -> tuple[dict[str, Any] | None, int, int | None, str | None]:
        """``(data, pointer mod_revision, version, checksum)`` of what is current; the data
        is its effective config under ``schema`` and ``model`` (their defaults filled in)."""
        ptr, mod = self.pointer("current")
        if ptr is None:
            return None, 0, None, None
        version = int(ptr["version"])
        try:
            env = self.envelope(version)
            data = parse_all((env.document(self.keys),))
        except (SourceError, LoadError, VersionNotFoundError):
            return None, mod, version, None  # a broken current must not block its fix
        data = effective(data, schema, model)[0]
        return data, mod, version, checksum(data)

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

        Raises:
            PublishConflictError: someone else moved the pointer first, or a canary runs.
            RolloutError: a canary cannot start (nothing current, no instance selected).
            EtcdError: etcd cannot be reached.
        """
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
            return PublishResult("published", version, previous, report.with_version(version))
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
            "budget": budget,
            "min_samples": min_samples,
            "min_duration": min_duration,
            "started_at": _now(),
            "publisher": envelope.publisher,
        }
        writes.append(put_op(self.keys.canary, _json(record)))
        writes.append(put_op(self.keys.rollout(ident), _json({**record, "state": "running"})))
        self._commit(guard, writes, f"canary v{version}")
        return PublishResult(
            "canary", version, previous, report.with_version(version), ident, chosen
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

    # -- canary rollouts -----------------------------------------------------------------

    def rollout_status(self) -> dict[str, Any] | None:
        """The running canary with its outcomes and the rule's verdict; ``None`` if none."""
        canary, mod = self.pointer("canary")
        if canary is None:
            return None
        members = set(canary["instances"])
        version, stable = int(canary["version"]), int(canary["stable"])
        arms = {True: Outcomes(), False: Outcomes()}
        rejected: list[str] = []
        serving: dict[str, int | None] = {}
        for inst in self.instances():
            ours = inst.id in members
            serving[inst.id] = inst.serving
            arms[ours] = arms[ours] + inst.outcomes.get(version if ours else stable, Outcomes())
            if ours and inst.rejected == version:
                rejected.append(f"{inst.id} rejected v{version}: {'; '.join(inst.problems)}")
        decision, why = decide(
            arms[True], arms[False], budget=canary["budget"], min_samples=canary["min_samples"]
        )
        if rejected:
            decision, why = "abort", "; ".join(rejected)
        return {
            **canary,
            "state": "running",
            "mod_revision": mod,
            "canary": arms[True].to_dict(),
            "stable_outcomes": arms[False].to_dict(),
            "progress": min(1.0, arms[True].total / canary["min_samples"]),
            "serving": serving,
            "decision": decision,
            "why": why,
        }

    def promote(self, reason: str = "promoted by hand") -> int:
        """Make the running canary's version current for every instance; returns it."""
        canary, mod = self.pointer("canary")
        if canary is None:
            raise RolloutError(f"{self.keys.name}: no canary rollout is running")
        _, current_mod = self.pointer("current")
        version = int(canary["version"])
        pointer = {"version": version, "checksum": canary.get("checksum")}
        self._decide(
            [cmp(self.keys.canary, "MOD", mod), cmp(self.keys.current, "MOD", current_mod)],
            [
                put_op(self.keys.current, _json(pointer)),
                delete_op(self.keys.canary),
                _decided(self.keys, canary, "promoted", reason),
            ],
        )
        return version

    def abort(self, reason: str = "aborted by hand") -> None:
        """Stop the running canary: its instances go back to the stable version."""
        canary, mod = self.pointer("canary")
        if canary is None:
            raise RolloutError(f"{self.keys.name}: no canary rollout is running")
        self._decide(
            [cmp(self.keys.canary, "MOD", mod)],
            [delete_op(self.keys.canary), _decided(self.keys, canary, "aborted", reason)],
        )

    def _decide(self, guard: list[dict[str, Any]], writes: list[dict[str, Any]]) -> None:
        ok, _ = self.etcd.txn(guard, writes)
        if not ok:
            raise RolloutError(f"{self.keys.name}: the canary was decided or moved meanwhile")

    def rollout(self, ident: str) -> dict[str, Any]:
        kv = self.etcd.get(self.keys.rollout(ident))
        if kv is None:
            raise RolloutError(f"{self.keys.name}: no rollout {ident}")
        record: dict[str, Any] = json.loads(kv.value)
        return record

    def watch_rollout(
        self,
        *,
        poll: float = 1.0,
        timeout: float | None = None,
        on_progress: Callable[[dict[str, Any]], object] | None = None,
    ) -> dict[str, Any]:
        """Follow the running canary and promote or abort it by `hotconf.live.canary.decide`.

        Returns:
            The rollout's final record (``state`` promoted or aborted, ``reason``).
        """
        deadline = time.monotonic() + timeout if timeout is not None else None
        ident: str | None = None
        while True:
            status = self.rollout_status()
            if status is None:
                if ident is None:
                    raise RolloutError(f"{self.keys.name}: no canary rollout is running")
                return self.rollout(ident)  # decided elsewhere (or rolled back)
            ident = status["id"]
            if on_progress is not None:
                on_progress(status)
            ran = (datetime.now(UTC) - datetime.fromisoformat(status["started_at"])).total_seconds()
            verdict: tuple[Callable[[str], object], str] | None = None
            if status["decision"] == "abort":
                verdict = self.abort, status["why"]
            elif status["decision"] == "promote" and ran >= status["min_duration"]:
                verdict = self.promote, status["why"]
            elif deadline is not None and time.monotonic() > deadline:
                verdict = self.abort, f"timed out after {timeout:g}s: {status['why']}"
            if verdict is not None:
                with contextlib.suppress(RolloutError):  # decided elsewhere: its record says how
                    verdict[0](verdict[1])
                return self.rollout(ident)
            time.sleep(poll)

    def wait_served(
        self,
        version: int,
        *,
        poll: float = 0.5,
        timeout: float = 60.0,
        on_progress: Callable[[list[InstanceStatus]], object] | None = None,
    ) -> tuple[bool, list[InstanceStatus]]:
        """Wait until every live instance serves ``version`` (``True``), or one rejects it, or
        the time is up (``False``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.instances()
            if on_progress is not None:
                on_progress(found)
            if any(i.rejected == version for i in found):
                return False, found
            if found and all(i.serving == version for i in found):
                return True, found
            if time.monotonic() > deadline:
                return False, found
            time.sleep(poll)


def _decided(keys: Keys, canary: Mapping[str, Any], state: str, reason: str) -> dict[str, Any]:
    record = {**canary, "state": state, "reason": reason, "decided_at": _now()}
    return put_op(keys.rollout(str(canary["id"])), _json(record))


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
