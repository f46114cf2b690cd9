"""Fleet mode: a config published to etcd as a source (`EtcdSource`).

List then watch: `read` takes the ``current`` (or, for a canary instance, the ``canary``)
pointer and the version it names, and remembers the store revision; a watch thread follows
the two pointer keys from the next revision on and pokes the reload worker on each change.
After a disconnect it resumes from the last revision it saw, with exponential backoff; when
etcd answers that the revision was compacted, it re-lists (pokes, and watches from the new
revision). Versions are immutable and written in the same transaction as the pointer move,
so watching the pointers alone misses nothing, and instances' own health reports (under
``instances/``) never wake other instances.

Every version is validated again locally, by the ordinary pipeline: an envelope that does not
verify (sha256), or a config that fails the schema, is a rejection and the LKG stays. The
local store is the LKG cache: with etcd down at start, the instance serves its LKG (degraded);
with etcd gone later, `read` hands back the documents it read last (a no-op for the
pipeline), and the instance catches up when the watch reconnects.

A second thread reports what the instance serves under a lease (``instances/<id>``): the
version, a rejection if the newest one was refused, and outcomes per version
(`EtcdSource.record` or ``signals=``). `hotconf.fleet.publisher` reads these to run canaries.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EtcdError, Problem, PublishConflictError, RolloutError, SourceError
from ..fleet.etcd import Etcd, WatchStream
from ..fleet.keys import PREFIX, Envelope, Keys
from . import Poke, RawDocument

if TYPE_CHECKING:
    from ..events import Rejection
    from ..live.config import LiveConfig
    from ..pipeline.snapshot import Snapshot

log = logging.getLogger("hotconf")


class EtcdSource:
    """A config published to etcd with ``hotconf publish``, followed live.

    Args:
        url: etcd client URL(s), comma-separated (``http://127.0.0.1:2379``).
        name: the config's name: its keys live under ``/hotconf/<name>/``.
        prefix: the key prefix.
        instance: this instance's id in health reports and canary selection (default
            ``hostname-pid``; give a stable one to keep canary membership across restarts).
        labels: labels a canary can select instances by (``{"zone": "a"}``).
        state_dir: where the local store (history, LKG cache) goes by default; one per
            instance (default ``.hotconf/<name>`` in the working directory).
        timeout: seconds for one etcd request.
        report: report health under a lease (``instances/<id>``).
        report_interval: seconds between health reports.
        lease_ttl: seconds a report outlives its instance.
        signals: cumulative ``(ok, failed)`` counters hotconf polls for outcomes, instead of
            (or besides) `record`.
        backoff: first and longest wait between reconnection attempts, in seconds.

    Example:
        >>> source = hotconf.EtcdSource("http://127.0.0.1:2379", name="billing")  # doctest: +SKIP
        >>> live = hotconf.watch(source, schema="billing.schema.json")  # doctest: +SKIP
    """

    synchronous = False

    def __init__(
        self,
        url: str,
        *,
        name: str,
        prefix: str = PREFIX,
        instance: str | None = None,
        labels: Mapping[str, str] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        timeout: float = 5.0,
        report: bool = True,
        report_interval: float = 5.0,
        lease_ttl: int = 15,
        signals: Callable[[], tuple[int, int]] | None = None,
        backoff: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        self.keys = Keys(name, prefix)
        self.name = name
        self.url = url
        self.instance = instance or f"{socket.gethostname()}-{os.getpid()}"
        self.labels = dict(labels or {})
        self.state_dir: Path | None = Path(
            state_dir if state_dir is not None else Path.cwd() / ".hotconf" / name
        ).absolute()
        self.report_interval = report_interval
        self.lease_ttl = max(2, int(lease_ttl))
        self.backoff = backoff
        self._report = report
        self._signals = signals
        self._etcd = Etcd(url, timeout=timeout)
        self._stream_etcd = Etcd(url, timeout=timeout)  # its own pool: the stream holds one
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poke: Poke | None = None
        self._threads: list[threading.Thread] = []
        self._stream: WatchStream | None = None
        self._cache: tuple[RawDocument, ...] | None = None
        self._listed: int | None = None  # the revision the last read saw
        self._delivered: tuple[int, str | None, Rejection | None] | None = None
        self._by_checksum: dict[str, int] = {}
        self._outcomes: dict[int, list[int]] = {}
        self._signalled: tuple[int, int] | None = None
        self._live: weakref.ref[LiveConfig[Any]] | None = None
        self.connected = False
        self.revision: int | None = None
        self.reconnects = 0
        self.compactions = 0

    # -- reading -------------------------------------------------------------------------

    def read(self) -> tuple[RawDocument, ...]:
        """The version this instance should serve: the canary's if it is one, else current.

        Raises:
            SourceError: nothing is published, the version is missing or does not verify,
                or etcd is unreachable and nothing was read before.
        """
        try:
            found = self._etcd.range(*self.keys.pointers)
            pointers = {kv.key: kv for kv in found.kvs}
            version = self._choose(pointers)
            kv = self._etcd.get(self.keys.version(version))
        except EtcdError:
            self.connected = False
            with self._lock:
                cache = self._cache
            if cache is None:
                raise
            return cache  # etcd is away: what we read last (the pipeline sees a no-op)
        where = f"etcd:{self.keys.version(version)}"
        if kv is None:
            why = "the pointer names a version that is not in etcd"
            self._deliver(version, None)
            raise SourceError(f"{where}: {why}", (Problem(why, code="integrity", source=where),))
        try:
            envelope = Envelope.decode(kv.value, where, name=self.name, version=version)
        except SourceError:
            self._deliver(version, None)
            raise
        docs = (envelope.document(self.keys),)
        with self._lock:
            self._cache = docs
            self._listed = found.revision
            self._by_checksum[envelope.checksum] = version
        self._deliver(version, envelope.checksum)
        return docs

    def _choose(self, pointers: Mapping[str, Any]) -> int:
        canary = pointers.get(self.keys.canary)
        if canary is not None:
            doc = _loads(canary.value)
            if doc is not None and self.instance in doc.get("instances", ()):
                return int(doc["version"])
        current = pointers.get(self.keys.current)
        doc = _loads(current.value) if current is not None else None
        if doc is None or not isinstance(doc.get("version"), int):
            raise SourceError(f"nothing is published at etcd:{self.keys.current} yet")
        return int(doc["version"])

    def _deliver(self, version: int, checksum: str | None) -> None:
        live = self._live() if self._live is not None else None
        with self._lock:
            if self._delivered is None or self._delivered[0] != version:
                # rejections after this point are this version's
                before = live.last_rejection if live is not None else None
                self._delivered = (version, checksum, before)

    # -- watching ------------------------------------------------------------------------

    def start(self, poke: Poke) -> None:
        self._poke = poke
        self._stop.clear()
        self._spawn("watch", self._watch_loop)
        if self._report:
            self._spawn("report", self._report_loop)

    def _spawn(self, kind: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=f"hotconf-etcd-{kind}-{self.name}", daemon=True)
        self._threads.append(t)
        t.start()

    def check(self) -> None:
        """Restart the watch thread should it have died (it is built not to)."""
        if self._poke is not None and not self._stop.is_set():
            for t in list(self._threads):
                if not t.is_alive() and t.name.startswith("hotconf-etcd-watch"):
                    self._threads.remove(t)
                    self._spawn("watch", self._watch_loop)

    def _watch_loop(self) -> None:
        delay = self.backoff[0]
        with self._lock:
            revision = self._listed  # watch from the read that served start-up
        poke_on_create = revision is None
        failing = False
        while not self._stop.is_set():
            try:
                if revision is None:  # (re-)list: the worker reads after this revision
                    revision = self._etcd.range(*self.keys.pointers).revision
                    poke_on_create = True
                stream = self._stream_etcd.watch(*self.keys.pointers, start_revision=revision + 1)
                with self._lock:
                    if self._stop.is_set():
                        stream.close()
                        return
                    self._stream = stream
                for msg in stream:
                    if msg.created:
                        self.connected, failing, delay = True, False, self.backoff[0]
                        if poke_on_create:
                            self._fire()
                        poke_on_create = False
                    elif msg.compact_revision or msg.canceled:
                        self.compactions += 1
                        log.warning(
                            "hotconf: etcd compacted past revision %d (now %d); re-listing %s",
                            revision + 1,
                            msg.compact_revision,
                            self.name,
                        )
                        revision = None
                        break
                    if msg.events:
                        revision = max(kv.mod_revision for _, kv in msg.events)
                        self._fire()
                    elif msg.revision and not msg.created:  # progress notification
                        revision = max(revision or 0, msg.revision)
                    self.revision = revision
                stream.close()
            except EtcdError as exc:
                if self._stop.is_set():
                    return
                self.connected = False
                if not failing:
                    log.warning("hotconf: %s: %s; retrying with backoff", self.name, exc.message)
                    self.reconnects += 1
                failing, poke_on_create = True, True
            except Exception:
                log.exception("hotconf: %s: error in the etcd watch; it goes on", self.name)
            if self._stop.wait(delay * random.uniform(0.8, 1.2)):  # noqa: S311 (jitter)
                return
            delay = min(delay * 2, self.backoff[1]) if failing else self.backoff[0]

    def _fire(self) -> None:
        poke = self._poke
        if poke is not None:
            poke(False)

    # -- health reports --------------------------------------------------------------------

    def bind(self, live: LiveConfig[Any]) -> None:
        """Learn which LiveConfig this source feeds (``hotconf.watch`` calls it), so reports
        say which version the instance serves and whether it refused the newest one."""
        self._live = weakref.ref(live)

    def record(self, ok: bool, served: Snapshot | None = None) -> None:
        """Count one outcome (fleet canaries weigh these) for the version that served it:
        ``served``'s, else the version served now. The request middleware passes the
        snapshot each request was served with (`LiveConfig.record`)."""
        if served is not None:
            with self._lock:
                version: int | None = self._by_checksum.get(served.checksum, served.version)
        else:
            version = self.serving()
        if version is None:
            return
        with self._lock:
            counts = self._outcomes.setdefault(version, [0, 0])
            counts[0 if ok else 1] += 1

    def serving(self) -> int | None:
        """The etcd version this instance serves (``None``: unknown, e.g. an LKG from before)."""
        live = self._live() if self._live is not None else None
        if live is None:
            delivered = self._delivered
            return delivered[0] if delivered is not None else None
        current = live.snapshot()
        return self._by_checksum.get(current.checksum, current.version)

    def version_of(self, docs: tuple[RawDocument, ...]) -> int | None:
        """The fleet's number of the version ``docs`` came from (the last `read`), which the
        LiveConfig commits it under: an instance serves the fleet's version numbers, so its
        history, events and webhooks agree with ``hotconf history --etcd``."""
        with self._lock:
            if docs is self._cache and self._delivered is not None:
                return self._delivered[0]
        return None

    def evaluated(self, docs: tuple[RawDocument, ...], checksum: str) -> None:
        """The LiveConfig found the documents of the last read valid, with this checksum.

        Its checksum is that of the effective config (its schema's defaults filled in), which
        the publisher's may not be (published without that schema): remember it too.
        """
        with self._lock:
            if docs is self._cache and self._delivered is not None:
                self._by_checksum[checksum] = self._delivered[0]

    def _snapshot(self) -> dict[str, Any]:
        serving = self.serving()
        live = self._live() if self._live is not None else None
        current = live.snapshot() if live is not None else None
        rejected, problems = None, []
        delivered = self._delivered
        last = live.last_rejection if live is not None else None
        refused = delivered is not None and delivered[0] != serving
        if refused and delivered is not None and last is not None and last is not delivered[2]:
            rejected, problems = delivered[0], [str(p) for p in last.problems[:5]]
        if self._signals is not None:
            self._take_signals(serving)
        with self._lock:
            outcomes = {str(v): list(c) for v, c in self._outcomes.items()}
        return {
            "id": self.instance,
            "labels": self.labels,
            "serving": serving,
            "checksum": current.checksum if current is not None else None,
            "rejected": rejected,
            "problems": problems,
            "outcomes": outcomes,
        }

    def _take_signals(self, serving: int | None) -> None:
        assert self._signals is not None
        try:
            ok, failed = self._signals()
        except Exception:
            log.exception("hotconf: %s: the signals callable raised", self.name)
            return
        before, self._signalled = self._signalled, (ok, failed)
        if before is None or serving is None:
            return  # the first reading is the baseline
        with self._lock:
            counts = self._outcomes.setdefault(serving, [0, 0])
            counts[0] += ok - before[0]
            counts[1] += failed - before[1]

    def _report_loop(self) -> None:
        lease, renew_at, sent = 0, 0.0, None
        delay = self.backoff[0]
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if lease and now >= renew_at and self._etcd.keepalive(lease) <= 0:
                    lease = 0  # expired while etcd was away: a new lease, a new report
                if not lease:
                    lease, sent = self._etcd.grant(self.lease_ttl), None
                if now >= renew_at:
                    renew_at = now + self.lease_ttl / 3
                body = self._snapshot()
                if body != sent:
                    at = datetime.now(UTC).isoformat()
                    value = json.dumps({**body, "at": at}).encode()
                    self._etcd.put(self.keys.instance(self.instance), value, lease=lease)
                    sent = body
                delay = self.backoff[0]
                wait = self.report_interval
            except EtcdError:
                wait, delay = delay, min(delay * 2, self.backoff[1])
            except Exception:
                log.exception("hotconf: %s: error reporting health; it goes on", self.name)
                wait = self.report_interval
            if self._stop.wait(min(wait, max(0.05, renew_at - time.monotonic()))):
                break
        if lease:
            self._etcd.revoke(lease)  # leave the fleet at once rather than after the TTL

    # -- status and stopping --------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """A JSON-ready view for health checks and metrics."""
        return {
            "url": self.url,
            "name": self.name,
            "instance": self.instance,
            "connected": self.connected,
            "revision": self.revision,
            "serving": self.serving(),
            "reconnects": self.reconnects,
            "compactions": self.compactions,
        }

    def rollout_status(self) -> dict[str, Any] | None:
        """The fleet's running canary, as `hotconf.fleet.Fleet.rollout_status` reads it (over
        this source's connection: two etcd reads), plus ``member``: is this instance one of
        its canary instances. ``None`` when no canary runs.

        Raises:
            EtcdError: etcd cannot be reached.
        """
        from ..fleet.publisher import Fleet  # fleet mode's publisher side: imported when asked

        status = Fleet(self._etcd, self.name, prefix=self.keys.prefix).rollout_status()
        if status is not None:
            status["member"] = self.instance in status.get("instances", ())
        return status

    def publish_promotion(self, document: RawDocument, *, expect: int, checksum: str | None) -> int:
        """Publish an in-process rollout's candidate to the fleet (``live.rollout`` on this
        source has scope ``fleet``): the fleet's next version, in one compare-and-swap, if
        ``expect`` is still current and no fleet canary runs. Returns the new version.

        Raises:
            RolloutError: the fleet moved on (another version is current, a canary runs),
                or it would not take the candidate.
            EtcdError: etcd cannot be reached (the rollout can be promoted again later).
        """
        from ..fleet.publisher import Fleet  # the publisher's side: imported when promoting

        fleet = Fleet(self._etcd, self.name, prefix=self.keys.prefix)
        try:
            result = fleet.publish(
                document.data,
                format=document.format,
                expect=expect,
                publisher=f"{self.instance} (in-process rollout)",
            )
        except PublishConflictError as exc:
            raise RolloutError(f"not promoted to the fleet: {exc.message}") from None
        if result.status != "published" or result.version is None:
            raise RolloutError(f"not promoted to the fleet: the publish was {result.status}")
        with self._lock:
            if checksum is not None:
                self._by_checksum[checksum] = result.version
        log.info("hotconf: %s: an in-process rollout published v%d", self.name, result.version)
        return result.version

    def stop(self) -> None:
        self._stop.set()
        self._poke = None
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=15)
        self._threads.clear()
        self._stream_etcd.close()
        self._etcd.close()  # a read still in flight then falls back to the cached documents

    def __repr__(self) -> str:
        return f"<EtcdSource {self.url} {self.keys.base} instance={self.instance!r}>"


def _loads(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


__all__ = ["EtcdSource"]
