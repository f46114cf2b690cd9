"""Reading one config's records in etcd: the pointers, the versions, the instances. The
base of `hotconf.fleet.Fleet` (through `hotconf.fleet.canaries.Canaries`)."""

from __future__ import annotations

import json
from typing import Any, Literal, Self

from ..errors import LoadError, SourceError, VersionNotFoundError
from ..pipeline.evaluate import effective, parse_all
from ..pipeline.model import Model
from ..pipeline.schema import Schema
from ..pipeline.snapshot import checksum
from .etcd import Etcd, prefix_end
from .keys import PREFIX, Envelope, InstanceStatus, Keys


class FleetReader:
    """One config in one etcd cluster, read.

    Args:
        url: etcd client URL(s), comma-separated, or an `Etcd` connection to share.
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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


__all__ = ["FleetReader"]
