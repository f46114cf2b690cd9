"""Layers: one source made of several, in order of precedence (the last wins).

    defaults  <  files (merged in order)  <  secrets_dir  <  environment

as pydantic-settings orders them: the environment wins. Each layer is a source of its own
(`DefaultsSource` here, `hotconf.sources.files`, `hotconf.sources.secrets`,
`hotconf.sources.env`); `LayeredSource.read` hands the pipeline their documents in that order
and the pipeline deep-merges them (`hotconf.pipeline.assemble`). Each document says which
layer it belongs to, which is how ``live.explain`` tells where a value came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import SourceError
from ..pipeline.snapshot import canonical_json, thaw
from . import Activity, Poke, RawDocument, Source
from .env import EnvSource
from .files import FileSource, coerce_source
from .secrets import SecretsSource


class DefaultsSource:
    """Defaults given as a mapping: the lowest layer, one document named ``defaults``.

    Args:
        data: the defaults (JSON-compatible).

    Raises:
        TypeError: ``data`` is not JSON-compatible.
    """

    synchronous = True
    state_dir: Path | None = None
    name = "defaults"

    def __init__(self, data: Mapping[str, Any]) -> None:
        try:
            encoded = canonical_json(thaw(data))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"defaults must be JSON-compatible: {exc}") from None
        self._doc = RawDocument("defaults", encoded, "json", "default", ())

    def read(self) -> tuple[RawDocument, ...]:
        return (self._doc,)

    def start(self, poke: Poke) -> None:
        """Nothing to watch."""

    def check(self) -> None:
        """Nothing to re-arm."""

    def stop(self) -> None:
        """Nothing to stop."""


class LayeredSource:
    """Defaults, a config source, secret files and environment variables as one source.

    Args:
        files: the config source (a `FileSource`, a `MemorySource`, ... or what
            ``hotconf.watch`` accepts as a source).
        defaults: a mapping, or a config file (watched like the others).
        secrets_dir: a directory of secret files, one per key (`SecretsSource`).
        env_prefix: read the environment variables with this prefix (`EnvSource`).
        environ: the environment to read (default ``os.environ``; tests pass a dict).

    Raises:
        SourceError: the config source reports back to a fleet what it serves (an
            `EtcdSource`): overrides would make each instance serve something else.
    """

    def __init__(
        self,
        files: Source | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        defaults: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        secrets_dir: str | os.PathLike[str] | None = None,
        env_prefix: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        base = coerce_source(files)
        if getattr(base, "bind", None) is not None:
            raise SourceError(
                f"{base.name}: a fleet source takes no layers (defaults, secrets_dir, "
                "env_prefix): every instance must serve what was published"
            )
        layers: list[Source] = []
        if isinstance(defaults, Mapping):
            layers.append(DefaultsSource(defaults))
        elif defaults is not None:
            layers.append(FileSource(defaults, layer="default"))
        layers.append(base)
        if secrets_dir is not None:
            layers.append(SecretsSource(secrets_dir))
        if env_prefix is not None:
            layers.append(EnvSource(env_prefix, environ=environ))
        self.files = base
        self.layers: tuple[Source, ...] = tuple(layers)
        self.name = base.name
        self.state_dir = base.state_dir
        self.synchronous = all(layer.synchronous for layer in self.layers)

    def read(self) -> tuple[RawDocument, ...]:
        """Every layer's documents, lowest precedence first."""
        return tuple(doc for layer in self.layers for doc in layer.read())

    def start(self, poke: Poke) -> None:
        for layer in self.layers:
            layer.start(poke)

    def check(self) -> None:
        for layer in self.layers:
            layer.check()

    def stop(self) -> None:
        for layer in self.layers:
            layer.stop()

    def activity(self) -> Activity:
        """What its layers say (`hotconf.sources.Activity`): ``writing`` when any file is
        open for writing, else ``changed`` when any changed, else None."""
        found: Activity = None
        for layer in self.layers:
            ask = getattr(layer, "activity", None)
            said: Activity = ask() if ask is not None else None
            if said == "writing":
                return said
            found = found or said
        return found


__all__ = ["DefaultsSource", "LayeredSource"]
