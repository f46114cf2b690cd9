"""``GET /v1/rollouts``: canary rollouts, in process and (with an `EtcdSource`) in the fleet.

In process: ``live.rollouts()``, newest first, each as ``Rollout.status()``. With an
`EtcdSource`, ``fleet`` adds the source's connection (``status()``) and the fleet's running
canary (`EtcdSource.rollout_status`: two etcd reads). While the watch is disconnected the
fleet is not asked (a request would wait out etcd's timeout): ``rollout`` is then ``null``
and ``error`` says why, and the local view (what this instance serves) is all there is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..errors import HotconfError
from ..live.config import LiveConfig
from ..webhooks.subscribers import redact_url
from .http import json_response

if TYPE_CHECKING:
    from .app import Service


def fleet_view(live: LiveConfig) -> dict[str, Any] | None:
    """The fleet part of ``GET /v1/rollouts`` (``None`` unless the source is on etcd)."""
    source = live.source
    status_of = getattr(source, "status", None)
    rollout_of = getattr(source, "rollout_status", None)
    if status_of is None or rollout_of is None:
        return None
    status: dict[str, Any] = dict(status_of())
    status["url"] = ",".join(redact_url(u) for u in str(status.get("url", "")).split(","))
    rollout: dict[str, Any] | None = None
    error: str | None = None
    if not status.get("connected"):
        error = "the etcd watch is not connected: this instance's own view only"
    else:
        try:
            rollout = rollout_of()
        except HotconfError as exc:
            error = f"cannot read the fleet's canary: {exc.message}"
    return {"etcd": status, "rollout": rollout, "error": error}


class RolloutsApi:
    """The rollout endpoint of one `Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def rollouts(self, request: Request) -> Response:
        """``GET /v1/rollouts``: in-process rollouts, newest first, and the fleet's canary."""
        live = self.service.live
        body = {
            "rollouts": [r.status() for r in live.rollouts()],
            "fleet": await run_in_threadpool(fleet_view, live),
        }
        return json_response(body)
