"""What type checkers infer for typed configs: mypy checks this file (``[tool.mypy] files``),
and tests/typing/test_typing.py runs pyright on it. Nothing here runs."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, assert_type

from pydantic import BaseModel, ConfigDict, SecretStr
from typing_extensions import TypedDict

import hotconf
from hotconf.testing import MemorySource


class DB(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: Annotated[str, hotconf.restart] = "localhost"
    pool_size: int = 10
    password: SecretStr = SecretStr("")


class AppConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    db: DB = DB()
    hosts: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Settings:
    port: int = 8080


class Limits(TypedDict):
    rps: int


def _usage() -> None:
    live = hotconf.watch("config.yaml", model=AppConfig)
    assert_type(live, hotconf.LiveConfig[AppConfig])
    assert_type(live.current, AppConfig)
    assert_type(live.current.db.pool_size, int)
    assert_type(live.current.db.password, SecretStr)
    assert_type(live.model, type[AppConfig] | None)
    assert_type(live.snapshot(), hotconf.Snapshot)
    assert_type(live.get("db.pool_size"), Any)
    with hotconf.watch(MemorySource({}), "schema.json", model=AppConfig) as typed:
        assert_type(typed.current.hosts, tuple[str, ...])

    assert_type(hotconf.watch("c.yaml", model=Settings).current.port, int)
    assert_type(hotconf.watch("c.yaml", model=Limits).current["rps"], int)

    plain = hotconf.watch("config.yaml", schema="config.schema.json")
    assert_type(plain, hotconf.LiveConfig[hotconf.Snapshot])
    assert_type(plain.current, hotconf.Snapshot)
    bare: hotconf.LiveConfig = plain  # a bare LiveConfig is a LiveConfig[Snapshot]
    assert_type(bare.current, hotconf.Snapshot)
    anything: hotconf.LiveConfig[Any] = live  # e.g. what create_app takes
    hotconf.create_app(anything)
    hotconf.create_app(live)
