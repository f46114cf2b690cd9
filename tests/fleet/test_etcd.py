"""Fleet mode against a real etcd started here (loopback ports, data in a temp dir).

Needs the ``etcd`` binary (Debian: ``apt-get install -y etcd-server``); skipped without it.
Instances are in-process `LiveConfig`s on `EtcdSource`s, or subprocesses running
`instance_main` below where the issue asks for them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import hotconf
from hotconf.cli import main
from hotconf.fleet import publisher as fleet
from hotconf.fleet.etcd import Etcd, put_op
from hotconf.sources.etcd import EtcdSource

from ..conftest import SCHEMA, config_text, wait_for

ROOT = Path(__file__).resolve().parents[2]
ETCD = shutil.which("etcd")
pytestmark = pytest.mark.skipif(
    ETCD is None, reason="etcd is not installed (Debian: apt-get install -y etcd-server)"
)
FAST = {"report_interval": 0.1, "lease_ttl": 3, "backoff": (0.05, 0.5)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class EtcdServer:
    """One etcd member on loopback, its data in a temp dir; stop and start it at will."""

    def __init__(self, root: Path) -> None:
        self.data = root / "etcd-data"
        self.client, self.peer = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.client}"
        self.log = root / "etcd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert ETCD is not None
        peer = f"http://127.0.0.1:{self.peer}"
        args = [
            ETCD,
            "--name=default",
            f"--data-dir={self.data}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.healthy, timeout=30, what="etcd to become healthy")

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"etcd exited: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1).json().get("health") == "true"
        except (httpx.HTTPError, ValueError):
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def publish(url: str, text: str, **options: Any) -> fleet.PublishResult:
    schema = hotconf.Schema.from_dict(SCHEMA)
    return fleet.publish(url, "app", text.encode(), schema=schema, **options)


def follow(url: str, state_dir: Path | None, **options: Any) -> hotconf.LiveConfig:
    source = EtcdSource(url, name="app", **{**FAST, **options})
    return hotconf.watch(source, schema=SCHEMA, state_dir=state_dir)


# -- publish and follow, in process ------------------------------------------------------


def test_publish_then_instances_follow(etcd: EtcdServer, tmp_path: Path) -> None:
    first = publish(etcd.url, config_text(pool=5))
    assert (first.status, first.version, first.previous) == ("published", 1, None)
    with follow(etcd.url, tmp_path / "a", instance="a") as a, follow(etcd.url, None) as b:
        assert a.get("db.pool_size") == b.get("db.pool_size") == 5
        second = publish(etcd.url, config_text(pool=7))
        assert (second.status, second.version, second.previous) == ("published", 2, 1)
        assert second.report.changes[0].pointer == "/db/pool_size"
        wait_for(lambda: a.get("db.pool_size") == b.get("db.pool_size") == 7, what="v2")
        assert a.history()[0].checksum == second.report.new_checksum
        source = a._source
        assert isinstance(source, EtcdSource)
        wait_for(lambda: source.status()["serving"] == 2, what="the report of v2")
        with fleet.Fleet(etcd.url, "app") as f:
            wait_for(lambda: sorted(i.serving or 0 for i in f.instances()) == [2, 2])
            assert [v["version"] for v in f.versions()] == [2, 1]


def test_publish_holds_invalid_risky_and_noop(etcd: EtcdServer) -> None:
    assert publish(etcd.url, config_text(pool=5)).status == "published"
    held = publish(etcd.url, config_text(pool=0))
    assert (held.status, held.version, held.report.level) == ("held", None, "breaking")
    assert held.report.problems[0].path == "/db/pool_size"
    risky = publish(etcd.url, config_text(pool=500), fail_on="risky")  # 100x: risky
    assert risky.status == "held" and risky.report.level == "risky"
    same = publish(etcd.url, "db: {pool_size: 5, host: db.local}\n")
    assert (same.status, same.version) == ("noop", 1)
    with fleet.Fleet(etcd.url, "app") as f:
        assert [v["version"] for v in f.versions()] == [1]  # nothing else was written


def test_concurrent_publishes_exactly_one_wins(etcd: EtcdServer) -> None:
    publish(etcd.url, config_text(pool=1))
    racers = 6
    gate = threading.Barrier(racers)

    class Racing(fleet.Fleet):
        def _commit(self, guard: Any, writes: Any, what: str) -> int:
            gate.wait(timeout=30)  # all have read the same pointer: now all commit at once
            return super()._commit(guard, writes, what)

    results: list[object] = []

    def race(n: int) -> None:
        with Racing(etcd.url, "app") as f:
            try:
                results.append(f.publish(config_text(pool=10 + n).encode()))
            except hotconf.PublishConflictError as exc:
                results.append(exc)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    won = [r for r in results if isinstance(r, fleet.PublishResult)]
    lost = [r for r in results if isinstance(r, hotconf.PublishConflictError)]
    assert (len(won), len(lost)) == (1, racers - 1)
    assert "lost a race" in lost[0].message and "nothing was written" in lost[0].message
    with fleet.Fleet(etcd.url, "app") as f:
        ptr, _ = f.pointer("current")
        assert ptr is not None and ptr["version"] == won[0].version == 2
        assert [v["version"] for v in f.versions()] == [2, 1]


def test_rollback_is_a_new_version_and_instances_follow(etcd: EtcdServer) -> None:
    publish(etcd.url, config_text(pool=5))
    publish(etcd.url, config_text(pool=7))
    with follow(etcd.url, None) as live:
        result = fleet.rollback(etcd.url, "app", schema=hotconf.Schema.from_dict(SCHEMA))
        assert (result.version, result.previous) == (3, 2)
        wait_for(lambda: live.get("db.pool_size") == 5, what="the rollback")
        with fleet.Fleet(etcd.url, "app") as f:
            env = f.envelope(3)
            assert (env.restores, env.rolled_back_from, env.source) == (1, 2, "rollback to v1")
        again = fleet.rollback(etcd.url, "app", to=3)
        assert again.status == "noop"
        with pytest.raises(hotconf.VersionNotFoundError):
            fleet.rollback(etcd.url, "app", to=9)


def test_an_instance_serves_the_fleets_version_numbers(etcd: EtcdServer, tmp_path: Path) -> None:
    for pool in (5, 6, 7):
        publish(etcd.url, config_text(pool=pool))
    secret = hotconf.webhooks.new_secret()
    hook = hotconf.Subscriber("http://127.0.0.1:9/hook", secret, allow_private=True, name="r")
    source = EtcdSource(etcd.url, name="app", instance="a", **FAST)  # type: ignore[arg-type]
    with hotconf.watch(source, schema=SCHEMA, state_dir=tmp_path / "a", webhooks=[hook]) as live:
        assert (live.version, [v.version for v in live.history()]) == (3, [3])
        publish(etcd.url, config_text(pool=8))
        wait_for(lambda: live.version == 4, what="v4")
        fleet.rollback(etcd.url, "app", to=3, schema=hotconf.Schema.from_dict(SCHEMA))
        wait_for(lambda: live.version == 5, what="the fleet's rollback, v5")
        assert live.get("db.pool_size") == 7 and [v.version for v in live.history()] == [5, 4, 3]
        with fleet.Fleet(etcd.url, "app") as f:
            assert [v["version"] for v in f.versions(3)] == [5, 4, 3]
        wait_for(lambda: source.status()["serving"] == 5, what="the report of v5")
        assert live.webhooks is not None
        announced = [(d.type, d.version) for d in reversed(live.webhooks.deliveries())]
        assert announced == [("config.changed", 4), ("config.changed", 5)]

        # a canary instance that goes back to the stable version says so, under its number
        publish(etcd.url, config_text(pool=9), canary="instance=a")
        wait_for(lambda: live.version == 6, what="the canary v6 on a")
        with fleet.Fleet(etcd.url, "app") as f:
            f.abort("testing")
        wait_for(lambda: live.version == 5, what="a back on v5")
        assert [v.version for v in live.history()] == [6, 5, 4, 3]
        wait_for(lambda: len(live.webhooks.deliveries()) == 4)  # type: ignore[union-attr]
        back = live.webhooks.deliveries()[0]  # type: ignore[union-attr]
        assert (back.type, back.version) == ("config.rolled_back", 5)
    etcd.stop()  # restarted without etcd, it serves what it served last: v5, not v6
    with follow(etcd.url, tmp_path / "a", instance="a") as again:
        assert (again.version, again.get("db.pool_size"), again.degraded) == (5, 7, True)


def test_a_local_rollback_on_a_fleet_instance_points_at_the_fleet(etcd: EtcdServer) -> None:
    publish(etcd.url, config_text(pool=5))
    publish(etcd.url, config_text(pool=6))
    with follow(etcd.url, None) as live:
        with pytest.raises(hotconf.SourceError, match="hotconf rollback --etcd"):
            live.rollback(1)
        assert live.version == 2


def test_an_in_process_rollout_on_a_fleet_instance_promotes_through_the_fleet(
    etcd: EtcdServer,
) -> None:
    publish(etcd.url, config_text(pool=5))
    with follow(etcd.url, None, instance="a") as a, follow(etcd.url, None, instance="b") as b:
        rollout = a.rollout(config_text(pool=6).encode(), fraction=0.5)
        assert rollout.scope == "fleet" and rollout.status()["scope"] == "fleet"
        assert b.version == 1  # judged on a's traffic only: b serves v1 meanwhile
        rollout.promote()
        assert (a.version, rollout.promoted_version) == (2, 2)  # the fleet's v2
        wait_for(lambda: b.version == 2 and b.get("db.pool_size") == 6, what="b follows")
        with fleet.Fleet(etcd.url, "app") as f:
            env = f.envelope(2)
            assert env.publisher == "a (in-process rollout)" and env.previous == 1
            assert f.pointer("current")[0]["version"] == 2  # type: ignore[index]
        assert a.history()[0].version == 2 and len(a.history()) == 2  # no duplicate v3

        # the fleet moved on meanwhile: the promotion is refused and the rollout aborted
        late = a.rollout(config_text(pool=7).encode())
        publish(etcd.url, config_text(pool=8))
        with pytest.raises(hotconf.RolloutError):
            late.promote()
        assert late.state == "aborted"
        wait_for(lambda: a.version == 3 and a.get("db.pool_size") == 8, what="a on the fleet's v3")


# -- rejection, compaction, outages ------------------------------------------------------


def test_a_corrupted_version_is_rejected_and_the_lkg_kept(etcd: EtcdServer) -> None:
    publish(etcd.url, config_text(pool=5))
    with follow(etcd.url, None) as live, Etcd(etcd.url) as raw:
        good = fleet.Fleet(raw, "app")
        env = json.loads(raw.get(good.keys.version(1)).value)  # type: ignore[union-attr]
        env.update(version=2, config=config_text(pool=6))  # sha256 no longer matches
        raw.txn(
            [],
            [
                put_op(good.keys.version(2), json.dumps(env).encode()),
                put_op(good.keys.current, b'{"version": 2}'),
            ],
        )
        wait_for(lambda: live.last_rejection is not None, what="the rejection")
        assert live.last_rejection is not None
        assert live.last_rejection.problems[0].code == "integrity"
        assert "sha256" in live.last_rejection.problems[0].message
        assert live.get("db.pool_size") == 5 and live.degraded
        # a well-formed envelope whose config fails the schema: rejected by the pipeline
        bad = fleet.Envelope("app", 3, "yaml", config_text(pool=0).encode(), "x", "", "test")
        raw.txn(
            [],
            [
                put_op(good.keys.version(3), bad.encode()),
                put_op(good.keys.current, b'{"version":3}'),
            ],
        )
        wait_for(lambda: live.last_rejection.problems[0].path == "/db/pool_size")  # type: ignore[union-attr]
        assert live.get("db.pool_size") == 5
        with fleet.Fleet(etcd.url, "app") as f:
            wait_for(lambda: [i.rejected for i in f.instances()] == [3], what="the report")
        assert publish(etcd.url, config_text(pool=8)).version == 4  # a fix goes through
        wait_for(lambda: live.get("db.pool_size") == 8 and not live.degraded)


def test_a_compacted_watch_relists(etcd: EtcdServer) -> None:
    publish(etcd.url, config_text(pool=5))

    class Racy(EtcdSource):
        raced = False

        def read(self) -> tuple[hotconf.RawDocument, ...]:
            docs = super().read()
            if not self.raced:  # between start-up's list and the watch: publish, compact
                self.raced = True
                publish(etcd.url, config_text(pool=6))
                with Etcd(etcd.url) as raw:
                    raw.put("/elsewhere", b"x")  # so that the compaction passes v2's revision
                    raw.compact(raw.range("/").revision)
            return docs

    source = Racy(etcd.url, name="app", **FAST)  # type: ignore[arg-type]
    with hotconf.watch(source, schema=SCHEMA, state_dir=None) as live:
        wait_for(lambda: live.get("db.pool_size") == 6, what="the re-list after compaction")
        assert source.compactions == 1
        publish(etcd.url, config_text(pool=7))  # and it watches on from there
        wait_for(lambda: live.get("db.pool_size") == 7)


def test_etcd_down_at_start_serves_the_lkg_then_catches_up(
    etcd: EtcdServer, tmp_path: Path
) -> None:
    publish(etcd.url, config_text(pool=5))
    with follow(etcd.url, tmp_path / "state") as live:
        assert live.get("db.pool_size") == 5
    etcd.stop()
    with follow(etcd.url, tmp_path / "state") as live:
        assert live.get("db.pool_size") == 5 and live.degraded  # the LKG, from the store
        etcd.start()
        publish(etcd.url, config_text(pool=9))
        wait_for(lambda: live.get("db.pool_size") == 9 and not live.degraded, what="catch-up")


def test_nothing_published_and_no_lkg_fails_fast(etcd: EtcdServer) -> None:
    with pytest.raises(hotconf.NoValidConfigError) as err:
        follow(etcd.url, None)
    assert "nothing is published" in str(err.value.problems[0])


# -- the command -------------------------------------------------------------------------


def test_publish_command(
    etcd: EtcdServer, tmp_path: Path, schema_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    base = ["publish", str(config), "--schema", str(schema_file), "--etcd", etcd.url]
    config.write_text(config_text(pool=5))
    assert main([*base, "--name", "app"]) == 0
    assert "published app v1" in capsys.readouterr().out
    config.write_text(config_text(pool=50))
    assert main([*base, "--name", "app", "--fail-on", "risky"]) == 1
    out, err = capsys.readouterr()
    assert "risky" in out and "/db/pool_size" in out and "not published" in err
    config.write_text(config_text(pool=0))
    assert main([*base, "--name", "app"]) == 1
    assert "/db/pool_size" in capsys.readouterr().out
    assert main([*base, "--name", "app", "--etcd", "http://127.0.0.1:9"]) == 2
    assert "unreachable" in capsys.readouterr().err


# -- subprocess instances ----------------------------------------------------------------


def instance_main() -> None:
    """An instance: follows etcd, simulates requests (failing while ``features.explode`` is
    on), prints a line per served version, and answers ``?`` on stdin with its state."""
    url, ident, state_dir = sys.argv[1:4]
    source = EtcdSource(url, name="app", instance=ident, **FAST)  # type: ignore[arg-type]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def state(live: hotconf.LiveConfig) -> str:
        snap = live.current
        return f"pool={snap['db']['pool_size']} serving={source.serving()} degraded={live.degraded}"

    with hotconf.watch(source, schema=SCHEMA, state_dir=state_dir) as live:
        live.subscribe(lambda e: print(f"applied {state(live)}", flush=True))

        def answer() -> None:
            for line in sys.stdin:
                if line.startswith("?"):  # "? n=3": answer with the state and the tag
                    print(f"state {state(live)} {line[1:].strip()}", flush=True)

        threading.Thread(target=answer, daemon=True).start()
        print(f"started {state(live)}", flush=True)
        while not stop.wait(0.002):
            features = live.current.get("features") or {}
            source.record(not features.get("explode", False))


class Instance:
    def __init__(self, url: str, ident: str, state_dir: Path) -> None:
        self.ident = ident
        code = "from tests.fleet.test_etcd import instance_main; instance_main()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, url, ident, str(state_dir)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        stream = self.proc.stdout
        self._reader = threading.Thread(
            target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True
        )
        self._reader.start()
        self._asked = 0

    def ask(self) -> str:
        """The instance's state, as it answers now (proves it is alive and serving)."""
        assert self.proc.stdin is not None
        self._asked += 1
        tag = f"n={self._asked}"
        self.proc.stdin.write(f"? {tag}\n")
        self.proc.stdin.flush()
        wait_for(lambda: any("state" in ln and ln.endswith(f" {tag}\n") for ln in self.lines))
        return next(ln for ln in self.lines if "state" in ln and ln.endswith(f" {tag}\n"))

    def seen(self, needle: str) -> bool:
        return any(needle in line for line in self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def instances(etcd: EtcdServer, tmp_path: Path) -> Iterator[list[Instance]]:
    publish(etcd.url, config_text(pool=5))
    procs = [Instance(etcd.url, f"i{n}", tmp_path / f"i{n}") for n in range(3)]
    try:
        for p in procs:
            wait_for(lambda p=p: p.seen("started pool=5"), timeout=60, what="instance start")  # type: ignore[misc]
        yield procs
    finally:
        for p in procs:
            p.stop()


def test_three_instances_follow_survive_an_outage_and_catch_up(
    etcd: EtcdServer, instances: list[Instance]
) -> None:
    publish(etcd.url, config_text(pool=6))
    for p in instances:
        wait_for(lambda p=p: p.seen("applied pool=6 serving=2"), what="v2 everywhere")  # type: ignore[misc]
    etcd.stop()
    for p in instances:
        assert "pool=6" in p.ask()  # etcd is gone: still serving
    etcd.start()
    publish(etcd.url, config_text(pool=7))
    for p in instances:
        wait_for(lambda p=p: p.seen("applied pool=7 serving=3"), what="catch-up")  # type: ignore[misc]
        assert "degraded=False" in p.ask()


def test_a_canary_to_one_of_three_is_promoted_then_one_is_rolled_back(
    etcd: EtcdServer,
    instances: list[Instance],
    tmp_path: Path,
    schema_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with fleet.Fleet(etcd.url, "app") as f:
        wait_for(lambda: len(f.instances()) == 3, what="three instances reporting")
    config = tmp_path / "good.yaml"
    config.write_text(config_text(pool=6, extra="features:\n  explode: false\n"))
    args = ["publish", str(config), "--schema", str(schema_file), "--etcd", etcd.url]
    args += ["--name", "app", "--canary", "10%", "--min-samples", "50", "--watch"]
    assert main([*args, "--budget", "0.05", "--poll", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "canary v2 on 1 of 3 instances" in out and "promoted" in out
    for p in instances:
        wait_for(lambda p=p: p.seen("pool=6 serving=2"), what="v2 everywhere")  # type: ignore[misc]

    bad = config_text(pool=7, extra="features:\n  explode: true\n")
    started = publish(etcd.url, bad, canary="10%", min_samples=50, budget=0.05)
    assert started.status == "canary" and len(started.instances) == 1
    canary = next(p for p in instances if p.ident == started.instances[0])
    wait_for(lambda: canary.seen("pool=7 serving=3"), what="the canary instance on v3")
    with fleet.Fleet(etcd.url, "app") as f:
        final = f.watch_rollout(poll=0.1, timeout=60)
        assert final["state"] == "aborted" and "over stable + budget" in final["reason"]
        ptr, _ = f.pointer("current")
        assert ptr is not None and ptr["version"] == 2 and f.pointer("canary")[0] is None
    wait_for(lambda: "pool=6 serving=2" in canary.ask(), what="the canary back on v2")
    assert all("pool=6" in p.ask() for p in instances)


if __name__ == "__main__":
    instance_main()
