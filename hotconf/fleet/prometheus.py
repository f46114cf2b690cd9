"""A small client for Prometheus's HTTP API: instant queries, one number each.

Canary checks and release gates (`hotconf.fleet.checks`) ask Prometheus one instant query
each (``POST /api/v1/query``, form-encoded, so long expressions fit). A result a check can
compare is a scalar or a vector of exactly one sample; an empty vector, or NaN (a ratio of
two zero rates, say), is *no data*. Anything else (several series, a range vector, a string)
is a `CheckError` that names the fix; so is a query Prometheus refuses (``bad_data``). A
Prometheus that cannot be reached, or answers an error of its own, is a `PrometheusError`.
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from .. import __version__
from ..errors import CheckError, PrometheusError


class Prometheus:
    """One Prometheus server (or anything serving its query API: Thanos, Mimir, VictoriaMetrics).

    Args:
        url: its base URL, ``http://prometheus:9090`` (a path prefix is kept).
        timeout: seconds for one query (Prometheus's own ``timeout`` is set to it too).

    Raises:
        CheckError: ``url`` is not an http:// or https:// URL.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise CheckError(f"not a Prometheus URL: {url!r} (want http://host:9090)")
        self.url = url
        self.timeout = timeout
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout + 1.0, connect=min(timeout, 3.0)),
            headers={"User-Agent": f"hotconf/{__version__}", "Accept": "application/json"},
        )

    @property
    def shown(self) -> str:
        """The URL fit for logs and records: without credentials."""
        parts = httpx.URL(self.url)
        return str(parts.copy_with(username=None, password=None)) if parts.userinfo else self.url

    def query(self, expr: str) -> float | None:
        """The value of an instant query now; ``None`` when there is no data.

        Raises:
            CheckError: Prometheus refused the expression, or its result is not one number.
            PrometheusError: Prometheus cannot be reached, or failed to answer.
        """
        try:
            resp = self._http.post(
                f"{self.url}/api/v1/query", data={"query": expr, "timeout": f"{self.timeout:g}s"}
            )
        except RuntimeError as exc:  # the client was closed
            raise PrometheusError(f"the Prometheus client is closed: {exc}") from exc
        except httpx.HTTPError as exc:
            why = str(exc) or type(exc).__name__
            raise PrometheusError(f"Prometheus at {self.shown} is unreachable: {why}") from exc
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise PrometheusError(
                f"Prometheus at {self.shown} answered {resp.status_code} without its JSON: "
                "is it a Prometheus query API?"
            )
        if body.get("status") != "success":
            kind, error = body.get("errorType", ""), body.get("error", "")
            if kind == "bad_data" or resp.status_code == 400:
                raise CheckError(f"Prometheus refused the query {expr!r}: {error}")
            raise PrometheusError(
                f"Prometheus at {self.shown} failed the query {expr!r}: {kind or resp.status_code}"
                f" {error}".rstrip()
            )
        return _number(expr, body.get("data") or {})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Prometheus {self.url}>"


def _number(expr: str, data: dict[str, Any]) -> float | None:
    kind, result = data.get("resultType"), data.get("result")
    try:
        if kind == "scalar":
            value = float(result[1])  # type: ignore[index]
        elif kind == "vector":
            assert isinstance(result, list)
            if not result:
                return None
            if len(result) > 1:
                shown = ", ".join(_series(s) for s in result[:3])
                raise CheckError(
                    f"the query {expr!r} returned {len(result)} series ({shown}"
                    f"{', ...' if len(result) > 3 else ''}); a check compares one number: "
                    "aggregate them, e.g. sum(...) or max(...)"
                )
            value = float(result[0]["value"][1])
        else:
            raise CheckError(
                f"the query {expr!r} returned a {kind}; a check compares one number: "
                "a scalar or an instant vector of one series"
            )
    except (AssertionError, TypeError, ValueError, KeyError, IndexError) as exc:
        if isinstance(exc, CheckError):
            raise
        raise PrometheusError(f"not a Prometheus query result: {data!r:.200}") from exc
    return None if math.isnan(value) else value


def _series(sample: Any) -> str:
    metric = sample.get("metric", {}) if isinstance(sample, dict) else {}
    name = metric.get("__name__", "")
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{labels}}}"


__all__ = ["Prometheus"]
