"""A process killed with SIGKILL in the middle of reloads restarts on a valid LKG."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import hotconf
from hotconf.pipeline.snapshot import checksum
from hotconf.store.history import Store
from hotconf.testing import MemorySource

CHILD = textwrap.dedent(
    """
    import sys
    import hotconf
    from hotconf.testing import MemorySource

    source = MemorySource({"n": 0, "payload": ""})
    live = hotconf.watch(source, state_dir=sys.argv[1], validators=[lambda c: []])
    n = live.current["n"]
    while True:
        n += 1
        source.set({"n": n, "payload": str(n) * 2000, "items": list(range(n % 50))})
        assert live.current["n"] == n
        print(live.version, flush=True)
    """
)


def test_sigkill_during_reloads_leaves_valid_lkg_and_contiguous_history(tmp_path: Path) -> None:
    state = tmp_path / "state"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    for round_ in range(3):
        child = subprocess.Popen(
            [sys.executable, str(script), str(state)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        announced = 0
        for line in child.stdout:
            announced = int(line)
            if announced >= 40 * (round_ + 1):
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL

        store = Store.open(state)
        try:
            history = store.history()
            versions = [v.version for v in history]
            assert versions == list(range(len(versions), 0, -1)), "history has a gap"
            assert versions[0] >= announced  # every announced version is durable
            for info in history:
                stored = store.get(info.version)
                assert checksum(stored.data) == info.checksum
        finally:
            store.close()

    # Restart with a broken source: the LKG is served, whole.
    with hotconf.watch(MemorySource("n: [unclosed"), state_dir=state) as live:
        assert live.degraded
        assert live.current.checksum == checksum(live.current.to_dict())
        n = live.current["n"]
        assert live.current["payload"] == str(n) * 2000
        assert json.loads(json.dumps(live.current.to_dict()))["n"] == n
