"""Environment variables as a layer: ``APP_DB__POOL_SIZE=30`` sets ``db.pool_size`` to ``30``.

With the prefix ``APP_``, each variable whose name starts with it is one document: the rest
of the name, split at ``__``, is the key (each part matches a config key ignoring case: see
`hotconf.pipeline.assemble`), and the value is read as one YAML 1.2 scalar by hotconf's own
rules (`hotconf.pipeline.load.scalar`): ``30`` an int, ``true`` a bool, ``'30'`` a string,
nothing at all null. A value that is not one scalar refuses the candidate, naming the
variable. The environment is read with every candidate: at start and at each reload.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from ..pipeline.load import scalar
from . import Poke, RawDocument


class EnvSource:
    """The variables under one prefix.

    Args:
        prefix: the start of the names to read (``"APP_"``), compared as written.
        environ: the variables (default: ``os.environ``, read at each `read`).

    Raises:
        ValueError: an empty prefix (that would be the whole environment).
    """

    synchronous = True
    state_dir: Path | None = None

    def __init__(self, prefix: str, *, environ: Mapping[str, str] | None = None) -> None:
        if not prefix:
            raise ValueError("an environment prefix is needed, such as 'APP_'")
        self.prefix = prefix
        self.name = f"environment ({prefix}*)"
        self._environ = environ

    def read(self) -> tuple[RawDocument, ...]:
        """One document per variable under the prefix, in name order.

        Raises:
            LoadError: a value is not one YAML scalar (the problem names the variable).
        """
        environ = os.environ if self._environ is None else self._environ
        docs = []
        for var in sorted(environ):
            if var.startswith(self.prefix) and len(var) > len(self.prefix):
                value = scalar(environ[var], name=var)
                key = tuple(var[len(self.prefix) :].split("__"))
                docs.append(RawDocument(var, json.dumps(value).encode(), "json", "env", key))
        return tuple(docs)

    def start(self, poke: Poke) -> None:
        """Nothing to watch: the environment is read with each candidate."""

    def check(self) -> None:
        """Nothing to re-arm."""

    def stop(self) -> None:
        """Nothing to stop."""


__all__ = ["EnvSource"]
