"""Fleet mode's records in etcd: where keys live (`Keys`), what a published version holds
(`Envelope`), what an instance reports (`InstanceStatus`), and canary selection. The layout is
described in `hotconf.fleet`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from ..errors import Problem, RolloutError, SourceError
from ..live.canary import Outcomes
from ..sources import RawDocument

if TYPE_CHECKING:
    from .etcd import KeyValue

PREFIX = "/hotconf"
ENVELOPE = 1  # the envelope format's version


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Keys:
    """Where one config's keys live in etcd."""

    name: str
    prefix: str = PREFIX

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "._-" for c in self.name):
            raise ValueError(f"a config name is letters, digits, '.', '_' and '-': {self.name!r}")

    @property
    def base(self) -> str:
        return f"{self.prefix.rstrip('/')}/{self.name}/"

    @property
    def current(self) -> str:
        return self.base + "current"

    @property
    def canary(self) -> str:
        return self.base + "canary"

    @property
    def pointers(self) -> tuple[str, str]:
        """A range holding exactly ``canary`` and ``current`` (what instances watch)."""
        return self.canary, self.current + "\0"

    @property
    def versions(self) -> str:
        return self.base + "versions/"

    def version(self, n: int) -> str:
        return f"{self.versions}{n:010d}"

    @property
    def instances(self) -> str:
        return self.base + "instances/"

    def instance(self, ident: str) -> str:
        return self.instances + ident

    @property
    def rollouts(self) -> str:
        return self.base + "rollouts/"

    def rollout(self, ident: str) -> str:
        return f"{self.rollouts}{ident}"

    def rounds(self, ident: str) -> str:
        """Where a canary analysis's rounds live: ``rollouts/<id>/rounds/000001`` on."""
        return f"{self.rollouts}{ident}/rounds/"

    def round(self, ident: str, n: int) -> str:
        return f"{self.rounds(ident)}{n:06d}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One published version: the config's bytes and what is known about them."""

    name: str
    version: int
    format: str
    config: bytes
    checksum: str
    published_at: str
    publisher: str
    source: str = ""
    previous: int | None = None
    restores: int | None = None
    rolled_back_from: int | None = None
    level: str = "none"
    summary: str = ""
    gate: Mapping[str, Any] | None = None  # the release gate's readings, and whether forced

    def encode(self) -> bytes:
        return _json(
            {
                "hotconf": ENVELOPE,
                "name": self.name,
                "version": self.version,
                "format": self.format,
                "config": self.config.decode("utf-8"),
                "sha256": sha256(self.config).hexdigest(),
                "checksum": self.checksum,
                "published_at": self.published_at,
                "publisher": self.publisher,
                "source": self.source,
                "previous": self.previous,
                "restores": self.restores,
                "rolled_back_from": self.rolled_back_from,
                "level": self.level,
                "summary": self.summary,
                **({"gate": dict(self.gate)} if self.gate is not None else {}),
            }
        )

    @classmethod
    def decode(cls, raw: bytes, where: str, *, name: str, version: int) -> Envelope:
        """Parse and verify an envelope; raises `SourceError` (code ``integrity``) if bad."""

        def bad(why: str) -> SourceError:
            msg = f"{where}: {why}"
            return SourceError(msg, (Problem(why, code="integrity", source=where),))

        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise bad("not a hotconf envelope (not JSON)") from None
        if not isinstance(doc, dict) or doc.get("hotconf") != ENVELOPE:
            raise bad(f"not a hotconf envelope of format {ENVELOPE}")
        text, fmt = doc.get("config"), doc.get("format")
        if not isinstance(text, str) or fmt not in ("yaml", "json"):
            raise bad("the envelope has no config text or an unknown format")
        config = text.encode("utf-8")
        if doc.get("sha256") != sha256(config).hexdigest():
            raise bad("the config does not match the envelope's sha256 (corrupted)")
        if doc.get("name") != name or doc.get("version") != version:
            raise bad(f"the envelope says {doc.get('name')} v{doc.get('version')}")

        def opt(key: str) -> int | None:
            value = doc.get(key)
            return value if isinstance(value, int) else None

        return cls(
            name=name,
            version=version,
            format=fmt,
            config=config,
            checksum=str(doc.get("checksum", "")),
            published_at=str(doc.get("published_at", "")),
            publisher=str(doc.get("publisher", "")),
            source=str(doc.get("source", "")),
            previous=opt("previous"),
            restores=opt("restores"),
            rolled_back_from=opt("rolled_back_from"),
            level=str(doc.get("level", "none")),
            summary=str(doc.get("summary", "")),
            gate=doc["gate"] if isinstance(doc.get("gate"), dict) else None,
        )

    def document(self, keys: Keys) -> RawDocument:
        return RawDocument(f"etcd:{keys.version(self.version)}", self.config, self.format)

    def info(self) -> dict[str, Any]:
        """The metadata, JSON-ready (no config)."""
        return {
            k: getattr(self, k)
            for k in (
                *("name", "version", "checksum", "published_at", "publisher", "source"),
                *("previous", "restores", "rolled_back_from", "level", "summary", "gate"),
            )
        }


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    """What one instance reported under its lease."""

    id: str
    labels: Mapping[str, str]
    serving: int | None
    checksum: str | None
    rejected: int | None
    problems: tuple[str, ...]
    outcomes: Mapping[int, Outcomes]
    reported_at: str

    @classmethod
    def parse(cls, kv: KeyValue) -> InstanceStatus | None:
        try:
            doc = json.loads(kv.value)
            return cls(
                id=str(doc["id"]),
                labels={str(k): str(v) for k, v in doc.get("labels", {}).items()},
                serving=doc.get("serving"),
                checksum=doc.get("checksum"),
                rejected=doc.get("rejected"),
                problems=tuple(str(p) for p in doc.get("problems", ())),
                outcomes={int(v): Outcomes.coerce(o) for v, o in doc.get("outcomes", {}).items()},
                reported_at=str(doc.get("at", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # not ours to judge: a foreign or half-written key is skipped


def select(instances: Sequence[InstanceStatus], selector: str, salt: str) -> tuple[str, ...]:
    """The instance ids a canary selector picks: ``"10%"`` (at least one, by a stable hash of
    the id) or labels ``"zone=a,tier=web"`` (all must match)."""
    selector = selector.strip()
    if selector.endswith("%"):
        try:
            share = float(selector[:-1]) / 100
        except ValueError:
            raise RolloutError(f"not a canary share: {selector!r} (want e.g. 10%)") from None
        if not 0 < share <= 1:
            raise RolloutError(f"a canary share is within (0%, 100%]: {selector!r}")
        ranked = sorted(instances, key=lambda i: sha256(f"{salt}/{i.id}".encode()).hexdigest())
        chosen = ranked[: max(1, math.ceil(len(ranked) * share))] if ranked else []
    else:
        try:
            wanted = dict(part.split("=", 1) for part in selector.split(",") if part.strip())
        except ValueError:
            raise RolloutError(
                f"not a canary selector: {selector!r} (want 10% or k=v,...)"
            ) from None
        wanted = {k.strip(): v.strip() for k, v in wanted.items()}
        chosen = [
            i
            for i in instances
            if all({**i.labels, "instance": i.id}.get(k) == v for k, v in wanted.items())
        ]
    if not chosen:
        raise RolloutError(f"no live instance matches the canary selector {selector!r}")
    return tuple(sorted(i.id for i in chosen))


__all__ = ["ENVELOPE", "PREFIX", "Envelope", "InstanceStatus", "Keys", "select"]
