"""jsonschema, referencing and openapi-schema-validator, imported when a `Schema` is built.

`hotconf.pipeline.schema` and `hotconf.compat.navigate` reach these libraries through
`dialect` and `best_match` only, so a process that never builds a schema never imports them
(``hotconf --version``, ``hotconf diff`` without ``--schema``), and a JSON Schema never imports
openapi-schema-validator (which brings pydantic).

jsonschema's format module imports rfc3987-syntax, when it is installed (jsonschema's
``format-nongpl`` extra installs it), for the ``iri`` and ``iri-reference`` formats; that import
builds three Earley parsers, about 1.2 s of CPU and 20 MB, in every process that imports
jsonschema, whether a schema says ``format: iri`` or not. jsonschema is imported here with a
stand-in for that module whose ``is_valid_syntax`` imports the real one on its first call, so
those formats check exactly as before and only a schema that uses them pays for the parsers.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_RFC3987_SYNTAX = "rfc3987_syntax"


class _DeferredModule(types.ModuleType):
    """Stands in for a module while jsonschema imports; anything but the functions given is
    read from the real module (imported then)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real(self.__name__, self), name)


def _real(name: str, stand_in: types.ModuleType) -> types.ModuleType:
    if sys.modules.get(name) is stand_in:
        del sys.modules[name]
    return importlib.import_module(name)


def _is_valid_syntax(term: str, value: str) -> bool:
    real = _real(_RFC3987_SYNTAX, _stand_in)
    return bool(real.is_valid_syntax(term, value))


_stand_in = _DeferredModule(_RFC3987_SYNTAX)
_stand_in.is_valid_syntax = _is_valid_syntax  # type: ignore[attr-defined]


def _import_jsonschema() -> None:
    deferring = (
        "jsonschema._format" not in sys.modules
        and _RFC3987_SYNTAX not in sys.modules
        and importlib.util.find_spec(_RFC3987_SYNTAX) is not None
    )
    if deferring:
        sys.modules[_RFC3987_SYNTAX] = _stand_in
    try:
        import jsonschema  # noqa: F401 (imported for its side effect: format checkers)
    finally:
        if deferring and sys.modules.get(_RFC3987_SYNTAX) is _stand_in:
            del sys.modules[_RFC3987_SYNTAX]


_import_jsonschema()

import referencing.jsonschema as rj  # noqa: E402 (after the stand-in is gone)
from jsonschema import FormatChecker, validators  # noqa: E402
from jsonschema.exceptions import ValidationError, best_match  # noqa: E402

# dialect -> (validator class name, referencing specification)
_JSON_SCHEMA: dict[str, tuple[str, Any]] = {
    "json-schema-2020-12": ("Draft202012Validator", rj.DRAFT202012),
    "json-schema-2019-09": ("Draft201909Validator", rj.DRAFT201909),
    "json-schema-draft-07": ("Draft7Validator", rj.DRAFT7),
    "json-schema-draft-06": ("Draft6Validator", rj.DRAFT6),
    "json-schema-draft-04": ("Draft4Validator", rj.DRAFT4),
}


def dialect(name: str) -> tuple[Any, Any, FormatChecker]:
    """``(validator class, referencing specification, format checker)`` of a dialect.

    Args:
        name: a `hotconf.pipeline.schema.Schema` dialect, e.g. ``json-schema-2020-12`` or
            ``openapi-3.1``.
    """
    if name == "openapi-3.0":
        from openapi_schema_validator import OAS30Validator, oas30_format_checker

        return OAS30Validator, rj.DRAFT4, oas30_format_checker
    if name == "openapi-3.1":
        from openapi_schema_validator import OAS31Validator, oas31_format_checker

        return OAS31Validator, rj.DRAFT202012, oas31_format_checker
    class_name, spec = _JSON_SCHEMA[name]
    cls = getattr(validators, class_name)
    return cls, spec, cls.FORMAT_CHECKER


__all__ = ["FormatChecker", "ValidationError", "best_match", "dialect", "validators"]
