"""Settings of the fuzz targets: brief and deterministic in CI, as long as asked on demand.

``HOTCONF_FUZZ_EXAMPLES=N`` runs N examples per target with fresh randomness
(``scripts/fuzz`` sets it); without it each target runs a fixed, derandomized set in a few
seconds.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_ON_DEMAND = int(os.environ.get("HOTCONF_FUZZ_EXAMPLES", "0"))

FUZZ = settings(
    max_examples=_ON_DEMAND or 300,
    derandomize=not _ON_DEMAND,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
FUZZ_SLOW = settings(FUZZ, max_examples=_ON_DEMAND or 100)  # the targets that cost more each
