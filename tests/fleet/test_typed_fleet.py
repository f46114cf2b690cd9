"""Fleet mode with typed instances: they validate with their model and fill its defaults in,
whatever the publisher's contract, and still report which version they serve."""

from __future__ import annotations

import pytest

import hotconf
from hotconf.fleet import publisher as fleet
from hotconf.sources.etcd import EtcdSource

from ..conftest import wait_for
from ..models import AppConfig
from .test_etcd import ETCD, FAST, EtcdServer

pytestmark = pytest.mark.skipif(
    ETCD is None, reason="etcd is not installed (Debian: apt-get install -y etcd-server)"
)


def test_typed_instances_report_the_version_they_serve(etcd: EtcdServer) -> None:
    # Published without a contract: the envelope's checksum is that of the config as written;
    # the instance's snapshot holds its model's defaults too, so its checksum differs.
    first = fleet.publish(etcd.url, "app", b"name: api\n")
    source = EtcdSource(etcd.url, name="app", instance="typed", **FAST)  # type: ignore[arg-type]
    with hotconf.watch(source, model=AppConfig, state_dir=None) as live:
        assert isinstance(live.current, AppConfig) and live.get("db.pool_size") == 10
        assert live.snapshot().checksum != first.report.new_checksum
        wait_for(lambda: source.status()["serving"] == 1, what="the report of v1")
        fleet.publish(etcd.url, "app", b"name: api2\n")
        wait_for(lambda: live.current.name == "api2", what="v2 served")
        wait_for(lambda: source.status()["serving"] == 2, what="the report of v2")
        with fleet.Fleet(etcd.url, "app") as f:
            wait_for(lambda: [i.serving for i in f.instances()] == [2], what="etcd sees v2")
        invalid = fleet.publish(etcd.url, "app", b"name: has space\n")
        assert invalid.status == "published"  # the publisher knew no model
        wait_for(lambda: live.last_rejection is not None, what="the instance refuses it")
        assert live.current.name == "api2" and source.status()["serving"] == 2
        with fleet.Fleet(etcd.url, "app") as f:
            wait_for(lambda: [i.rejected for i in f.instances()] == [3], what="the refusal")


def test_publishing_with_the_model_checksums_the_effective_config(etcd: EtcdServer) -> None:
    first = fleet.publish(etcd.url, "app", b"name: api\n", model=AppConfig)
    source = EtcdSource(etcd.url, name="app", instance="typed", **FAST)  # type: ignore[arg-type]
    with hotconf.watch(source, model=AppConfig, state_dir=None) as live:
        assert live.snapshot().checksum == first.report.new_checksum
    same = fleet.publish(etcd.url, "app", b"name: api\nmode: safe\n", model=AppConfig)
    assert (same.status, same.version) == ("noop", 1)
    held = fleet.publish(etcd.url, "app", b"name: api\ndb: {pool_size: 0}\n", model=AppConfig)
    assert held.status == "held" and held.report.problems[0].path == "/db/pool_size"
