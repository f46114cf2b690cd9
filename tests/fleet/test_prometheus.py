"""Canaries judged by Prometheus, and release gates, against a real Prometheus (Debian's
``prometheus``, scraping a test exporter every second on loopback) and a real etcd.

Skipped without either binary. One Prometheus serves the whole module; each test sets the
exporter's samples it needs and waits until Prometheus has scraped them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hotconf
from hotconf.cli import main
from hotconf.errors import CheckError, PrometheusError
from hotconf.fleet import publisher as fleet
from hotconf.fleet.prometheus import Prometheus

from ..conftest import config_text, wait_for
from .promserver import Exporter, PrometheusServer, free_port, needs_prometheus
from .test_etcd import ETCD, EtcdServer, follow, publish

pytestmark = [
    needs_prometheus,
    pytest.mark.skipif(
        ETCD is None, reason="etcd is not installed (apt-get install -y etcd-server)"
    ),
]

ERRORS = "errors=sum(app_errors_total) / sum(app_requests_total) <= 0.05"
LATENCY = "latency=max(app_latency_seconds) < 0.5"
TWO_SERIES = (
    'label_replace(vector(1), "x", "1", "", "") or label_replace(vector(1), "x", "2", "", "")'
)


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    exp = Exporter()
    try:
        yield exp
    finally:
        exp.close()


@pytest.fixture(scope="module")
def prom(
    exporter: Exporter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), exporter)
    try:
        yield server
    finally:
        server.stop()


def healthy(exporter: Exporter, prom: PrometheusServer) -> None:
    """The app looks healthy: 1 error in 1000 requests, 0.1 s latency."""
    exporter.put("app_requests_total", 1000)
    exporter.put("app_errors_total", 1)
    exporter.put("app_latency_seconds", 0.1)
    prom.shows("sum(app_errors_total) / sum(app_requests_total)", 0.001)
    prom.shows("max(app_latency_seconds)", 0.1)


def publish_args(config: Path, schema: Path, etcd: EtcdServer, prom: PrometheusServer) -> list[str]:
    return [
        "publish", str(config), "--schema", str(schema), "--etcd", etcd.url, "--name", "app",
        "--prometheus", prom.url, "--poll", "0.05",
    ]  # fmt: skip


@pytest.fixture
def two(etcd: EtcdServer, tmp_path: Path) -> Iterator[list[hotconf.LiveConfig]]:
    """v1 published, two instances following it."""
    publish(etcd.url, config_text(pool=5))
    a = follow(etcd.url, tmp_path / "a", instance="a")
    b = follow(etcd.url, tmp_path / "b", instance="b")
    try:
        with fleet.Fleet(etcd.url, "app") as f:
            wait_for(lambda: len(f.instances()) == 2, what="two instances reporting")
        yield [a, b]
    finally:
        a.close()
        b.close()


def test_the_client_reads_scalars_and_single_samples_and_says_what_else_it_got(
    exporter: Exporter, prom: PrometheusServer
) -> None:
    exporter.put('app_shards{shard="1"}', 1)
    exporter.put('app_shards{shard="2"}', 2)
    prom.shows("sum(app_shards)", 3)
    with Prometheus(prom.url) as client:
        assert client.query("scalar(sum(app_shards))") == 3.0
        assert client.query("sum(app_shards)") == 3.0
        assert client.query("sum(app_never_exported)") is None  # an empty vector: no data
        assert client.query("sum(app_shards) / 0 * 0") is None  # NaN: no data
        with pytest.raises(CheckError, match="2 series") as many:
            client.query("app_shards")
        assert 'app_shards{instance="127.0.0.1:' in many.value.message
        assert "aggregate them" in many.value.message
        with pytest.raises(CheckError, match="returned a matrix"):
            client.query("app_shards[10s]")
        with pytest.raises(CheckError, match="refused the query"):
            client.query("sum(app_shards")
    with (
        Prometheus(f"http://127.0.0.1:{free_port()}") as gone,
        pytest.raises(PrometheusError, match="unreachable"),
    ):
        gone.query("1")


def test_a_canary_judged_by_two_checks_is_promoted(
    etcd: EtcdServer,
    two: list[hotconf.LiveConfig],
    exporter: Exporter,
    prom: PrometheusServer,
    tmp_path: Path,
    schema_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    healthy(exporter, prom)
    config = tmp_path / "v2.yaml"
    config.write_text(config_text(pool=6))
    args = publish_args(config, schema_file, etcd, prom)
    args += ["--canary", "50%", "--check", ERRORS, "--check", LATENCY]
    args += ["--check-interval", "0.5", "--check-count", "3", "--watch"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "canary v2 on 1 of 2 instances" in out
    for n in (1, 2, 3):
        assert f"round {n}: pass: errors=0.001 <= 0.05 pass; latency=0.1 < 0.5 pass" in out
    assert "3/3" not in out and "promoted v2: 3 consecutive rounds passed every check" in out
    wait_for(lambda: [live.version for live in two] == [2, 2], what="v2 everywhere, as v2")
    with fleet.Fleet(etcd.url, "app") as f:
        assert f.pointer("current")[0]["version"] == 2  # type: ignore[index]
        record = f.rollouts()[0]
        assert record["state"] == "promoted" and record["analysis"]["count"] == 3
        rounds = f.rollout(record["id"])["rounds"]
        assert [r["verdict"] for r in rounds] == ["pass"] * 3
        assert rounds[0]["checks"][0] == {
            "name": "errors",
            "query": "sum(app_errors_total) / sum(app_requests_total)",
            "op": "<=",
            "threshold": 0.05,
            "value": 0.001,
            "result": "pass",
            "why": None,
        }


def test_a_failing_check_aborts_the_canary_and_its_instance_returns(
    etcd: EtcdServer,
    two: list[hotconf.LiveConfig],
    exporter: Exporter,
    prom: PrometheusServer,
    tmp_path: Path,
    schema_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    healthy(exporter, prom)
    exporter.put("app_latency_seconds", 2.5)  # the canary is slow
    prom.shows("max(app_latency_seconds)", 2.5)
    config = tmp_path / "v2.yaml"
    config.write_text(config_text(pool=6))
    events: list[hotconf.ChangeEvent] = []
    for live in two:
        live.subscribe(events.append)
    args = publish_args(config, schema_file, etcd, prom)
    args += ["--canary", "instance=a", "--check", ERRORS, "--check", LATENCY]
    assert main([*args, "--check-interval", "0.2", "--check-count", "3", "--watch"]) == 1
    out = capsys.readouterr().out
    assert "round 1: fail: errors=0.001 <= 0.05 pass; latency=2.5 < 0.5 fail" in out
    assert "aborted v2: check latency=2.5 < 0.5 fail (round 1)" in out
    with fleet.Fleet(etcd.url, "app") as f:
        assert f.pointer("current")[0]["version"] == 1  # type: ignore[index]
        assert f.pointer("canary")[0] is None
    a, b = two
    wait_for(lambda: a.version == 1 and a.get("db.pool_size") == 5, what="a back on v1")
    assert b.version == 1 and b.history()[0].version == 1
    # a served the fleet's v2, then went back to v1: numbered as the fleet numbers them
    wait_for(lambda: len(events) == 2, what="a's two events")
    assert [(e.type, e.previous.version, e.current.version) for e in events] == [  # type: ignore[union-attr]
        ("config.changed", 1, 2),
        ("config.rolled_back", 2, 1),
    ]
    assert [v.version for v in a.history()] == [2, 1]  # as the fleet's history has them


def test_no_data_waits_up_to_its_bound_then_aborts(
    etcd: EtcdServer,
    two: list[hotconf.LiveConfig],
    exporter: Exporter,
    prom: PrometheusServer,
    tmp_path: Path,
    schema_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    healthy(exporter, prom)
    config = tmp_path / "v2.yaml"
    config.write_text(config_text(pool=6))
    args = publish_args(config, schema_file, etcd, prom)
    args += ["--canary", "50%", "--check", ERRORS, "--check", "ghost=sum(app_ghost) < 1"]
    args += ["--check-interval", "0.2", "--check-count", "2", "--no-data-timeout", "1", "--watch"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "round 1: nodata: errors=0.001 <= 0.05 pass; ghost: no data" in out
    assert "aborted v2: no conclusive round for 1s (limit 1s): ghost: no data" in out
    with fleet.Fleet(etcd.url, "app") as f:
        assert f.pointer("current")[0]["version"] == 1  # type: ignore[index]


def test_a_gate_refuses_a_release_unless_forced_and_the_version_says_so(
    etcd: EtcdServer,
    exporter: Exporter,
    prom: PrometheusServer,
    tmp_path: Path,
    schema_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    publish(etcd.url, config_text(pool=5))
    exporter.put("app_error_budget_burn_rate", 3.2)  # burning the budget 3x too fast
    prom.shows("max(app_error_budget_burn_rate)", 3.2)
    config = tmp_path / "v2.yaml"
    config.write_text(config_text(pool=6))
    args = publish_args(config, schema_file, etcd, prom)
    args += ["--gate", "burn=max(app_error_budget_burn_rate) <= 1"]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "gate burn: 3.2 <= 1: fail" in captured.out
    assert "not published: the release gate failed" in captured.err
    with fleet.Fleet(etcd.url, "app") as f:
        assert [v["version"] for v in f.versions()] == [1]  # nothing written
    assert main([*args, "--force"]) == 0
    assert "published anyway (--force)" in capsys.readouterr().out
    with fleet.Fleet(etcd.url, "app") as f:
        gate: Any = f.envelope(2).gate
    assert gate["passed"] is False and gate["forced"] is True
    assert gate["checks"][0]["value"] == 3.2 and gate["prometheus"] == prom.url
    exporter.put("app_error_budget_burn_rate", 0.4)
    prom.shows("max(app_error_budget_burn_rate)", 0.4)
    config.write_text(config_text(pool=7))
    assert main(args) == 0
    with fleet.Fleet(etcd.url, "app") as f:
        assert f.envelope(3).gate["passed"] is True  # type: ignore[index]
    assert main(["history", "--etcd", etcd.url, "--name", "app", "--format", "json"]) == 0
    assert '"forced": true' in capsys.readouterr().out


def test_usage_errors_and_an_unreachable_prometheus_exit_2_and_write_nothing(
    etcd: EtcdServer,
    prom: PrometheusServer,
    tmp_path: Path,
    schema_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    publish(etcd.url, config_text(pool=5))
    config = tmp_path / "v2.yaml"
    config.write_text(config_text(pool=6))
    base = publish_args(config, schema_file, etcd, prom)
    gone = f"http://127.0.0.1:{free_port()}"
    cases = [
        (["--check", ERRORS, "--watch"], "--check judges a canary"),
        (["--canary", "50%", "--check", ERRORS], "give --watch too"),
        (["--canary", "50%", "--check", "errors<=1", "--watch"], "want NAME=PROMQL"),
        (["--canary", "50%", "--check", "e=sum(up <= 1", "--watch"], "refused the query"),
        (["--canary", "50%", "--check", f"e={TWO_SERIES} <= 1", "--watch"], "aggregate them"),
        (["--gate", "b=sum(up) <= 1", "--prometheus", gone], "unreachable"),
        (["--canary", "50%", "--check", ERRORS, "--watch", "--prometheus", gone], "unreachable"),
        (["--force"], "--force passes over a failing --gate"),
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    assert main([*base[: base.index("--prometheus")], "--gate", "b=sum(up) <= 1"]) == 2
    assert "--gate and --check need --prometheus" in capsys.readouterr().err
    with fleet.Fleet(etcd.url, "app") as f:
        assert [v["version"] for v in f.versions()] == [1]
