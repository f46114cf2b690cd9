"""The service's Prometheus metrics, in a registry of its own (one per app, so two apps in a
process, or in a test run, never share or collide).

Counters and the histogram are fed by every `ReloadResult` (the LiveConfig's ``on_result``
hook); what describes the present (version, readiness, degraded, waiting long-polls, the
webhook outbox, the newest canary rollout, the etcd connection) is read when Prometheus
scrapes, so it can never be stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..events import ReloadResult
from ..live.config import LiveConfig
from ..live.rollouts import State as RolloutState
from .readiness import STATES, Readiness, VersionFeed

ROLLOUT_STATES: tuple[RolloutState, ...] = ("running", "promoting", "promoted", "aborted")

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
RESULTS = ("applied", "noop", "rejected")

Extra = Callable[[], Iterable[Metric]]
"""More metrics read at scrape time (the webhook outbox, when there is one)."""


class ServiceMetrics:
    """The metrics of one service.

    Args:
        live: the LiveConfig, or ``None`` while it is being opened.
        readiness: the service's readiness.
        feed: the long-poll feed.
        registry: where to register (default: a new `CollectorRegistry`).
    """

    def __init__(
        self,
        live: Callable[[], LiveConfig | None],
        readiness: Readiness,
        feed: VersionFeed,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.extra: list[Extra] = []
        r = self.registry
        self.reloads = Counter(
            "hotconf_reloads", "Pipeline runs after start-up, by result.", ["result"], registry=r
        )
        for result in RESULTS:  # every series exists from the start, at 0
            self.reloads.labels(result)
        self.rejections = Counter(
            "hotconf_rejections", "Candidates rejected (the last-known-good kept).", registry=r
        )
        self.duration = Histogram(
            "hotconf_reload_duration_seconds",
            "Time a pipeline run took, from reading the source to the swap.",
            buckets=_BUCKETS,
            registry=r,
        )
        self.stages = Histogram(
            "hotconf_reload_stage_duration_seconds",
            "Time a pipeline run spent per stage (read, parse, hash, freeze, validate, diff, "
            "commit).",
            ["stage"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "hotconf_last_success_timestamp_seconds",
            "When the source was last accepted (applied or unchanged); 0: not since start.",
            registry=r,
        )
        r.register(_Present(live, readiness, feed, self.extra))

    def observe(self, result: ReloadResult) -> None:
        """Count one pipeline run (the LiveConfig's ``on_result``; any thread)."""
        self.reloads.labels(result.status).inc()
        if result.status == "rejected":
            self.rejections.inc()
        else:
            self.last_success.set(time.time())
        if result.timings:
            self.duration.observe(sum(result.timings.values()))
            for stage, seconds in result.timings.items():
                self.stages.labels(stage).observe(seconds)


class _Present:
    """Reads the gauges that describe now, at scrape time."""

    def __init__(
        self,
        live: Callable[[], LiveConfig | None],
        readiness: Readiness,
        feed: VersionFeed,
        extra: list[Extra],
    ) -> None:
        self._live = live
        self._readiness = readiness
        self._feed = feed
        self._extra = extra

    def collect(self) -> Iterable[Metric]:
        state = self._readiness.state
        states = GaugeMetricFamily(
            "hotconf_readiness_state",
            "The service's readiness state: 1 for the current one.",
            labels=["state"],
        )
        for name in STATES:
            states.add_metric([name], 1.0 if name == state else 0.0)
        yield states
        yield GaugeMetricFamily(
            "hotconf_long_polls_waiting",
            "Long-polls of GET /v1/config waiting for a newer version.",
            value=self._feed.waiting,
        )
        live = self._live()
        if live is not None:
            current = live.snapshot()
            yield GaugeMetricFamily(
                "hotconf_config_version", "The config version served.", value=current.version
            )
            yield GaugeMetricFamily(
                "hotconf_degraded",
                "1 while serving the last-known-good because the source is rejected.",
                value=1.0 if live.degraded else 0.0,
            )
            yield CounterMetricFamily(
                "hotconf_store_failures",
                "Pipeline runs whose commit to the state directory failed (a full disk, say); "
                "each is retried, none is a rejection.",
                value=live.store_failures,
            )
            yield GaugeMetricFamily(
                "hotconf_store_failing",
                "1 while the last commit to the state directory failed.",
                value=1.0 if live.store_problem is not None else 0.0,
            )
            yield from webhook_metrics(live)
            yield from rollout_metrics(live)
            yield from etcd_metrics(live)
        for extra in self._extra:
            yield from extra()


def webhook_metrics(live: LiveConfig) -> Iterable[Metric]:
    """The webhook outbox, counted by one SQL aggregate (nothing without webhooks)."""
    webhooks = live.webhooks
    if webhooks is None:
        return
    counts = webhooks.counts()
    by_status = GaugeMetricFamily(
        "hotconf_webhook_deliveries",
        "Webhook deliveries in the outbox by status (pending, failed: to retry, dead: given up).",
        labels=["status"],
    )
    for status in ("pending", "failed", "dead"):
        by_status.add_metric([status], counts[status])
    yield by_status
    yield GaugeMetricFamily(
        "hotconf_webhook_outbox_depth",
        "Webhook deliveries still to send (pending and failed).",
        value=counts["pending"] + counts["failed"],
    )
    yield CounterMetricFamily(
        "hotconf_webhook_delivered",
        "Webhook deliveries a receiver accepted (2xx), over the life of the state database.",
        value=counts["delivered"],
    )


def rollout_metrics(live: LiveConfig) -> Iterable[Metric]:
    """The newest in-process canary rollout: state, samples and error rates per arm."""
    found = live.rollouts()
    newest = found[0] if found else None
    state = GaugeMetricFamily(
        "hotconf_rollout_state",
        "The newest canary rollout's state: 1 for the current one (all 0: none yet).",
        labels=["state"],
    )
    for name in ROLLOUT_STATES:
        state.add_metric([name], 1.0 if newest is not None and newest.state == name else 0.0)
    yield state
    yield GaugeMetricFamily(
        "hotconf_rollouts", "Canary rollouts remembered (the newest 50).", value=len(found)
    )
    if newest is None:
        return
    canary, stable = newest.outcomes()
    samples = GaugeMetricFamily(
        "hotconf_rollout_samples",
        "Outcomes of the newest rollout by arm (canary, stable) and result (ok, failed).",
        labels=["arm", "result"],
    )
    rates = GaugeMetricFamily(
        "hotconf_rollout_error_rate",
        "Error rate of the newest rollout by arm (canary, stable).",
        labels=["arm"],
    )
    for arm, outcomes in (("canary", canary), ("stable", stable)):
        samples.add_metric([arm, "ok"], outcomes.ok)
        samples.add_metric([arm, "failed"], outcomes.failed)
        rates.add_metric([arm], outcomes.error_rate)
    yield samples
    yield rates
    status = newest.status()
    yield GaugeMetricFamily(
        "hotconf_rollout_progress",
        "The newest rollout's canary (or shadow) samples / min_samples (1: enough to decide).",
        value=status["progress"],
    )
    shadow = status.get("shadow")
    if shadow is None:
        return
    compared = GaugeMetricFamily(
        "hotconf_rollout_shadow_samples",
        "Calls the newest (shadow) rollout compared, by result (match, mismatch).",
        labels=["result"],
    )
    compared.add_metric(["match"], shadow["samples"] - shadow["mismatches"])
    compared.add_metric(["mismatch"], shadow["mismatches"])
    yield compared
    yield GaugeMetricFamily(
        "hotconf_rollout_mismatch_rate",
        "The newest (shadow) rollout's share of compared calls that did not match.",
        value=newest.mismatch_rate,
    )


def etcd_metrics(live: LiveConfig) -> Iterable[Metric]:
    """With an `EtcdSource`: its connection (nothing for other sources)."""
    status_of = getattr(live.source, "status", None)
    if status_of is None:
        return
    status = status_of()
    yield GaugeMetricFamily(
        "hotconf_etcd_connected",
        "1 while the etcd watch is connected.",
        value=1.0 if status.get("connected") else 0.0,
    )
    yield GaugeMetricFamily(
        "hotconf_etcd_revision",
        "The etcd revision the watch has seen (0: none yet).",
        value=status.get("revision") or 0,
    )
    yield CounterMetricFamily(
        "hotconf_etcd_reconnects",
        "Times the etcd watch lost its connection and retried.",
        value=status.get("reconnects", 0),
    )
    yield CounterMetricFamily(
        "hotconf_etcd_compactions",
        "Times etcd compacted past the watch's revision (the source re-listed).",
        value=status.get("compactions", 0),
    )
