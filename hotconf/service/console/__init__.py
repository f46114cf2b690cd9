"""The web console of ``hotconf serve``: server-rendered pages over the same `Service`.

``/`` (readiness and the config), ``/console/versions`` (the timeline), ``/console/diff``,
``/console/rollback`` (a rollback's impact report, then the confirmation),
``/console/rejections``, ``/console/webhooks``, ``/console/rollouts``, and ``/docs`` (the API
description to read). Jinja templates and one small script in ``static/``, shipped in the
package: no build step, nothing from elsewhere.

Every page reads with JavaScript off (links and GET forms). The script adds what needs it:
the page follows ``/v1/events`` and refreshes itself in place; a token entered is kept in the
tab's ``sessionStorage`` and sent as ``Authorization: Bearer``, on page fetches too (the
server then renders secret values) and on the API calls that change things (rollback,
redeliver). No cookies, so no cross-site request can borrow a credential; a strict
Content-Security-Policy (scripts and styles from this server only, nothing inline).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...errors import VersionNotFoundError
from ...pipeline.levels import LEVELS
from ...pipeline.snapshot import thaw
from ...webhooks.manager import DELIVERY_STATUSES
from ..config_api import public_checksum
from ..http import Access, ApiError, bad_request, int_param
from ..openapi import document
from ..rollouts_api import fleet_view
from .views import (
    LEVEL_MEANINGS,
    STATES,
    Summaries,
    change_rows,
    config_rows,
    level_counts,
    problem_rows,
    version_rows,
    when,
)

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

    from ..app import Service

HERE = Path(__file__).parent

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PAGE_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-store", "Vary": "Authorization"}

NAV = (
    ("overview", "/", "Overview"),
    ("versions", "/console/versions", "Versions"),
    ("diff", "/console/diff", "Diff"),
    ("rejections", "/console/rejections", "Rejections"),
    ("webhooks", "/console/webhooks", "Webhooks"),
    ("rollouts", "/console/rollouts", "Rollouts"),
    ("docs", "/docs", "API"),
)

Build = Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]


class Secured:
    """An ASGI app whose responses carry the console's security headers (static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                headers["Cache-Control"] = "no-cache"  # revalidate: an upgrade changes them
            await send(message)

        await self.app(scope, receive, send_secured)


MOUNT = "/console"


def _root(request: Request, mounted: bool) -> str:
    """Where the service's app is mounted ("" at the top): links and the script start there.

    A page under `MOUNT` (``mounted``) sees that mount in its ``root_path`` too: it is taken off.
    """
    root: str = request.scope.get("root_path", "")
    if mounted:
        root = root.removesuffix(MOUNT)
    return root.rstrip("/")


