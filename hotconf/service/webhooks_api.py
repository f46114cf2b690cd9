"""Webhook endpoints: the subscribers (``/v1/subscriptions``) and the outbox (``/v1/deliveries``,
and ``POST /v1/deliveries/{id}/redeliver`` for a dead or failed one).

They call `hotconf.webhooks.Webhooks` (``live.webhooks``), and answer 404 when the config is
served without webhooks. Listings carry no secret: a subscriber's URL is shown with its
userinfo and query redacted, and its signing secret never. Adding a subscriber takes the
secret from the caller (``hotconf.webhooks.new_secret()`` makes one) rather than making one
to send back: a secret never leaves the server (docs/architecture.md, invariant 8).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..live.config import LiveConfig
from ..webhooks.manager import (
    DELIVERY_STATUSES,
    Subscriber,
    SubscriberError,
    WebhookError,
    WebhookNotFoundError,
    Webhooks,
)
from .http import MAX_INT, ApiError, bad_request, int_param, json_body, json_response

if TYPE_CHECKING:
    from .app import Service

_FIELDS = frozenset({"url", "secret", "events", "keys", "allow_private", "name", "raw_checksums"})


def _webhooks(live: LiveConfig) -> Webhooks:
    if live.webhooks is None:
        raise ApiError(
            404,
            "no-webhooks",
            "No webhooks",
            "this config is served without webhooks (hotconf serve --webhooks FILE)",
        )
    return live.webhooks


class WebhooksApi:
    """The webhook endpoints of one `Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def subscriptions(self, request: Request) -> Response:
        """``GET /v1/subscriptions``: every subscriber, without secrets."""
        webhooks = _webhooks(self.service.live)
        found = await run_in_threadpool(webhooks.subscribers)
        return json_response({"subscriptions": [s.to_dict() for s in found]})

    async def subscribe(self, request: Request) -> Response:
        """``POST /v1/subscriptions``: add a subscriber (kept in the store, origin ``api``)."""
        self.service.auth.require_admin(request)
        webhooks = _webhooks(self.service.live_for_change())
        body = await json_body(request)
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise bad_request(f"unknown fields: {', '.join(unknown)}")
        for name in ("url", "secret"):
            if not isinstance(body.get(name), str):
                raise bad_request(f"{name} is required, a string")
        try:
            subscriber = Subscriber(**body)
        except (SubscriberError, TypeError) as exc:
            raise bad_request(str(exc)) from None
        try:
            status = await run_in_threadpool(webhooks.add, subscriber)
        except WebhookError as exc:
            raise ApiError(409, "subscriber-exists", "Subscriber exists", exc.message) from None
        return json_response(status.to_dict(), 201)

    async def unsubscribe(self, request: Request) -> Response:
        """``DELETE /v1/subscriptions/{id}``: remove a subscriber added through the API."""
        self.service.auth.require_admin(request)
        webhooks = _webhooks(self.service.live_for_change())
        ident: str = request.path_params["id"]
        try:
            await run_in_threadpool(webhooks.remove, ident)
        except WebhookNotFoundError as exc:
            raise ApiError(404, "subscriber-not-found", "No such subscriber", exc.message) from None
        except WebhookError as exc:  # configured in code or the subscribers file
            raise ApiError(409, "subscriber-configured", "Configured", exc.message) from None
        return Response(status_code=204)

    async def deliveries(self, request: Request) -> Response:
        """``GET /v1/deliveries[?status=&subscriber=&limit=]``: the outbox, newest first."""
        webhooks = _webhooks(self.service.live)
        query = request.query_params
        status = query.get("status")
        if status is not None and status not in DELIVERY_STATUSES:
            raise bad_request(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
        limit = min(int_param(query, "limit", minimum=1) or 100, 1000)
        found = await run_in_threadpool(
            lambda: webhooks.deliveries(status, subscriber=query.get("subscriber"), limit=limit)
        )
        return json_response({"deliveries": [d.to_dict() for d in found]})

    async def redeliver(self, request: Request) -> Response:
        """``POST /v1/deliveries/{id}/redeliver``: queue a dead or failed delivery again."""
        self.service.auth.require_admin(request)
        webhooks = _webhooks(self.service.live_for_change())
        raw: str = request.path_params["id"]
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_INT:
            raise bad_request(f"a delivery id is a positive integer, not {raw!r}")
        try:
            delivery = await run_in_threadpool(webhooks.redeliver, int(raw))
        except WebhookNotFoundError as exc:
            raise ApiError(404, "delivery-not-found", "No such delivery", exc.message) from None
        except WebhookError as exc:  # pending or delivered; its subscriber gone or disabled
            raise ApiError(409, "not-redeliverable", "Cannot redeliver", exc.message) from None
        return json_response(delivery.to_dict())
