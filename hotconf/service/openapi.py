"""The API description: ``openapi.yaml`` next to this module, an OpenAPI 3.1 document.

It ships in the package, and it is the one copy there is: ``GET /openapi.json`` serves it,
``GET /docs`` renders it for reading, and the test suite holds every response of the service
to it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..pipeline.load import load
from .http import JSON

PATH = Path(__file__).with_name("openapi.yaml")
"""Where the document is (inside the installed package)."""


@functools.cache
def document() -> dict[str, Any]:
    """The parsed document (by hotconf's own YAML loader); one shared copy: read it, do not
    change it."""
    return load(PATH)


@functools.cache
def _encoded() -> bytes:
    return json.dumps(document(), ensure_ascii=False, indent=1).encode("utf-8")


async def openapi_json(request: Request) -> Response:
    """``GET /openapi.json``: the API description as JSON."""
    return Response(_encoded(), media_type=JSON, headers={"Cache-Control": "no-cache"})
