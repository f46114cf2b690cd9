"""Fleet canaries: their status, decisions and records in etcd, and following one until it
is decided (by the instances' outcomes and `hotconf.live.canary.decide`, or by Prometheus
checks through `hotconf.fleet.analysis`). The middle of `hotconf.fleet.Fleet`."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import RolloutError
from ..live.canary import Outcomes, decide
from .checks import Round
from .etcd import cmp, delete_op, prefix_end, put_op
from .keys import InstanceStatus, Keys, _json, _now
from .prometheus import Prometheus
from .reader import FleetReader


class Canaries(FleetReader):
    """The canary part of `hotconf.fleet.Fleet`."""

    def rollout_status(self) -> dict[str, Any] | None:
        """The running canary with its outcomes and the rule's verdict; ``None`` if none.

        A canary judged by checks (``analysis`` in its record) has ``rounds`` (the newest
        ten), ``rounds_taken`` and ``progress`` = passing rounds in a row / ``count``; its
        ``decision`` is ``abort`` only when an instance rejected the canary version (the
        checks decide the rest, in `watch_rollout`).
        """
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
        status: dict[str, Any] = {
            **canary,
            "state": "running",
            "mod_revision": mod,
            "canary": arms[True].to_dict(),
            "stable_outcomes": arms[False].to_dict(),
            "serving": serving,
        }
        spec = canary.get("analysis")
        if spec is not None:
            rounds = self.rounds(str(canary["id"]))
            streak = 0
            for r in reversed(rounds):
                if r.get("verdict") != "pass":
                    break
                streak += 1
            decision: str | None = None
            why = rounds[-1]["why"] if rounds else "waiting for the first round of checks"
            status.update(
                rounds=rounds[-10:],
                rounds_taken=len(rounds),
                progress=min(1.0, streak / max(1, int(spec["count"]))),
            )
        else:
            decision, why = decide(
                arms[True], arms[False], budget=canary["budget"], min_samples=canary["min_samples"]
            )
            status["progress"] = min(1.0, arms[True].total / canary["min_samples"])
        if rejected:
            decision, why = "abort", "; ".join(rejected)
        status.update(decision=decision, why=why)
        return status

    def promote(
        self, reason: str = "promoted by hand", *, writes: Sequence[dict[str, Any]] = ()
    ) -> int:
        """Make the running canary's version current for every instance; returns it.

        ``writes``: more etcd writes for the same transaction (the deciding round).
        """
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
                *writes,
            ],
        )
        return version

    def abort(
        self,
        reason: str = "aborted by hand",
        *,
        writes: Sequence[dict[str, Any]] = (),
        **extra: Any,
    ) -> None:
        """Stop the running canary: its instances go back to the stable version.

        ``writes``: more etcd writes for the same transaction; ``extra``: more fields for
        the rollout's record.
        """
        canary, mod = self.pointer("canary")
        if canary is None:
            raise RolloutError(f"{self.keys.name}: no canary rollout is running")
        self._decide(
            [cmp(self.keys.canary, "MOD", mod)],
            [
                delete_op(self.keys.canary),
                _decided(self.keys, canary, "aborted", reason, **extra),
                *writes,
            ],
        )

    def _decide(self, guard: list[dict[str, Any]], writes: list[dict[str, Any]]) -> None:
        ok, _ = self.etcd.txn(guard, writes)
        if not ok:
            raise RolloutError(f"{self.keys.name}: the canary was decided or moved meanwhile")

    def rollout(self, ident: str) -> dict[str, Any]:
        """One canary rollout's record (``state``, ``reason``...), with its ``rounds`` when
        checks judged it.

        Raises:
            RolloutError: no such rollout.
        """
        kv = self.etcd.get(self.keys.rollout(ident))
        if kv is None:
            raise RolloutError(f"{self.keys.name}: no rollout {ident}")
        record: dict[str, Any] = json.loads(kv.value)
        if "analysis" in record:
            record["rounds"] = self.rounds(ident)
        return record

    def rounds(self, ident: str) -> list[dict[str, Any]]:
        """The rounds of checks a canary analysis took, oldest first."""
        found = self.etcd.range(self.keys.rounds(ident), prefix_end(self.keys.rounds(ident)))
        out = []
        for kv in found.kvs:
            with contextlib.suppress(ValueError):
                out.append(json.loads(kv.value))
        return out

    def rollouts(self, limit: int = 20) -> list[dict[str, Any]]:
        """The canary rollouts' records (without rounds), newest first."""
        found = self.etcd.range(self.keys.rollouts, prefix_end(self.keys.rollouts))
        records = []
        for kv in found.kvs:
            if "/" in kv.key[len(self.keys.rollouts) :]:
                continue  # a round
            with contextlib.suppress(ValueError):
                records.append((kv.create_revision, json.loads(kv.value)))
        records.sort(key=lambda r: r[0], reverse=True)
        return [r for _, r in records[:limit]]

    def watch_rollout(
        self,
        *,
        poll: float = 1.0,
        timeout: float | None = None,
        on_progress: Callable[[dict[str, Any]], object] | None = None,
        prometheus: str | Prometheus | None = None,
        on_round: Callable[[Round, str], object] | None = None,
    ) -> dict[str, Any]:
        """Follow the running canary and promote or abort it.

        A canary started with ``checks=`` is judged by them (``prometheus`` is needed then;
        each `Round` goes to ``on_round`` with the rule's word on it); any other by the
        instances' outcomes and `hotconf.live.canary.decide`.

        Returns:
            The rollout's final record (``state`` promoted or aborted, ``reason``).

        Raises:
            RolloutError: no canary runs.
            CheckError: it is judged by checks, and no ``prometheus`` was given.
        """
        status = self.rollout_status()
        if status is None:
            raise RolloutError(f"{self.keys.name}: no canary rollout is running")
        if "analysis" in status:
            from . import analysis

            prom = analysis.client(prometheus, f"canary {status['id']}'s checks")
            try:
                return analysis.watch_checks(
                    self, prom, poll=poll, timeout=timeout, on_progress=on_progress,
                    on_round=on_round,
                )  # fmt: skip
            finally:
                if prom is not prometheus:
                    prom.close()
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


def _decided(
    keys: Keys, canary: Mapping[str, Any], state: str, reason: str, **extra: Any
) -> dict[str, Any]:
    record = {**canary, **extra, "state": state, "reason": reason, "decided_at": _now()}
    return put_op(keys.rollout(str(canary["id"])), _json(record))


__all__ = ["Canaries"]
