"""A service-style example: a worker loop that reads its configuration live.

Run it, then edit config.yaml in another terminal::

    python examples/service/app.py

A good edit shows up on the next tick; a bad one (``pool_size: 0``, a typo in a key,
broken YAML) is rejected with the reason and the worker keeps the last-known-good.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

import hotconf

HERE = Path(__file__).resolve().parent


def on_db_change(event: hotconf.ChangeEvent) -> None:
    # Called in its own thread after the new version is live: reconnect here.
    print(f"db settings changed in v{event.version}: {', '.join(event.changed)}", flush=True)


def on_rejection(rejection: hotconf.Rejection) -> None:
    for problem in rejection.problems:
        print(f"rejected: {problem}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE / "config.yaml"))
    parser.add_argument("--schema", default=str(HERE / "config.schema.json"))
    parser.add_argument("--state-dir", help="default: .hotconf next to the config")
    parser.add_argument("--ticks", type=int, default=0, help="stop after N ticks (0: never)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    kwargs = {"state_dir": args.state_dir} if args.state_dir else {}
    with hotconf.watch(args.config, schema=args.schema, **kwargs) as live:
        live.subscribe(on_db_change, keys=["db.*"])
        live.on_rejection(on_rejection)
        tick = 0
        while not stop.is_set():
            config = live.current  # one snapshot per unit of work: never half old, half new
            batch = live.get("worker.batch_size", default=50)
            beta = live.get("features.new_checkout", default=False)
            print(
                f"tick {tick}: v{config.version} pool_size={config['db']['pool_size']} "
                f"batch_size={batch} new_checkout={beta}",
                flush=True,
            )
            tick += 1
            if args.ticks and tick >= args.ticks:
                break
            stop.wait(config["worker"]["interval_seconds"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
