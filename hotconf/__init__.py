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

from .diff import Change as Change
from .diff import Level as Level
from .errors import (
    ClosedError as ClosedError,
)
from .errors import (
    ConfigError as ConfigError,
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
from .impact import ImpactReport as ImpactReport
from .impact import diff as diff
from .live import LiveConfig as LiveConfig
from .live import watch as watch
from .load import Limits as Limits
from .load import load as load
from .notify import Subscription as Subscription
from .pipeline import Validator as Validator
from .schema import Schema as Schema
from .snapshot import REDACTED as REDACTED
from .snapshot import Snapshot as Snapshot
from .snapshot import VersionInfo as VersionInfo
from .sources import RawDocument as RawDocument
from .sources import Source as Source
from .sources.files import FileSource as FileSource

__version__ = "0.1.0.dev0"

__all__ = [
    "REDACTED",
    "Change",
    "ChangeEvent",
    "ClosedError",
    "ConfigError",
    "FileSource",
    "HotconfError",
    "ImpactReport",
    "Level",
    "Limits",
    "LiveConfig",
    "LoadError",
    "NoValidConfigError",
    "Problem",
    "RawDocument",
    "Rejection",
    "ReloadResult",
    "Schema",
    "SchemaError",
    "Snapshot",
    "Source",
    "SourceError",
    "StoreError",
    "Subscription",
    "ValidationError",
    "Validator",
    "VersionInfo",
    "VersionNotFoundError",
    "diff",
    "load",
    "watch",
]
