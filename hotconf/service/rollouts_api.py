"""``GET /v1/rollouts``: canary rollouts, in process and (with an `EtcdSource`) in the fleet;
``POST /v1/rollouts/promote`` and ``/v1/rollouts/abort``: decide the running in-process one
(``hotconf rollout promote|abort --url``).

In process: ``live.rollouts()``, newest first, each as ``Rollout.status()``. With an
`EtcdSource`, ``fleet`` adds the source's connection (``status()``) and the fleet's running
canary (`EtcdSource.rollout_status`: two etcd reads). While the watch is disconnected the
fleet is not asked (a request would wait out etcd's timeout): ``rollout`` is then ``null``
and ``error`` says why, and the local view (what this instance serves) is all there is.
A fleet's canary is decided in etcd (``hotconf rollout promote|abort --etcd``), not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..errors import ClosedError, HotconfError, RolloutError
from ..live.config import LiveConfig
from ..webhooks.subscribers import redact_url
from .config_api import public_checksums
from .http import ApiError, bad_request, json_body, json_response

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
        """``GET /v1/rollouts``: in-process rollouts, newest first, and the fleet's canary
        (checksums as keyed fingerprints for a caller without a token)."""
        live = self.service.live
        body = {
            "rollouts": [r.status() for r in live.rollouts()],
            "fleet": await run_in_threadpool(fleet_view, live),
        }
        return json_response(public_checksums(body, self.service.auth.sees_secrets(request)))

    async def promote(self, request: Request) -> Response:
        """``POST /v1/rollouts/promote {"id", "reason"}``: promote the running rollout."""
        return await self._decide(request, "promote")

    async def abort(self, request: Request) -> Response:
        """``POST /v1/rollouts/abort {"id", "reason"}``: abort the running rollout."""
        return await self._decide(request, "abort")

    async def _decide(self, request: Request, what: str) -> Response:
        service = self.service
        service.auth.require_admin(request)
        live = service.live_for_change()
        body = await json_body(request)
        ident, reason = body.get("id"), body.get("reason", f"{what}d by hand")
        if ident is not None and not isinstance(ident, str):
            raise bad_request("id must be a rollout id (a string), or absent")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
            raise bad_request("reason must be a non-empty string of at most 500 characters")
        running = next((r for r in live.rollouts() if r.state == "running"), None)
        if running is None:
            raise ApiError(404, "no-rollout", "No rollout", "no rollout is running here")
        if ident is not None and ident != running.id:
            raise ApiError(
                409, "rollout-moved", "Another rollout", f"rollout {running.id} runs, not {ident}"
            )
        decide = running.promote if what == "promote" else running.abort
        try:
            await run_in_threadpool(decide, reason)
        except RolloutError as exc:
            raise ApiError(409, "rollout-refused", f"Not {what}d", exc.message) from None
        except ClosedError:
            raise service.not_ready() from None
        except HotconfError as exc:  # the fleet (etcd) could not be reached to promote
            raise ApiError(503, "rollout-failed", f"Not {what}d", exc.message) from None
        return json_response({"rollout": running.status()})
