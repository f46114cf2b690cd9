"""``live.pin()`` and ``live.pinned``: one config per thread or asyncio task, whatever swaps."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import hotconf
from hotconf.testing import MemorySource


@pytest.fixture
def pair() -> Iterator[tuple[hotconf.LiveConfig, MemorySource]]:
    source = MemorySource({"db": {"pool_size": 1}})
    with hotconf.watch(source, state_dir=None) as live:
        yield live, source


def test_pinned_is_current_outside_a_pin_and_the_pin_inside(
    pair: tuple[hotconf.LiveConfig, MemorySource],
) -> None:
    live, source = pair
    assert live.pinned is live.current
    with live.pin() as cfg:
        assert cfg is live.current and live.pinned is cfg
        source.set({"db": {"pool_size": 2}})
        assert live.current.version == 2
        assert live.pinned is cfg and live.pinned["db"]["pool_size"] == 1
    assert live.pinned is live.current and live.pinned.version == 2


def test_pins_nest_and_unwind(pair: tuple[hotconf.LiveConfig, MemorySource]) -> None:
    live, source = pair
    with live.pin() as outer:
        source.set({"db": {"pool_size": 2}})
        with live.pin() as inner:
            assert inner.version == 2 and live.pinned is inner
        assert live.pinned is outer
        with pytest.raises(KeyError), live.pin():
            raise KeyError("an error leaves the pin too")
        assert live.pinned is outer
    assert live.pinned is live.current


def test_a_pin_is_entered_once(pair: tuple[hotconf.LiveConfig, MemorySource]) -> None:
    live, _ = pair
    pin = live.pin()
    with pin, pytest.raises(RuntimeError, match="entered already"), pin:
        pass


def test_each_live_config_has_its_own_pin(pair: tuple[hotconf.LiveConfig, MemorySource]) -> None:
    live, source = pair
    other_source = MemorySource({"other": True})
    with hotconf.watch(other_source, state_dir=None) as other, live.pin() as cfg:
        source.set({"db": {"pool_size": 2}})
        assert other.pinned is other.current
        with other.pin() as theirs:
            assert live.pinned is cfg and other.pinned is theirs


@dataclass(frozen=True)
class Db:
    pool_size: int


def test_any_config_can_be_pinned_such_as_a_typed_model(
    pair: tuple[hotconf.LiveConfig, MemorySource],
) -> None:
    live, _ = pair
    model = Db(**live.current["db"])  # what current holds with a typed model
    with live.pin(model) as cfg:
        assert cfg is model and live.pinned is model
        assert live.pinned.pool_size == 1


@dataclass(frozen=True)
class Typed:
    db: Db


def test_pins_hold_a_typed_models_instance() -> None:
    source = MemorySource({"db": {"pool_size": 1}})
    with hotconf.watch(source, model=Typed, state_dir=None) as live:
        with live.pin() as cfg:
            source.set({"db": {"pool_size": 2}})
            assert isinstance(cfg, Typed) and live.pinned is cfg
            assert live.pinned.db.pool_size == 1 and live.current.db.pool_size == 2
        assert live.pinned is live.current
        assert live.explain("db.pool_size").layer == "file"


def test_a_thread_started_inside_a_pin_does_not_inherit_it(
    pair: tuple[hotconf.LiveConfig, MemorySource],
) -> None:
    live, source = pair
    seen: list[int] = []
    with live.pin():
        source.set({"db": {"pool_size": 2}})
        thread = threading.Thread(target=lambda: seen.append(live.pinned.version))
        thread.start()
        thread.join()
        assert live.pinned.version == 1
    assert seen == [2]


def test_asyncio_tasks_each_see_their_own_pin(
    pair: tuple[hotconf.LiveConfig, MemorySource],
) -> None:
    live, source = pair

    async def request(started: asyncio.Event, go: asyncio.Event) -> list[int]:
        with live.pin():
            first = live.pinned.version
            started.set()
            await go.wait()
            in_thread = await asyncio.to_thread(lambda: live.pinned.version)  # copies context
            return [first, live.pinned.version, in_thread]

    async def main() -> list[list[int]]:
        a_started, b_started, go = asyncio.Event(), asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(request(a_started, go))
        await a_started.wait()
        source.set({"db": {"pool_size": 2}})  # v2 between the two requests' starts
        b = asyncio.create_task(request(b_started, go))
        await b_started.wait()
        source.set({"db": {"pool_size": 3}})
        assert live.pinned.version == 3  # the main task has no pin
        go.set()
        return [await a, await b]

    assert asyncio.run(main()) == [[1, 1, 1], [2, 2, 2]]
