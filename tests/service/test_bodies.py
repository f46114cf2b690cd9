"""hotconf.service.config_api: the encoded config bodies, built key by key and reused across
versions, equal the reference (``dumps`` of the snapshot, redacted for anonymous readers)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotconf.pipeline.impact import Classifier
from hotconf.pipeline.schema import Schema
from hotconf.pipeline.share import settle
from hotconf.pipeline.snapshot import Snapshot, VersionInfo
from hotconf.service.config_api import Bodies, redact
from hotconf.service.http import dumps

SCHEMA = Schema.from_dict(
    {"properties": {"db": {"properties": {"dsn": {"type": "string", "writeOnly": True}}}}}
)
KEYS = st.sampled_from(["db", "dsn", "password", "api_key", "name", "é", "hosts"])
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
DATA = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=12,
)
DOCS = st.dictionaries(KEYS, DATA, max_size=5)


def snapshot(data: dict[str, Any], version: int, previous: Snapshot | None) -> Snapshot:
    frozen, _ = settle(data, MappingProxyType(previous) if previous is not None else None)
    info = VersionInfo(version, f"c{version}", datetime.now(UTC), "t")
    return Snapshot._from_frozen(frozen, info)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DOCS, min_size=1, max_size=4), st.booleans())
def test_property_bodies_equal_the_reference(docs: list[dict[str, Any]], schema: bool) -> None:
    sensitive = Classifier(SCHEMA if schema else None).sensitive
    bodies = Bodies()
    previous = None
    steps = [d for data in docs for d in (data, {**data, "name": "changed"})]
    for version, data in enumerate(steps, 1):
        snap = snapshot(data, version, previous)
        for secrets in (False, True):
            before = dict(bodies._parts.get(secrets, {}))
            expected = dumps(snap if secrets else redact(snap, sensitive))
            assert bodies._body(snap, secrets, sensitive) == expected
            for k, (value, part) in bodies._parts[secrets].items():
                if k in before and before[k][0] is value:  # shared: its bytes are reused
                    assert part is before[k][1]
        previous = snap
