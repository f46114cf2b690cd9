"""Typed configs: a pydantic model, a dataclass or a TypedDict as the contract.

`Model` adapts a type through pydantic's ``TypeAdapter``: pydantic decides what is valid (lax
by default, ``strict`` where the type says so) on the effective config (the candidate with
its defaults filled in: what is served), read as JSON (so a ``tuple`` or ``datetime`` field
takes what a config file can say), and builds the instance once per candidate; the type's
JSON Schema in validation mode (a `Schema`) gives the impact report its levels, what is
secret (``SecretStr``, ``SecretBytes``) and the defaults, and says under which other keys a
field is read (``x-hotconf-aliases``), so that no default is filled in beside one given. Its errors
become `Problem`s at JSON Pointer paths, located at file:line like schema problems, with no
secret value in them.

Only the hotconf side of the contract is here; pydantic is imported when a `Model` is built,
never when hotconf is: plain-schema users and the command line do not pay for it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import logging
import re
import sys
import threading
import traceback
import typing
from collections.abc import Callable, Mapping
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from ..errors import Problem, SchemaError
from .paths import Path, to_pointer
from .schema import Schema

if TYPE_CHECKING:
    from pydantic import TypeAdapter
    from pydantic.json_schema import GenerateJsonSchema
    from pydantic_core import ErrorDetails

log = logging.getLogger("hotconf")

ConfigT = TypeVar("ConfigT")

MASK = "**********"
"""What pydantic puts in a JSON Schema for the default of a ``SecretStr``: never applied."""
_MODEL_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MIN_SECRET = 3  # shorter values are too common to tell apart in a message


class Marker:
    """Schema keywords carried by a type annotation: ``Annotated[str, hotconf.restart]``.

    pydantic calls `__get_pydantic_json_schema__` when it writes the field's JSON Schema; the
    keywords land next to the field's own, where the impact report reads them.

    Args:
        name: how it reads in a repr (``hotconf.restart``).
        keywords: the keywords to add, e.g. ``{"x-hotconf-reload": "restart"}``.
    """

    __slots__ = ("keywords", "name")

    def __init__(self, name: str, keywords: Mapping[str, Any]) -> None:
        self.name = name
        self.keywords = dict(keywords)

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        schema.update(self.keywords)
        return schema

    def __repr__(self) -> str:
        return self.name


restart = Marker("hotconf.restart", {"x-hotconf-reload": "restart"})
"""Marks a field whose change is applied but only felt after a restart (level ``restart``)."""
sensitive = Marker("hotconf.sensitive", {"x-hotconf-sensitive": True})
"""Marks a field as secret: its value is redacted everywhere (``SecretStr`` already is)."""


class FrozenDict(dict[str, Any]):
    """A TypedDict's value as hotconf serves it: a ``dict`` whose mutators raise, holding
    read-only mappings and tuples all the way down."""

    __slots__ = ()

    def _immutable(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a typed config is immutable; reload or roll back to change it")

    __setitem__ = __delitem__ = _immutable
    clear = pop = popitem = setdefault = update = _immutable
    __ior__ = _immutable


def _deep_freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return FrozenDict({k: _deep_freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_deep_freeze(v) for v in value)
    return value


class Model(Generic[ConfigT]):
    """A typed contract: what validates candidates and builds the value ``live.current`` is.

    Build one with `Model.of` (one per type, cached). ``type`` is a pydantic ``BaseModel``
    with ``frozen=True``, a ``@dataclass(frozen=True)`` (standard or pydantic), or a
    ``TypedDict`` (from ``typing_extensions`` before Python 3.12, as pydantic wants), whose
    value is served as a read-only mapping. Models and dataclasses that are not frozen, at
    the top or inside, are refused: every reader shares one instance.

    Attributes:
        type: the type.
        name: ``module:QualName``, as messages show it.
        schema: its JSON Schema (validation mode, pydantic's masked secret defaults left
            out) as a `Schema`: annotations, secrets and defaults; never used to validate.

    Raises:
        TypeError: ``type`` is none of those kinds.
        SchemaError: pydantic cannot use it, it has no JSON Schema, or it is not frozen.
    """

    __slots__ = ("__weakref__", "_adapter", "_kind", "name", "schema", "type")

    def __init__(self, tp: type[ConfigT]) -> None:
        from pydantic import BaseModel, TypeAdapter
        from pydantic.errors import PydanticUndefinedAnnotation, PydanticUserError

        self.type = tp
        self.name = f"{getattr(tp, '__module__', '?')}:{getattr(tp, '__qualname__', tp)}"
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            self._kind = "model"
        elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
            self._kind = "dataclass"
        elif _is_typeddict(tp):
            self._kind = "typeddict"
        else:
            raise TypeError(
                f"model= takes a pydantic BaseModel, a dataclass or a TypedDict class, not {tp!r}"
            )
        _refuse_mutable(tp, set())
        try:
            self._adapter: TypeAdapter[ConfigT] = TypeAdapter(tp)
            document = self._adapter.json_schema(mode="validation", schema_generator=_generator())
        except (PydanticUserError, PydanticUndefinedAnnotation) as exc:
            raise SchemaError(f"{self.name}: {_first_paragraph(exc)}") from exc
        self.schema = Schema.from_dict(_unmask(document), source=self.name)

    @classmethod
    def of(cls, tp: type[ConfigT]) -> Model[ConfigT]:
        """The `Model` of a type, built once per type."""
        with _lock:
            found = _models.get(tp)
        if found is None:
            found = cls(tp)
            with _lock:
                if len(_models) >= _MODELS_KEPT:
                    _models.clear()
                _models[tp] = found
        return found

    def validate(
        self, data: Any, json_text: bytes | str, sensitive: Callable[[Path], bool]
    ) -> tuple[ConfigT | None, tuple[Problem, ...]]:
        """Build the instance from a candidate, or say why it cannot be built.

        Args:
            data: the candidate as plain data (to place the problems).
            json_text: the same candidate as JSON (what pydantic reads).
            sensitive: tells whether a path holds a secret.

        Returns:
            ``(instance, ())`` or ``(None, problems)``.
        """
        from pydantic import ValidationError

        try:
            value = self._adapter.validate_json(json_text)
        except ValidationError as exc:
            return None, _problems(exc.errors(include_url=False), data, sensitive)
        except Exception as exc:  # a validator of the model raised something else
            where = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
            log.warning("hotconf: model %s raised %s at\n%s", self.name, type(exc).__name__, where)
            return None, (Problem(f"model {self.name} raised {type(exc).__name__}", code="model"),)
        if self._kind == "typeddict":
            value = _deep_freeze(value)
        return value, ()

    def __repr__(self) -> str:
        return f"Model({self.name})"


_models: dict[Any, Model[Any]] = {}
_lock = threading.Lock()
_MODELS_KEPT = 256


def _is_typeddict(value: Any) -> bool:
    if typing.is_typeddict(value):
        return True
    extensions = sys.modules.get("typing_extensions")
    return bool(extensions is not None and extensions.is_typeddict(value))


def _refuse_mutable(tp: Any, seen: set[int]) -> None:
    """Raise `SchemaError` for a model or dataclass in ``tp`` (at any depth) not frozen."""
    if id(tp) in seen:
        return
    seen.add(id(tp))
    hints: list[Any] = []
    if isinstance(tp, type):
        from pydantic import BaseModel

        if issubclass(tp, BaseModel):
            if tp.model_config.get("frozen") is not True:
                raise SchemaError(
                    f"{tp.__module__}:{tp.__qualname__} is not frozen: hotconf serves one "
                    "instance to every reader, so it must be immutable; set "
                    "model_config = ConfigDict(frozen=True)"
                )
            hints = [field.annotation for field in tp.model_fields.values()]
        elif dataclasses.is_dataclass(tp):
            params = getattr(tp, "__dataclass_params__", None)
            if params is None or not params.frozen:
                raise SchemaError(
                    f"{tp.__module__}:{tp.__qualname__} is not frozen: hotconf serves one "
                    "instance to every reader, so it must be immutable; declare it "
                    "@dataclass(frozen=True)"
                )
            hints = list(_hints(tp).values())
        elif _is_typeddict(tp):
            hints = list(_hints(tp).values())
    hints += [arg for arg in typing.get_args(tp) if not isinstance(arg, str | int | Marker)]
    for hint in hints:
        _refuse_mutable(hint, seen)


def _hints(tp: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(tp)
    except Exception:  # a forward reference only pydantic can resolve: pydantic checks it
        return {}


@functools.cache
def _generator() -> type[GenerateJsonSchema]:
    """pydantic's JSON Schema generator, telling hotconf's defaults stage under which keys
    pydantic reads each field (`_read_as`)."""
    from pydantic.json_schema import GenerateJsonSchema

    class Generator(GenerateJsonSchema):
        def _named_required_fields_schema(self, named_required_fields: Any) -> Any:
            json_schema = super()._named_required_fields_schema(named_required_fields)
            try:
                _read_as(json_schema, named_required_fields, self)
            except (AttributeError, KeyError, TypeError):  # a pydantic that works otherwise
                log.debug("hotconf: no alias information from this pydantic", exc_info=True)
            return json_schema

    return Generator


def _read_as(json_schema: dict[str, Any], fields: Any, generator: Any) -> None:
    """Mark the properties pydantic also reads under other keys (``validation_alias=
    AliasChoices("poolSize", "pool_size")``, ``populate_by_name``): ``x-hotconf-aliases``
    lists them, and the defaults stage fills no default in where the config gives one. A
    default pydantic may take from elsewhere (an ``AliasPath`` into another key, or a
    property name it does not read) is dropped: filling it in would change what it reads."""
    properties = json_schema.get("properties")
    if not isinstance(properties, dict):
        return
    config = generator._config
    by_alias = getattr(config, "validate_by_alias", True) is not False
    by_name = bool(getattr(config, "validate_by_name", False)) or bool(
        getattr(config, "populate_by_name", False)
    )
    for name, _, field in fields:
        alias = field.get("validation_alias")
        prop = generator._get_alias_name(field, name) if generator.by_alias else name
        sub = properties.get(prop)
        if alias is None or not isinstance(sub, dict):
            continue  # read under its name only
        names: set[str] = {name} if by_name else set()
        elsewhere = False
        # a name, one path (AliasPath: a list of keys), or a list of them (AliasChoices)
        if isinstance(alias, str) or not all(isinstance(p, list) for p in alias):
            alias = [[alias] if isinstance(alias, str) else alias]
        for path in alias if by_alias else ():
            if len(path) == 1 and isinstance(path[0], str):
                names.add(path[0])
            else:
                elsewhere = True
        if elsewhere or prop not in names:
            sub.pop("default", None)
        if others := sorted(names - {prop}):
            sub["x-hotconf-aliases"] = others


def _first_paragraph(exc: BaseException) -> str:
    return str(exc).split("\n\n", 1)[0].strip()


def _unmask(node: Any) -> Any:
    """The schema without the defaults pydantic masks (a ``SecretStr``'s is ``"**********"``):
    applying one would serve the mask instead of the secret."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "default":
                value = _drop_masked(value)
                if value is _MASKED:
                    continue
            elif key not in ("enum", "const", "examples"):
                value = _unmask(value)
            out[key] = value
        return out
    if isinstance(node, list):
        return [_unmask(v) for v in node]
    return node


_MASKED: Any = object()


def _drop_masked(value: Any) -> Any:
    # A masked leaf goes; a mapping keeps its other keys (the instance has the real secret).
    if value == MASK:
        return _MASKED
    if isinstance(value, dict):
        return {
            k: v for k, v in ((k, _drop_masked(v)) for k, v in value.items()) if v is not _MASKED
        }
    if isinstance(value, list):
        return [v for v in (_drop_masked(v) for v in value) if v is not _MASKED]
    return value


# -- errors as problems -----------------------------------------------------------------


def _problems(
    errors: list[ErrorDetails], data: Any, sensitive: Callable[[Path], bool]
) -> tuple[Problem, ...]:
    from ._messages import cap

    secrets: set[str] | None = None
    seen: set[tuple[str, str]] = set()
    found: list[tuple[Path, Problem]] = []
    for error in errors:
        kind = str(error.get("type", "invalid"))
        path = _data_path(error.get("loc", ()), data, missing=kind == "missing")
        message = str(error.get("msg", "invalid"))
        if sensitive(path):
            message = f"value is not valid ({kind})"
        else:
            if secrets is None:
                secrets = _secrets(data, sensitive)
            if any(secret in message for secret in secrets):
                message = f"value is not valid ({kind}; the message would show a secret)"
        pointer = to_pointer(path)
        if (pointer, message) in seen:
            continue  # a union reports each member's view of the same value
        seen.add((pointer, message))
        found.append((path, Problem(cap(message), pointer, kind)))
    found.sort(
        key=lambda item: tuple((0, s, "") if isinstance(s, int) else (1, 0, s) for s in item[0])
    )
    return tuple(problem for _, problem in found)


def _data_path(loc: tuple[int | str, ...], data: Any, *, missing: bool) -> Path:
    """pydantic's ``loc`` as a path into the data: the segments that are not in the data (a
    union member's tag, ``function-after[...]``, ``[key]``) are left out."""
    path: list[str | int] = []
    node = data
    for n, segment in enumerate(loc):
        in_mapping = isinstance(node, Mapping) and isinstance(segment, str) and segment in node
        in_list = (
            isinstance(node, list | tuple) and isinstance(segment, int) and segment < len(node)
        )
        if in_mapping or in_list:
            node = node[segment]
            path.append(segment)
        elif missing and n == len(loc) - 1 and isinstance(segment, str):
            path.append(segment)  # the key that is missing
    return tuple(path)


def _secrets(data: Any, sensitive: Callable[[Path], bool]) -> set[str]:
    """Every string at a sensitive path of the candidate (long enough to tell apart)."""
    out: set[str] = set()

    def walk(value: Any, path: Path, secret: bool) -> None:
        if isinstance(value, Mapping):
            for key, child in value.items():
                child_path = (*path, key)
                walk(child, child_path, secret or sensitive(child_path))
        elif isinstance(value, list | tuple):
            for i, child in enumerate(value):
                child_path = (*path, i)
                walk(child, child_path, secret or sensitive(child_path))
        elif secret and isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value)
            if len(text) >= _MIN_SECRET:
                out.add(text)

    walk(data, (), False)
    return out


