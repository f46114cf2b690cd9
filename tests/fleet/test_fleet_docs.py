"""docs/fleet.md's worked example, run: real etcd, a real Prometheus scraping an exporter of
the series the example names every second, two instances in process, and each ``hotconf``
command of the example (with ``--check-interval 0.5`` for 30), checked against the exit
code and the lines the page shows."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

import hotconf
from hotconf.cli import main
from hotconf.fleet import publisher as fleet
from hotconf.sources.etcd import EtcdSource

from ..conftest import wait_for
from .promserver import Exporter, PrometheusServer, needs_prometheus
from .test_etcd import ETCD, FAST, EtcdServer

pytestmark = [
    needs_prometheus,
    pytest.mark.skipif(
        ETCD is None, reason="etcd is not installed (apt-get install -y etcd-server)"
    ),
]

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "fleet.md").read_text()
EXAMPLE = PAGE[PAGE.index("## A worked example") : PAGE.index("## Why not etcd3gw")]
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", EXAMPLE, flags=re.S)
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", re.M)
ROLLOUT = re.compile(r"\br[0-9a-f]{8}\b")


def shown(text: str) -> list[str]:
    """The lines as the page shows them, without time stamps and rollout ids."""
    return [ROLLOUT.sub("rID", line) for line in STAMP.sub("", text).strip().splitlines()]


@pytest.fixture
def shop(etcd: EtcdServer, tmp_path: Path) -> Iterator[tuple[Exporter, PrometheusServer]]:
    exporter = Exporter()
    (tmp_path / "prometheus").mkdir()
    prom = PrometheusServer(tmp_path / "prometheus", exporter)
    try:
        yield exporter, prom
    finally:
        prom.stop()
        exporter.close()


def test_the_worked_example_runs_as_the_page_says(
    etcd: EtcdServer,
    shop: tuple[Exporter, PrometheusServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exporter, prom = shop
    monkeypatch.chdir(tmp_path)
    schema = next(body for lang, body in BLOCKS if lang == "json")
    (tmp_path / "shop.schema.json").write_text(schema)
    for n, pool in enumerate((5, 6, 7, 8), 1):
        (tmp_path / f"v{n}.yaml").write_text(f"db: {{host: db.local, pool_size: {pool}}}\n")
    for track in ("canary", "main"):  # 0.2% errors, 120 ms at p99
        exporter.grow(f'app_requests_total{{track="{track}"}}', 500.0)
        exporter.grow(f'app_errors_total{{track="{track}"}}', 1.0)
        exporter.put(f'app_request_duration_seconds{{quantile="0.99",track="{track}"}}', 0.12)
    exporter.put("slo:error_budget_burn_rate:1h", 0.4)
    errors = 'sum(rate(app_errors_total{track="canary"}[1m]))'
    wait_for(lambda: prom.value(errors) is not None, timeout=30, what="two scrapes of the rates")

    def when(step: int) -> None:  # what the prose before each command says
        p99 = 'app_request_duration_seconds{quantile="0.99",track="canary"}'
        if step == 2:  # v3 makes the canary slow
            exporter.put(p99, 0.9)
            prom.shows(f"max({p99})", 0.9)
        if step == 3:  # an incident burns the error budget
            exporter.put("slo:error_budget_burn_rate:1h", 3.2)
            prom.shows("max(slo:error_budget_burn_rate:1h)", 3.2)

    instances: list[hotconf.LiveConfig] = []
    commands = [(i, body) for i, (lang, body) in enumerate(BLOCKS) if lang == "sh"]
    try:
        for step, (index, body) in enumerate(commands):
            when(step)
            line = body.split("\n# exits ")[0].replace("\\\n", " ")
            argv = shlex.split(line.replace("$ETCD", etcd.url).replace("$PROM", prom.url))
            argv = [a if a != "30" else "0.5" for a in argv]  # --check-interval 30
            assert argv[0] == "hotconf"
            expected = int(body.split("\n# exits ")[1].strip())
            assert main(argv[1:]) == expected, body
            out = capsys.readouterr()
            following = BLOCKS[index + 1] if index + 1 < len(BLOCKS) else ("", "")
            if following[0] == "text":
                printed = shown(out.out + out.err)
                for wanted in shown(following[1]):
                    assert wanted in printed, (wanted, printed)
            if step == 0:  # the page starts the instances after v1 (hotconf serve)
                for ident, track in (("shop-1", "canary"), ("shop-2", "main")):
                    source = EtcdSource(
                        etcd.url, name="shop", instance=ident, labels={"track": track}, **FAST
                    )  # type: ignore[arg-type]
                    instances.append(
                        hotconf.watch(source, schema=json.loads(schema), state_dir=None)
                    )
                with fleet.Fleet(etcd.url, "shop") as f:
                    wait_for(lambda: len(f.instances()) == 2, what="the instances' reports")
            if step == 1:
                wait_for(lambda: [i.version for i in instances] == [2, 2], what="v2 on both")
            if step == 2:
                wait_for(lambda: instances[0].version == 2, what="shop-1 back on v2")
                assert [v.version for v in instances[0].history()] == [3, 2, 1]
        with fleet.Fleet(etcd.url, "shop") as f:
            assert f.pointer("current")[0]["version"] == 2  # type: ignore[index]
            assert [v["version"] for v in f.versions()] == [3, 2, 1]  # v4 was refused
    finally:
        for live in instances:
            live.close()
