"""Fleet mode: publish a config to etcd and follow it from every instance.

`publish`, `rollback` and `Fleet` are the publisher's side; instances follow with
`hotconf.EtcdSource`. Canaries can be judged, and releases gated, by Prometheus: `Check`
(``NAME=PROMQL <= THRESHOLD``) and `Prometheus` (its query API). docs/fleet.md is the user
guide.
"""

from .checks import Check as Check
from .prometheus import Prometheus as Prometheus
from .publisher import PREFIX as PREFIX
from .publisher import Envelope as Envelope
from .publisher import Fleet as Fleet
from .publisher import InstanceStatus as InstanceStatus
from .publisher import Keys as Keys
from .publisher import PublishResult as PublishResult
from .publisher import publish as publish
from .publisher import rollback as rollback
from .publisher import select as select

__all__ = [
    "PREFIX",
    "Check",
    "Envelope",
    "Fleet",
    "InstanceStatus",
    "Keys",
    "Prometheus",
    "PublishResult",
    "publish",
    "rollback",
    "select",
]