class Console:
    """The console pages of one `Service`.

    Attributes:
        summaries: the level and number of changes of each version, for the timeline.
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        self.summaries = Summaries()
        self._templates: Jinja2Templates | None = None

    @property
    def templates(self) -> Jinja2Templates:
        """The templates, loaded by the first page: a service whose console nobody opens
        never imports Jinja."""
        if self._templates is None:
            self._templates = _templates()
        return self._templates

    def routes(self) -> list[BaseRoute]:
        """``/``, ``/docs`` and everything under ``/console``."""
        pages: list[tuple[str, Build, str]] = [
            ("/versions", self._versions, "versions.html"),
            ("/diff", self._diff, "diff.html"),
            ("/rollback", self._rollback, "rollback.html"),
            ("/rejections", self._rejections, "rejections.html"),
            ("/webhooks", self._webhooks, "webhooks.html"),
            ("/rollouts", self._rollouts, "rollouts.html"),
        ]
        static = Secured(StaticFiles(directory=HERE / "static"))
        return [
            Route("/", self.page(self._overview, "overview.html"), methods=["GET"]),
            Route("/docs", self.page(self._docs, "docs.html"), methods=["GET"]),
            Mount(
                MOUNT,
                routes=[
                    *(
                        Route(path, self.page(build, name, mounted=True), methods=["GET"])
                        for path, build, name in pages
                    ),
                    Mount("/static", app=static),
                ],
            ),
        ]

    # -- rendering -----------------------------------------------------------------------

    def page(
        self, build: Build, template: str, *, mounted: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that renders ``template`` with what ``build`` returns, or an error page
        (with the API's status: 400, 404, 503...) when it raises `ApiError`."""

        async def endpoint(request: Request) -> Response:
            context = self._common(request, _root(request, mounted))
            try:
                context.update(await build(request, context))
            except ApiError as exc:
                return self._error(request, context, exc)
            return self._render(request, template, context)

        return endpoint

    def _render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return self.templates.TemplateResponse(
            request,
            template,
            context,
            status_code=status,
            headers={**PAGE_HEADERS, **(headers or {})},
        )

    def _error(self, request: Request, context: dict[str, Any], exc: ApiError) -> Response:
        context.update(error=exc, title=exc.title)
        return self._render(request, "error.html", context, exc.status, exc.headers)

    def _common(self, request: Request, root: str) -> dict[str, Any]:
        """What every page shows: the service, its readiness, the caller's access."""
        service = self.service
        auth = service.auth
        access: Access = "anonymous"
        token_error = None
        try:
            access = auth.access(request)
        except ApiError as exc:  # a token that is not valid: the page renders without it
            token_error = exc.detail
        live = service.live_if_ready()
        state = service.readiness.state
        rejected_at = service.rejected_at
        return {
            "root": root,
            "page": None,
            "title": "hotconf",
            "name": live.name if live is not None else "hotconf",
            "state": state,
            "state_text": STATES.get(state, state),
            "failure": str(service.failure) if service.failure is not None else None,
            "version": live.version if live is not None else None,
            "last_rejection": live.last_rejection if live is not None and live.degraded else None,
            "rejected_at": rejected_at.isoformat() if rejected_at is not None else "",
            "access": access,
            "secrets": access != "anonymous",
            "tokens": auth.configured,
            "open_mutations": auth.open_mutations,
            "token_error": token_error,
            "problem_rows": problem_rows,
        }

    # -- pages -----------------------------------------------------------------------------

    async def _overview(self, request: Request, context: dict[str, Any]) -> dict[str, Any]:
        live = self.service.live
        snap = live.snapshot()
        sensitive = live.is_sensitive
        rows = config_rows(snap, sensitive, context["secrets"])
        latest = self.summaries.get(snap.version)
        if latest is None and snap.version > 1:
            await run_in_threadpool(self.summaries.fill, [snap.info], live.compare)
            latest = self.summaries.get(snap.version)
        return {
            "page": "overview",
            "title": "Overview",
            "info": snap.info,
            "rows": rows,
            "latest": latest,
        }

    async def _versions(self, request: Request, context: dict[str, Any]) -> dict[str, Any]:
        live = self.service.live
        limit = min(int_param(request.query_params, "limit", minimum=1) or 50, 1000)
        history = await run_in_threadpool(live.history, limit)
        if any(i.version > 1 and self.summaries.get(i.version) is None for i in history):
            await run_in_threadpool(self.summaries.fill, history, live.compare)
        rows = version_rows(history, live.version, self.summaries)
        more = limit + 50 if history and history[-1].version > 1 else None
        return {"page": "versions", "title": "Versions", "rows": rows, "more": more}

    async def _diff(self, request: Request, context: dict[str, Any]) -> dict[str, Any]:
        live = self.service.live
        query = request.query_params
        new = int_param(query, "to", minimum=1) or live.version
        old = int_param(query, "from", minimum=1)
        base = {"page": "diff", "title": "Diff", "old": old, "new": new, "report": None}
        if old is None:
            if new == 1:
                return base  # nothing before v1: the page offers the form only
            old = new - 1
        try:
            report = await run_in_threadpool(live.compare, old, new)
        except VersionNotFoundError as exc:
            raise ApiError(404, "version-not-found", "No such version", exc.message) from None
        return {
            **base,
            "title": f"Diff v{old} → v{new}",
            "old": old,
            "report": report,
            "changes": change_rows(report),
            "counts": level_counts(report),
        }

    async def _rollback(self, request: Request, context: dict[str, Any]) -> dict[str, Any]:
        live = self.service.live
        to = int_param(request.query_params, "to", minimum=1)
        if to is None:
            raise bad_request("choose the version to roll back to: /console/rollback?to=N")
        try:
            target = await run_in_threadpool(live.snapshot, to)
        except VersionNotFoundError as exc:
            raise ApiError(404, "version-not-found", "No such version", exc.message) from None
        # what the rollback would do: the target as a candidate, checked as rollback checks it
        report = await run_in_threadpool(live.validate, thaw(target))
        return {
            "page": "versions",
            "title": f"Roll back to v{to}",
            "target": target.info,
            "report": report,
            "changes": change_rows(report),
            "counts": level_counts(report),
            "problems": problem_rows(report.problems),
        }

    async def _rejections(self, request: Request, context: dict[str, Any]) -> dict[str, Any]:
        live = self.service.live
        limit = min(int_param(request.query_params, "limit", minimum=1) or 50, 1000)
        found = await run_in_threadpool(live.rejections, limit)
        secrets = context["secrets"]
        items = [
            (r, problem_rows(r.problems), r.checksum and public_checksum(r.checksum, secrets))
            for r in found
        ]
        return {"page": "rejections", "title": "Rejections", "items": items, "limit": limit}

    async def _webhooks(self, request: Request, context: dict[str, Any]) -> dict[str, Any]:
        live = self.service.live
        base: dict[str, Any] = {
            "page": "webhooks",
            "title": "Webhooks",
            "statuses": DELIVERY_STATUSES,
        }
        webhooks = live.webhooks
        if webhooks is None:
            return {**base, "enabled": False}
        query = request.query_params
        status = query.get("status") or None
        if status is not None and status not in DELIVERY_STATUSES:
            raise bad_request(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
        limit = min(int_param(query, "limit", minimum=1) or 100, 1000)
        subscribers = await run_in_threadpool(webhooks.subscribers)
        deliveries = await run_in_threadpool(lambda: webhooks.deliveries(status, limit=limit))
        return {
            **base,
            "enabled": True,
            "subscribers": [s.to_dict() for s in subscribers],
            "deliveries": [d.to_dict() for d in deliveries],
            "status": status,
        }

    async def _rollouts(self, request: Request, context: dict[str, Any]) -> dict[str, Any]:
        live = self.service.live
        return {
            "page": "rollouts",
            "title": "Rollouts",
            "rollouts": [r.status() for r in live.rollouts()],
            "fleet": await run_in_threadpool(fleet_view, live),
        }

    async def _docs(self, request: Request, context: dict[str, Any]) -> dict[str, Any]:
        from .apidocs import tags

        doc = document()
        return {"page": "docs", "title": "API", "info": doc["info"], "tags": tags(doc)}


def _templates() -> Jinja2Templates:
    import jinja2
    from starlette.templating import Jinja2Templates

    from .apidocs import inline, prose

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # shipped in the package: no stat() of every template per page
    )
    env.filters.update(when=when, prose=prose, inline=inline)
    env.globals.update(NAV=NAV, LEVELS=[str(level) for level in LEVELS], MEANINGS=LEVEL_MEANINGS)
    return Jinja2Templates(env=env)