# -- the command line's module:Model ------------------------------------------------------


def is_model_path(text: str) -> bool:
    """Does ``--schema`` name a model (``module:Model``) rather than a file?"""
    return bool(_MODEL_PATH.match(text)) and not FilePath(text).exists()


def import_model(text: str) -> Model[Any]:
    """The `Model` named ``module:Model`` (the current directory importable while it is
    imported and built; ``sys.path`` is as it was afterwards, so a file there cannot shadow
    a module the process imports later).

    Raises:
        SchemaError: the module does not import (the message carries the import error),
            has no such attribute, or it cannot be used as a model.
    """
    added = "" not in sys.path and str(FilePath.cwd()) not in sys.path
    if added:
        sys.path.insert(0, "")
    try:
        return _import_model(text)
    finally:
        if added and "" in sys.path:
            sys.path.remove("")


def _import_model(text: str) -> Model[Any]:
    module_name, _, attr = text.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # anything the import raises: it is the user's code
        raise SchemaError(
            f"cannot import {module_name!r} for {text}: {type(exc).__name__}: {exc}"
        ) from exc
    value: Any = module
    for part in attr.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise SchemaError(f"{text}: module {module_name!r} has no {attr!r}") from None
    try:
        return Model.of(value)
    except TypeError as exc:
        raise SchemaError(f"{text}: {exc}") from None


def to_data(value: Any) -> dict[str, Any]:
    """A model instance as config data (aliases, JSON types), secrets included: what a config
    file for it says. Used by `hotconf.testing.MemorySource`."""
    from pydantic import SecretBytes, SecretStr, TypeAdapter
    from pydantic_core import to_jsonable_python

    def reveal(node: Any) -> Any:
        if isinstance(node, SecretStr):
            return node.get_secret_value()
        if isinstance(node, SecretBytes):
            return node.get_secret_value().decode()
        if isinstance(node, Mapping):
            return {k: reveal(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [reveal(v) for v in node]
        return node

    plain = TypeAdapter(type(value)).dump_python(value, by_alias=True)
    data = to_jsonable_python(reveal(plain))
    if not isinstance(data, dict):
        raise TypeError(f"a config is a mapping, not {type(data).__name__}")
    return data


__all__ = ["ConfigT", "FrozenDict", "Marker", "Model", "restart", "sensitive"]
