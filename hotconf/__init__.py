"""hotconf: live configuration for Python services.

A candidate config flows one way through the pipeline; nothing reaches readers before it is
validated, nothing is announced before it is durable::

    source ─bytes─▶ load ─data─▶ schema.validate ─▶ diff ─▶ commit (store) ─▶ swap ─▶ notify
    (sources/)      (load.py)    (schema.py)        (diff.py) (store.py)     (live.py) (notify.py)

Usage::

    import hotconf

    live = hotconf.watch("config.yaml", schema="config.schema.json")
    pool = live.current["db"]["pool_size"]        # lock-free, never a torn config
    live.subscribe(lambda event: print(event.changed), keys=["db.*"])
"""

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING

# The exceptions are imported with the package: they are small and every stage raises them.
from .errors import ClosedError as ClosedError
from .errors import ConfigError as ConfigError
from .errors import EtcdError as EtcdError
from .errors import HotconfError as HotconfError
from .errors import LoadError as LoadError
from .errors import NoValidConfigError as NoValidConfigError
from .errors import Problem as Problem
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
    "Change": "diff",
    "ChangeEvent": "events",
    "CompatChange": "compat",
    "CompatReport": "compat",
    "Delivery": "webhooks",
    "DeliveryAttempt": "webhooks",
    "EtcdSource": "sources.etcd",
    "FileSource": "sources.files",
    "ImpactReport": "impact",
    "Level": "diff",
    "Limits": "load",
    "LiveConfig": "live",
    "REDACTED": "snapshot",
    "RawDocument": "sources",
    "Rejection": "events",
    "ReloadResult": "events",
    "RetryPolicy": "webhooks",
    "Rollout": "rollout",
    "RolloutEvent": "events",
    "Schema": "schema",
    "Snapshot": "snapshot",
    "Source": "sources",
    "Subscriber": "webhooks",
    "SubscriberStatus": "webhooks",
    "Subscription": "notify",
    "Validator": "pipeline",
    "VersionInfo": "snapshot",
    "WebhookError": "webhooks",
    "WebhookNotFoundError": "webhooks",
    "Webhooks": "webhooks",
    "create_app": "service",
    "diff": "impact",
    "load": "load",
    "schema_diff": "compat",
    "watch": "live",
}
# The public modules, also reachable as attributes (``hotconf.webhooks.new_secret()``).
_MODULES = frozenset(
    {
        "cli", "compat", "errors", "events", "fleet", "impact", "live", "notify", "paths",
        "pipeline", "rollout", "schema", "service", "snapshot", "sources", "store", "testing",
        "webhooks", "worker",
    }
)  # fmt: skip
# `hotconf.diff` and `hotconf.load` are functions, and modules of the same names too.
_FUNCTIONS_OVER_MODULES = frozenset({"diff", "load"})

if TYPE_CHECKING:
    from .compat import CompatChange as CompatChange
    from .compat import CompatReport as CompatReport
    from .compat import schema_diff as schema_diff
    from .diff import Change as Change
    from .diff import Level as Level
    from .events import ChangeEvent as ChangeEvent
    from .events import Rejection as Rejection
    from .events import ReloadResult as ReloadResult
    from .events import RolloutEvent as RolloutEvent
    from .impact import ImpactReport as ImpactReport
    from .impact import diff as diff
    from .live import LiveConfig as LiveConfig
    from .live import watch as watch
    from .load import Limits as Limits
    from .load import load as load
    from .notify import Subscription as Subscription
    from .pipeline import Validator as Validator
    from .rollout import Rollout as Rollout
    from .schema import Schema as Schema
    from .service import create_app as create_app
    from .snapshot import REDACTED as REDACTED
    from .snapshot import Snapshot as Snapshot
    from .snapshot import VersionInfo as VersionInfo
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


class _Package(ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        # Importing a submodule sets it as an attribute of the package: for `diff` and `load`
        # that would hide the function of that name, which is what `hotconf.diff` means.
        if name in _FUNCTIONS_OVER_MODULES and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__version__ = "0.1.0.dev0"

__all__ = [
    "REDACTED",
    "Change",
    "ChangeEvent",
    "ClosedError",
    "CompatChange",
    "CompatReport",
    "ConfigError",
    "Delivery",
    "DeliveryAttempt",
    "EtcdError",
    "EtcdSource",
    "FileSource",
    "HotconfError",
    "ImpactReport",
    "Level",
    "Limits",
    "LiveConfig",
    "LoadError",
    "NoValidConfigError",
    "Problem",
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
    "schema_diff",
    "watch",
]
