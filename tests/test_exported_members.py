"""The public surface: every name users import from `hotconf` stays there.

A name leaves `hotconf.__all__` only on purpose: this list changes with it, in the same commit,
and the changelog says so (docs/api.md is checked against `__all__` in test_docs.py).
"""

from __future__ import annotations

import inspect

import hotconf

EXPORTED = {
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
}


def test_all_is_pinned() -> None:
    assert set(hotconf.__all__) == EXPORTED


def test_every_exported_name_resolves_and_is_public() -> None:
    for name in hotconf.__all__:
        member = getattr(hotconf, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("hotconf."), (name, member.__module__)
