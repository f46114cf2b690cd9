"""hotconf: live configuration for Python services.

A candidate config flows one way through the pipeline; nothing reaches readers before it is
validated, nothing is announced before it is durable::

    source ─bytes─▶ load ─data─▶ schema ─▶ diff ─▶ impact ─▶ gate ─▶ commit ─▶ swap ─▶ notify

    source        sources/: files and directories (watchdog), etcd (fleet mode)
    load … gate   pipeline/evaluate.py, the one candidate check, over pipeline/load.py,
                  schema.py, diff.py, impact.py and levels.py: no state, no threads
    commit        store/: the version and its webhook outbox rows in one SQLite transaction
    swap          live/config.py: LiveConfig._commit assigns ``live.current``, a Snapshot (or
                  the instance of the typed model, pipeline/model.py, built in evaluate)
    notify        live/subscriptions.py (in process), webhooks/ (signed HTTP, from the outbox)

Around it: `compat` (schema-diff), `fleet` (publish to etcd, canaries across instances),
`service` (the HTTP API), `cli` (the ``hotconf`` command). docs/architecture.md has the whole
picture: the package map, the threads, the state and the invariants.

Usage::

    import hotconf

    live = hotconf.watch("config.yaml", model=AppConfig)   # a frozen pydantic model
    pool = live.current.db.pool_size              # lock-free, never a torn config
    live.subscribe(lambda event: print(event.changed), keys=["db.*"])

    live = hotconf.watch("config.yaml", schema="config.schema.json")
    pool = live.current["db"]["pool_size"]        # a read-only Snapshot
"""

import importlib
from typing import TYPE_CHECKING

# The exceptions are imported with the package: they are small and every stage raises them.
from .errors import CheckError as CheckError
from .errors import ClosedError as ClosedError
from .errors import ConfigError as ConfigError
from .errors import EtcdError as EtcdError
from .errors import HotconfError as HotconfError
from .errors import LoadError as LoadError
from .errors import NoValidConfigError as NoValidConfigError
from .errors import Problem as Problem
from .errors import PrometheusError as PrometheusError
from .errors import PublishConflictError as PublishConflictError
from .errors import RolloutError as RolloutError
from .errors import SchemaError as SchemaError
from .errors import SourceError as SourceError
from .errors import StoreError as StoreError
from .errors import ValidationError as ValidationError
from .errors import VersionNotFoundError as VersionNotFoundError

# Everything else is imported on first use (PEP 562), so that `import hotconf` costs next to
# nothing and each use pays only for its own stage: a schema for jsonschema, `watch` for
# watchdog and SQLite, `create_app` for Starlette, `EtcdSource` for httpx.
_LAZY = {
    "Change": "pipeline.diff",
    "ChangeEvent": "events",
    "CompatChange": "compat",
    "CompatReport": "compat",
    "Delivery": "webhooks",
    "DeliveryAttempt": "webhooks",
    "EtcdSource": "sources.etcd",
    "Explanation": "pipeline.provenance",
    "FileSource": "sources.files",
    "ImpactReport": "pipeline.impact",
    "Level": "pipeline.levels",
    "Limits": "pipeline.load",
    "LiveConfig": "live.config",
    "REDACTED": "pipeline.snapshot",
    "RawDocument": "sources",
    "Rejection": "events",
    "ReloadResult": "events",
    "RetryPolicy": "webhooks",
    "Rollout": "live.rollouts",
    "RolloutEvent": "events",
    "Schema": "pipeline.schema",
    "Setting": "pipeline.provenance",
    "Snapshot": "pipeline.snapshot",
    "Source": "sources",
    "Subscriber": "webhooks",
    "SubscriberStatus": "webhooks",
    "Subscription": "live.subscriptions",
    "Validator": "pipeline.evaluate",
    "VersionInfo": "pipeline.snapshot",
    "WebhookError": "webhooks",
    "WebhookNotFoundError": "webhooks",
    "Webhooks": "webhooks",
    "create_app": "service.app",
    "diff": "pipeline.impact",
    "load": "pipeline.load",
    "restart": "pipeline.model",
    "schema_diff": "compat",
    "sensitive": "pipeline.model",
    "watch": "live.watch",
}
# The subpackages and public modules, also reachable as attributes
# (``hotconf.webhooks.new_secret()``).
_MODULES = frozenset(
    {
        "cli", "compat", "errors", "events", "fleet", "live", "middleware", "pipeline",
        "service", "sources", "store", "testing", "webhooks",
    }
)  # fmt: skip

