"""Typed configs the tests share: the same contract as a pydantic model, a dataclass and a
TypedDict, and models hotconf must refuse."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from typing_extensions import TypedDict  # pydantic wants it before Python 3.12

import hotconf


class DB(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: Annotated[str, hotconf.restart] = "localhost"
    pool_size: int = Field(10, ge=1)
    password: SecretStr = SecretStr("changeme-default")
    dsn: Annotated[str, hotconf.sensitive] | None = None


class Worker(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch_size: int = 50
    threads: int = Field(4, json_schema_extra={"x-hotconf-reload": "restart"})
    queue: str = "default"


class AppConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    db: DB = DB()
    worker: Worker = Field(default_factory=Worker)
    hosts: tuple[str, ...] = ()
    mode: Literal["fast", "safe"] = "safe"

    @field_validator("name")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        if " " in value:
            raise ValueError("name has a space in it")
        return value


class StrictConfig(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True)

    port: int
    ratio: float = 1.0


@dataclasses.dataclass(frozen=True)
class DataclassDB:
    pool_size: int = 10
    password: SecretStr = SecretStr("changeme-default")  # noqa: RUF009 (immutable)


@dataclasses.dataclass(frozen=True)
class DataclassConfig:
    name: str
    db: DataclassDB = dataclasses.field(default_factory=DataclassDB)


class TypedDB(TypedDict):
    pool_size: int
    hosts: NotRequired[list[str]]


class TypedConfig(TypedDict):
    name: str
    db: TypedDB


class Mutable(BaseModel):
    name: str = "x"


class HoldsMutable(BaseModel):
    model_config = ConfigDict(frozen=True)

    inner: Mutable | None = None


@dataclasses.dataclass
class MutableDataclass:
    name: str = "x"
