"""hotconf: live configuration for Python services.

A candidate config flows one way through the pipeline; nothing reaches readers before it is
validated, nothing is announced before it is durable::

    source ─bytes─▶ load ─data─▶ schema.validate ─▶ diff ─▶ commit (store) ─▶ swap ─▶ notify
    (sources/)      (load.py)    (schema.py)        (diff.py) (store.py)     (live.py) (notify.py)

Usage::

    import hotconf

    live = hotconf.watch("config.yaml", model=AppConfig)   # a frozen pydantic model
    pool = live.current.db.pool_size              # lock-free, never a torn config
    live.subscribe(lambda event: print(event.changed), keys=["db.*"])

    live = hotconf.watch("config.yaml", schema="config.schema.json")
    pool = live.current["db"]["pool_size"]        # a read-only Snapshot
"""

from typing import TYPE_CHECKING

from .compat.report import CompatChange as CompatChange
from .compat.report import CompatReport as CompatReport
from .compat.report import schema_diff as schema_diff
from .errors import (
    ClosedError as ClosedError,
)
from .errors import (
    ConfigError as ConfigError,
)
from .errors import (
    EtcdError as EtcdError,
)
from .errors import (
    HotconfError as HotconfError,
)
from .errors import (
    LoadError as LoadError,
)
from .errors import (
    NoValidConfigError as NoValidConfigError,
)
from .errors import (
    Problem as Problem,
)
from .errors import (
    PublishConflictError as PublishConflictError,
)
from .errors import (
    RolloutError as RolloutError,
)
from .errors import (
    SchemaError as SchemaError,
)
from .errors import (
    SourceError as SourceError,
)
from .errors import (
    StoreError as StoreError,
)
from .errors import (
    ValidationError as ValidationError,
)
from .errors import (
    VersionNotFoundError as VersionNotFoundError,
)
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
from .pipeline.schema import Schema as Schema
from .pipeline.snapshot import REDACTED as REDACTED
from .pipeline.snapshot import Snapshot as Snapshot
from .pipeline.snapshot import VersionInfo as VersionInfo
from .sources import RawDocument as RawDocument
from .sources import Source as Source
from .sources.files import FileSource as FileSource
from .webhooks.manager import Delivery as Delivery
from .webhooks.manager import DeliveryAttempt as DeliveryAttempt
from .webhooks.manager import RetryPolicy as RetryPolicy
from .webhooks.manager import Subscriber as Subscriber
from .webhooks.manager import SubscriberStatus as SubscriberStatus
from .webhooks.manager import WebhookError as WebhookError
from .webhooks.manager import WebhookNotFoundError as WebhookNotFoundError
from .webhooks.manager import Webhooks as Webhooks

if TYPE_CHECKING:
    from .service.app import create_app as create_app
    from .sources.etcd import EtcdSource as EtcdSource
else:

    def __getattr__(name: str) -> object:
        # The HTTP service needs Starlette, uvicorn and prometheus-client: import it on
        # first use, so that `import hotconf` neither needs nor pays for them.
        if name == "create_app":
            from .service.app import create_app

            return create_app
        if name == "EtcdSource":  # fleet mode speaks HTTP (httpx): imported on first use too
            from .sources.etcd import EtcdSource

            return EtcdSource
        raise AttributeError(f"module 'hotconf' has no attribute {name!r}")


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
    "restart",
    "schema_diff",
    "sensitive",
    "watch",
]
