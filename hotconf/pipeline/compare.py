"""`hotconf.diff`: the impact report of going from one config to another, outside a LiveConfig.

It runs the one candidate check (`hotconf.pipeline.evaluate.evaluate`) with the old config as
the version served, so ``hotconf diff``, the library call and a reload agree on every change's
level and reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .evaluate import effective, evaluate
from .impact import ImpactReport
from .load import load
from .model import Model
from .schema import Schema
from .snapshot import Snapshot, checksum, thaw


def _data(value: Mapping[str, Any] | str | os.PathLike[str] | bytes) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    return load(value)


def diff(
    old: Mapping[str, Any] | str | os.PathLike[str] | bytes,
    new: Mapping[str, Any] | str | os.PathLike[str] | bytes,
    schema: Schema | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    model: type[Any] | None = None,
    apply_defaults: bool = True,
) -> ImpactReport:
    """The impact report of going from ``old`` to ``new``.

    Args:
        old: the current config: a mapping (a `Snapshot` too), a file path or bytes.
        new: the candidate, in the same forms.
        schema: validates ``new`` (invalid → ``breaking`` with its problems) and supplies
            defaults, ``x-hotconf-*`` annotations and what is secret.
        model: a pydantic model, dataclass or TypedDict ``new`` must pass too; its JSON
            Schema supplies defaults, annotations and secrets as well (docs/typed.md).
        apply_defaults: compare the effective configs (the defaults filled in).

    Returns:
        An `ImpactReport`.

    Raises:
        LoadError: a file does not parse. SourceError: a file cannot be read.
        SchemaError: the schema or the model cannot be used.

    Example:
        >>> hotconf.diff({"pool": 10}, {"pool": 100}).changes[0].reason
        'changed by 10x or more'
    """
    sch = Schema.coerce(schema) if schema is not None else None
    contract = Model.of(model) if model is not None else None
    a, b = _data(old), _data(new)
    if not isinstance(a, Snapshot):  # a snapshot is an effective config already
        a = effective(thaw(a), sch, contract, apply_defaults=apply_defaults)[0]
    evaluation = evaluate(
        b,
        schema=sch,
        model=contract,
        apply_defaults=apply_defaults,
        previous=a,
        previous_checksum=a.checksum if isinstance(a, Snapshot) else checksum(a),
    )
    assert evaluation.report is not None
    return evaluation.report


__all__ = ["diff"]
