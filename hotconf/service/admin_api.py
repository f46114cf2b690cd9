"""Endpoints that run the pipeline: a dry-run validation, a reload and a rollback.

``POST /v1/validate`` applies nothing, but it needs a token whenever tokens are configured:
its report says which keys a candidate changes, so an open one would let anybody test
guesses of a secret value against the live config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..errors import (
    ClosedError,
    LoadError,
    SourceError,
    StoreError,
    ValidationError,
    VersionNotFoundError,
)
from ..events import ReloadResult
from .config_api import report_dict
from .http import MAX_INT, ApiError, bad_request, json_body, json_response, problems_list

if TYPE_CHECKING:
    from .app import Service

FORMATS = {
    "application/json": "json",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
}


def result_body(result: ReloadResult, secrets: bool) -> dict[str, Any]:
    """A `ReloadResult` as JSON (applied or noop; the report is redacted, its checksums
    keyed fingerprints unless the caller sees secrets)."""
    previous = result.previous.version if result.previous is not None else None
    return {
        "status": result.status,
        "version": result.version,
        "previous_version": previous,
        "restores": result.snapshot.info.restores if result.snapshot is not None else None,
        "report": report_dict(result.report, secrets) if result.report is not None else None,
    }


def _rejected(result: ReloadResult, secrets: bool) -> ApiError:
    problems = result.problems
    report = report_dict(result.report, secrets) if result.report is not None else None
    version = result.version
    kept = f"v{version} is still served" if version is not None else "nothing is served"
    if any(p.code == "gate" for p in problems):
        return ApiError(
            409,
            "gate",
            "Held back by the gate",
            f"the candidate is valid but its impact is above the gate; {kept}; "
            'POST {"force": true} to apply it',
            problems=problems_list(problems),
            report=report,
        )
    return ApiError(
        422,
        "invalid-candidate",
        "Invalid candidate",
        f"the candidate was rejected ({len(problems)} problems); {kept}",
        problems=problems_list(problems),
        report=report,
    )


def _store_failed(exc: StoreError) -> ApiError:
    return ApiError(
        503,
        "store-failure",
        "The state directory failed",
        f"{exc.message}; nothing was applied or rejected, and a watched change is retried",
        headers={"Retry-After": "5"},
    )


class AdminApi:
    """The pipeline endpoints of one `Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def validate(self, request: Request) -> Response:
        """``POST /v1/validate``: the impact report of a candidate body; nothing is applied."""
        service = self.service
        service.auth.require_reader(request)
        live = service.live
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        fmt = FORMATS.get(media)
        if fmt is None:
            raise ApiError(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"send the candidate as {', '.join(FORMATS)}, not {media or 'no content type'}",
            )
        body = await _read_capped(request, live.limits.max_bytes)
        try:
            report = await run_in_threadpool(live.validate, body, fmt)
        except LoadError as exc:
            raise ApiError(
                422,
                "invalid-candidate",
                "Invalid candidate",
                exc.message,
                problems=problems_list(exc.problems),
            ) from None
        secrets = service.auth.sees_secrets(request)
        if report.problems:
            raise ApiError(
                422,
                "invalid-candidate",
                "Invalid candidate",
                f"the candidate is invalid ({len(report.problems)} problems)",
                problems=problems_list(report.problems),
                report=report_dict(report, secrets),
            )
        return json_response(report_dict(report, secrets))

    async def reload(self, request: Request) -> Response:
        """``POST /v1/reload {"force": false}``: run the pipeline on the source now."""
        service = self.service
        service.auth.require_admin(request)
        live = service.live_for_change()
        force = (await json_body(request)).get("force", False)
        if not isinstance(force, bool):
            raise bad_request("force must be true or false")
        try:
            result = await run_in_threadpool(lambda: live.reload(force=force))
        except ClosedError:
            raise service.not_ready() from None
        except StoreError as exc:
            raise _store_failed(exc) from None
        secrets = service.auth.sees_secrets(request)
        if result.status == "rejected":
            raise _rejected(result, secrets)
        return json_response(result_body(result, secrets))

    async def rollback(self, request: Request) -> Response:
        """``POST /v1/rollback {"to": N}``: serve version N again, as a new version."""
        service = self.service
        service.auth.require_admin(request)
        live = service.live_for_change()
        to = (await json_body(request)).get("to")
        if to is not None and (
            not isinstance(to, int) or isinstance(to, bool) or not 1 <= to <= MAX_INT
        ):
            raise bad_request("to must be a version number (an integer from 1), or absent")
        try:
            result = await run_in_threadpool(live.rollback, to)
        except VersionNotFoundError as exc:
            detail = exc.message if to is not None else "there is no version before v1"
            raise ApiError(404, "version-not-found", "No such version", detail) from None
        except ValidationError as exc:
            raise ApiError(
                409,
                "rollback-refused",
                "Rollback refused",
                exc.message,
                problems=problems_list(exc.problems),
            ) from None
        except SourceError as exc:  # a fleet instance: the fleet is rolled back, not one instance
            raise ApiError(409, "rollback-refused", "Rollback refused", exc.message) from None
        except ClosedError:
            raise service.not_ready() from None
        except StoreError as exc:
            raise _store_failed(exc) from None
        return json_response(result_body(result, service.auth.sees_secrets(request)))


async def _read_capped(request: Request, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise ApiError(
                413,
                "too-large",
                "Candidate too large",
                f"the candidate is larger than {cap} bytes",
            )
        chunks.append(chunk)
    return b"".join(chunks)
