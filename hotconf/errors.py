"""The exception tree, and the `Problem` value the errors carry.

::

    HotconfError                      anything hotconf raises on purpose (exit code 2)
    ├── ConfigError                   a candidate config is bad (exit code 1)
    │   ├── LoadError (ValueError)    it does not parse, or trips a guard (size, depth, aliases)
    │   └── ValidationError (ValueError)  it fails the schema or a custom check
    ├── NoValidConfigError            start-up: no valid source and no last-known-good (1)
    ├── SchemaError                   the schema is unusable: unreadable, invalid, remote $ref
    ├── SourceError                   the source cannot be read (missing file, permissions)
    │   └── EtcdError                 etcd cannot be reached, or refused a request (fleet mode)
    ├── StoreError                    the state directory cannot be opened or written
    ├── VersionNotFoundError (LookupError)  no such version in the history
    ├── ClosedError                   the LiveConfig was closed
    ├── PublishConflictError          fleet: another publish moved the pointer first
    ├── RolloutError                  a canary rollout cannot start, or was already decided
    ├── CheckError (ValueError)       a canary check or gate is not one: bad expression, a
    │                                 query Prometheus refuses, a result that is no number
    └── PrometheusError               Prometheus cannot be reached, or failed to answer

Every error carries ``exit_code``, the code the ``hotconf`` command exits with when it is the
cause, and ``problems``: a tuple of `Problem` values, each pointing at a path in the config and,
where the loader knows it, a file and line. Messages never contain secret values
(docs/architecture.md, invariant 8).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a candidate was refused.

    Args:
        message: what is wrong, for a human; never contains a secret value.
        path: JSON Pointer into the config ("" is the whole document).
        code: a short machine-readable kind: ``syntax``, ``duplicate-key``, ``tag``,
            ``limit``, ``empty``, ``encoding``, ``source``, a JSON Schema keyword such as
            ``type`` or ``required``, or ``check`` for a custom validator.
        source: the file (or other source name) the problem is in, when known.
        line: 1-based line number in ``source``, when known.

    Example:
        >>> str(Problem("expected an integer", path="/db/pool_size", code="type",
        ...             source="config.yaml", line=3))
        'config.yaml:3: /db/pool_size: expected an integer'
    """

    message: str
    path: str = ""
    code: str = "invalid"
    source: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.source or ""
        if where and self.line is not None:
            where = f"{where}:{self.line}"
        parts = [p for p in (where, self.path) if p]
        return ": ".join([*parts, self.message])

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form (used by the store, the CLI's JSON output and the HTTP API)."""
        return {
            "message": self.message,
            "path": self.path,
            "code": self.code,
            "source": self.source,
            "line": self.line,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Problem:
        line = data.get("line")
        source = data.get("source")
        return cls(
            message=str(data.get("message", "")),
            path=str(data.get("path", "")),
            code=str(data.get("code", "invalid")),
            source=str(source) if source is not None else None,
            line=int(line) if isinstance(line, int) else None,
        )


class HotconfError(Exception):
    """Root of every error hotconf raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems: tuple[Problem, ...] = tuple(problems)

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message, *(f"  {p}" for p in self.problems)]
        return "\n".join(lines)


class ConfigError(HotconfError):
    """A candidate config is bad: it was refused and the last-known-good stays served."""

    exit_code = 1


class LoadError(ConfigError, ValueError):
    """The candidate does not parse, or it trips a guard (size, depth, alias expansion)."""


class ValidationError(ConfigError, ValueError):
    """The candidate parses but fails its schema or a custom check."""


class NoValidConfigError(HotconfError):
    """Start-up found neither a valid source nor a last-known-good in the state directory."""

    exit_code = 1


class SchemaError(HotconfError):
    """The schema cannot be used: unreadable, invalid, a bad pointer, or a remote ``$ref``."""


class SourceError(HotconfError):
    """The source cannot be read at all (missing file or directory, no permission)."""


class StoreError(HotconfError):
    """The state directory cannot be opened, read or written."""


class VersionNotFoundError(HotconfError, LookupError):
    """A version asked for (rollback target, history lookup) does not exist."""


class ClosedError(HotconfError):
    """The `LiveConfig` was closed; it no longer reloads or accepts subscribers."""


class EtcdError(SourceError):
    """etcd cannot be reached, or it refused a request (fleet mode)."""


class PublishConflictError(HotconfError):
    """Another publish (or rollback, or canary) moved the pointer in etcd first.

    The compare-and-swap lost: nothing was written. Look at what is live now and publish again.
    """


class RolloutError(HotconfError):
    """A canary rollout cannot start (one is running already, nothing to compare against), or
    it was already promoted or aborted."""


class CheckError(HotconfError, ValueError):
    """A canary check or release gate is not usable: the expression is not ``NAME=PROMQL OP
    THRESHOLD``, Prometheus refuses the query, or its result is not one number (several
    series, a range vector, a string)."""


class PrometheusError(HotconfError):
    """Prometheus cannot be reached, or it failed to answer a query (not the query's fault)."""


__all__ = [
    "CheckError",
    "ClosedError",
    "ConfigError",
    "EtcdError",
    "HotconfError",
    "LoadError",
    "NoValidConfigError",
    "Problem",
    "PrometheusError",
    "PublishConflictError",
    "RolloutError",
    "SchemaError",
    "SourceError",
    "StoreError",
    "ValidationError",
    "VersionNotFoundError",
]
