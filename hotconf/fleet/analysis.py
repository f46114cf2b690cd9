"""Release gates and canary analysis against Prometheus, for `hotconf.fleet.Fleet`.

`check_gate` reads the ``--gate`` checks once, before anything is published. `preflight`
asks each ``--check`` once before a canary starts, so that a Prometheus out of reach or a
query it refuses stops the publish before anything is written. `watch_checks` follows a
running canary: it waits for the canary instances to serve the canary version, then every
``interval`` seconds reads every check (a `Round`, printed through ``on_round`` and written
to etcd under ``rollouts/<id>/rounds/``) and applies `hotconf.fleet.checks.Analysis`: the
round that decides is written in the same transaction as the pointer move.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import CheckError, PrometheusError, RolloutError
from .checks import Analysis, Check, Round, parse_checks, read
from .etcd import put_op
from .keys import _json
from .prometheus import Prometheus

if TYPE_CHECKING:
    from .canaries import Canaries


def checks_of(values: Sequence[Check | str]) -> tuple[Check, ...]:
    """Checks given as `Check`s or as ``NAME=PROMQL OP THRESHOLD`` strings."""
    parsed = parse_checks(v for v in values if isinstance(v, str))
    given = tuple(v for v in values if isinstance(v, Check))
    return parse_checks(str(c) for c in (*given, *parsed)) if given else parsed


def client(prometheus: str | Prometheus | None, what: str) -> Prometheus:
    if prometheus is None:
        raise CheckError(f"{what} need a Prometheus to ask: give its URL (--prometheus)")
    return prometheus if isinstance(prometheus, Prometheus) else Prometheus(prometheus)


def check_gate(prometheus: Prometheus, gate: Sequence[Check], force: bool) -> dict[str, Any]:
    """Read the gate's checks once; the record kept in the version's envelope.

    Raises:
        CheckError: a query Prometheus refuses, or whose result is not one number.
        PrometheusError: Prometheus cannot be reached (unless ``force``).
    """
    found = read(prometheus, gate)
    broken = [r for r in found.readings if r.result == "fail" and r.value is None]
    if broken:
        raise CheckError(f"gate {broken[0].check.name}: {broken[0].why}")
    if found.unreachable and not force:
        reason = next(r.why for r in found.readings if r.why)
        raise PrometheusError(f"the release gate cannot be read: {reason}")
    passed = found.verdict == "pass"
    return {
        "passed": passed,
        "forced": force and not passed,
        "at": found.at,
        "prometheus": prometheus.shown,
        "checks": [r.to_dict() for r in found.readings],
        "why": "; ".join(str(r) for r in found.readings if r.result != "pass") or None,
    }


def preflight(prometheus: Prometheus, checks: Sequence[Check]) -> None:
    """Ask each check once: no data is fine, a refused query or no Prometheus is not.

    Raises:
        CheckError, PrometheusError: as `Prometheus.query`.
    """
    for check in checks:
        try:
            prometheus.query(check.query)
        except CheckError as exc:
            raise CheckError(f"check {check.name}: {exc.message}") from None


def analysis_record(
    prometheus: Prometheus,
    checks: Sequence[Check],
    interval: float,
    count: int,
    no_data_timeout: float | None,
) -> dict[str, Any]:
    """What the canary record says of its analysis (``canary.analysis`` in etcd)."""
    if interval <= 0:
        raise CheckError(f"the check interval must be positive, not {interval:g}")
    if count < 1:
        raise CheckError(f"the count of passing rounds must be at least 1, not {count}")
    return {
        "prometheus": prometheus.shown,
        "checks": [c.to_dict() for c in checks],
        "interval": interval,
        "count": count,
        "no_data_timeout": no_data_timeout if no_data_timeout is not None else 5 * interval,
    }


def watch_checks(
    fleet: Canaries,
    prometheus: Prometheus,
    *,
    poll: float,
    timeout: float | None,
    on_progress: Callable[[dict[str, Any]], object] | None,
    on_round: Callable[[Round, str], object] | None,
) -> dict[str, Any]:
    """Judge the running canary by its checks; the rollout's final record.

    The record gets ``prometheus_unreachable: true`` when Prometheus was out of reach in the
    round that aborted it.
    """
    deadline = time.monotonic() + timeout if timeout is not None else None
    status = fleet.rollout_status()
    if status is None:
        raise RolloutError(f"{fleet.keys.name}: no canary rollout is running")
    ident = str(status["id"])
    spec = status["analysis"]
    checks = tuple(Check.from_dict(c) for c in spec["checks"])
    rule = Analysis(checks, int(spec["count"]), float(spec["no_data_timeout"]))
    interval = float(spec["interval"])
    number = int(status.get("rounds_taken", 0))
    ready = False

    def decide(verdict: str, why: str, writes: list[dict[str, Any]], **extra: Any) -> None:
        try:
            if verdict == "promote":
                fleet.promote(why, writes=writes)
            else:
                fleet.abort(why, writes=writes, **extra)
        except RolloutError:
            pass  # decided elsewhere meanwhile: its record says how

    while True:
        if status is None or status["id"] != ident:
            return fleet.rollout(ident)  # decided elsewhere, or rolled back
        if status["decision"] == "abort":  # an instance rejected the canary version
            decide("abort", status["why"], [])
            return fleet.rollout(ident)
        if deadline is not None and time.monotonic() > deadline:
            decide("abort", f"timed out after {timeout:g}s: {status['why']}", [])
            return fleet.rollout(ident)
        if on_progress is not None:
            on_progress(status)
        version = status["version"]
        if not ready:
            ready = all(status["serving"].get(i) == version for i in status["instances"])
            if not ready:
                time.sleep(poll)
                status = fleet.rollout_status()
                continue
        time.sleep(interval)
        status = fleet.rollout_status()
        if status is None or status["id"] != ident or status["decision"] == "abort":
            continue
        number += 1
        found = read(prometheus, checks, number)
        verdict, why = rule.judge(found)
        if on_round is not None:
            on_round(found, why)
        key, value = fleet.keys.round(ident, number), _json({**found.to_dict(), "why": why})
        if verdict is None:
            fleet.etcd.put(key, value)
            continue
        extra = {"prometheus_unreachable": True} if verdict == "abort" and found.unreachable else {}
        decide(verdict, why, [put_op(key, value)], **extra)
        return fleet.rollout(ident)


__all__ = ["analysis_record", "check_gate", "checks_of", "client", "preflight", "watch_checks"]
