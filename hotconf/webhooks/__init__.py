"""Webhooks: subscribers, the durable outbox, signed deliveries, the SSRF guard.

docs/webhooks.md is the user guide.

The package imports nothing until a name is asked for (PEP 562, as `hotconf` does): importing
one of its modules (`hotconf.webhooks.deliveries`, which the store's outbox uses) does not
import the manager and what it pulls in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .manager import ALL_EVENT_TYPES as ALL_EVENT_TYPES
    from .manager import DELIVERY_STATUSES as DELIVERY_STATUSES
    from .manager import EVENT_TYPES as EVENT_TYPES
    from .manager import ROLLOUT_EVENT_TYPES as ROLLOUT_EVENT_TYPES
    from .manager import Delivery as Delivery
    from .manager import DeliveryAttempt as DeliveryAttempt
    from .manager import DeliveryStatus as DeliveryStatus
    from .manager import EventType as EventType
    from .manager import RetryPolicy as RetryPolicy
    from .manager import Subscriber as Subscriber
    from .manager import SubscriberError as SubscriberError
    from .manager import SubscriberStatus as SubscriberStatus
    from .manager import WebhookError as WebhookError
    from .manager import WebhookNotFoundError as WebhookNotFoundError
    from .manager import Webhooks as Webhooks
    from .manager import change_body as change_body
    from .manager import new_secret as new_secret
    from .manager import read_subscribers as read_subscribers
    from .manager import redact_url as redact_url
    from .manager import rejection_body as rejection_body
    from .manager import rollout_body as rollout_body
else:

    def __getattr__(name: str) -> object:
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(".manager", __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})


__all__ = [
    "ALL_EVENT_TYPES",
    "DELIVERY_STATUSES",
    "EVENT_TYPES",
    "ROLLOUT_EVENT_TYPES",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "EventType",
    "RetryPolicy",
    "Subscriber",
    "SubscriberError",
    "SubscriberStatus",
    "WebhookError",
    "WebhookNotFoundError",
    "Webhooks",
    "change_body",
    "new_secret",
    "read_subscribers",
    "redact_url",
    "rejection_body",
    "rollout_body",
]