if TYPE_CHECKING:
    from .compat import CompatChange as CompatChange
    from .compat import CompatReport as CompatReport
    from .compat import schema_diff as schema_diff
    from .events import ChangeEvent as ChangeEvent
    from .events import Rejection as Rejection
    from .events import ReloadResult as ReloadResult
    from .events import RolloutEvent as RolloutEvent
    from .live.config import LiveConfig as LiveConfig
    from .live.rollouts import Rollout as Rollout
    from .live.subscriptions import Subscription as Subscription
    from .live.watch import watch as watch
    from .pipeline.diff import Change as Change
    from .pipeline.evaluate import Validator as Validator
    from .pipeline.impact import ImpactReport as ImpactReport
    from .pipeline.impact import diff as diff
    from .pipeline.levels import Level as Level
    from .pipeline.load import Limits as Limits
    from .pipeline.load import load as load
    from .pipeline.model import restart as restart
    from .pipeline.model import sensitive as sensitive
    from .pipeline.provenance import Explanation as Explanation
    from .pipeline.provenance import Setting as Setting
    from .pipeline.schema import Schema as Schema
    from .pipeline.snapshot import REDACTED as REDACTED
    from .pipeline.snapshot import Snapshot as Snapshot
    from .pipeline.snapshot import VersionInfo as VersionInfo
    from .service.app import create_app as create_app
    from .sources import RawDocument as RawDocument
    from .sources import Source as Source
    from .sources.etcd import EtcdSource as EtcdSource
    from .sources.files import FileSource as FileSource
    from .webhooks import Delivery as Delivery
    from .webhooks import DeliveryAttempt as DeliveryAttempt
    from .webhooks import RetryPolicy as RetryPolicy
    from .webhooks import Subscriber as Subscriber
    from .webhooks import SubscriberStatus as SubscriberStatus
    from .webhooks import WebhookError as WebhookError
    from .webhooks import WebhookNotFoundError as WebhookNotFoundError
    from .webhooks import Webhooks as Webhooks

else:

    def __getattr__(name: str) -> object:
        if name in _LAZY:
            value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        elif name in _MODULES:
            value = importlib.import_module(f".{name}", __name__)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY, *_MODULES})


__version__ = "0.1.0.dev0"

__all__ = [
    "REDACTED",
    "Change",
    "ChangeEvent",
    "CheckError",
    "ClosedError",
    "CompatChange",
    "CompatReport",
    "ConfigError",
    "Delivery",
    "DeliveryAttempt",
    "EtcdError",
    "EtcdSource",
    "Explanation",
    "FileSource",
    "HotconfError",
    "ImpactReport",
    "Level",
    "Limits",
    "LiveConfig",
    "LoadError",
    "NoValidConfigError",
    "Problem",
    "PrometheusError",
    "PublishConflictError",
    "RawDocument",
    "Rejection",
    "ReloadResult",
    "RetryPolicy",
    "Rollout",
    "RolloutError",
    "RolloutEvent",
    "Schema",
    "SchemaError",
    "Setting",
    "Snapshot",
    "Source",
    "SourceError",
    "StoreError",
    "Subscriber",
    "SubscriberStatus",
    "Subscription",
    "ValidationError",
    "Validator",
    "VersionInfo",
    "VersionNotFoundError",
    "WebhookError",
    "WebhookNotFoundError",
    "Webhooks",
    "create_app",
    "diff",
    "load",
    "restart",
    "schema_diff",
    "sensitive",
    "watch",
]
