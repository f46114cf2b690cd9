"""What a `LiveConfig` carries across a restart: the start-up sequence (docs/architecture.md,
invariant 7) and the rollback pin (invariant 4).

At start the last-known-good is served if it passes the current checks, then the source is
read: a valid source is applied over it, a rejected one leaves it served (degraded), and
with neither there is nothing to serve (`NoValidConfigError`). A rollback pins the source's
content it replaced (store meta ``pinned_checksum``: the checksum of that content as written,
which a schema's defaults do not move) until the source changes. Both reach into the
`LiveConfig` they serve (its store and its first run), which is why they live beside it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..errors import NoValidConfigError, Problem, StoreError
from ..pipeline.evaluate import validate
from ..pipeline.snapshot import Snapshot
from ..store.history import PIN

if TYPE_CHECKING:
    from .config import LiveConfig

log = logging.getLogger("hotconf")

# PIN (store meta key): the source content a rollback keeps out, as written; retention reads
# it too, to keep the versions it refers to
# Log records about a rejection carry this, so a front end that prints each rejection itself
# (``hotconf watch``) can leave them out of its log output.
REJECTED_LOG = {"hotconf_event": "rejected"}


def start_up(live: LiveConfig[Any]) -> None:
    """Serve the last-known-good if it passes, then apply the source over it.

    Raises:
        NoValidConfigError: the source is rejected and there is no usable last-known-good.
    """
    stored = live._store.latest()
    lkg_problems: tuple[Problem, ...] = ()
    if stored is not None:
        lkg_problems, instance = validate(
            stored.data, live._schema, live._validators, model=live._model,
            secrets=live._secrets,
        )  # fmt: skip
        if lkg_problems:
            log.error(
                "hotconf: last-known-good v%d of %s fails the current schema; not serving it",
                stored.info.version,
                live.name,
            )
        else:
            live._swap(Snapshot(stored.data, stored.info), instance)
    result = live._run("start")
    if result.status != "rejected":
        return
    if result.snapshot is None:
        problems = result.problems + tuple(
            Problem(f"last-known-good v{stored.info.version}: {p.message}", p.path, p.code)
            for p in lkg_problems
            if stored is not None
        )
        where = live._store.path.parent if live._store.path else "memory"
        raise NoValidConfigError(
            f"{live.name}: no valid config to serve: the source is rejected and there is "
            f"no usable last-known-good (state: {where})",
            problems,
        )
    live.degraded = True
    log.warning(
        "hotconf: %s is rejected; serving last-known-good v%d (degraded)",
        live.name,
        result.snapshot.version,
        extra=REJECTED_LOG,
    )


def follow_pin(live: LiveConfig[Any], checksum: str, written: str) -> None:
    """The source was read: its effective config has ``checksum``, its content as written
    ``written``. A pin of other content is cleared (the source changed since the rollback:
    it speaks again); a pin of this content's effective config (stored before pins were of
    the content as written, or by an offline rollback) becomes ``written``."""
    if live._pinned is None or live._pinned == written:
        return
    set_pin(live, None if live._pinned != checksum else written)


def set_pin(live: LiveConfig[Any], pin: str | None) -> None:
    """Store the pin (``None``: clear it); in memory only if the store fails."""
    try:
        live._store.set_meta(PIN, pin)
    except StoreError:
        log.exception("hotconf: could not store the rollback pin; changing it in memory")
    live._pinned = pin
