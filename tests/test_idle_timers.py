"""The idle rating timers' SQL (bot/handoff/idle.py) on SQLite and on a real PostgreSQL: armed, due, claimed by
exactly one of many claimants at once, re-armed by a new answer, removed by a new message, swept when stale."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from bot.handoff import models as m
from bot.handoff.idle import GRACE, IdleTimers
from knowledge import make_engine
from support.engines import fresh_database


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 2, 0, 0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def timers(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'timers.sqlite3'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_url"), "idle")
    engine = make_engine(url)
    m.Base.metadata.create_all(engine)
    clock = Clock()
    yield IdleTimers(engine, clock), clock
    engine.dispose()


def test_a_timer_is_due_after_its_time_and_claimed_once(timers):
    store, clock = timers
    store.arm("web", "p1", 60)
    store.arm("web", "p2", 120)
    assert store.due("web") == []
    clock.now += timedelta(seconds=61)
    assert [sender for sender, _ in store.due("web")] == ["p1"]
    assert store.claim("web", "p2") is None  # not due yet
    claimed = store.claim("web", "p1")
    assert claimed == clock.now and store.claim("web", "p1") is None
    assert store.due("web") == [] and store.still_claimed("web", "p1", claimed)
    store.arm("web", "p1", 60)  # a new answer: counting again, the claim is void
    assert not store.still_claimed("web", "p1", claimed)
    store.disarm("web", "p1")  # a new message
    clock.now += timedelta(seconds=600)
    assert [sender for sender, _ in store.due("web")] == ["p2"]


def test_a_new_message_removes_only_a_timer_that_could_fire_during_its_turn(timers):
    store, clock = timers
    store.arm("web", "soon", 30)
    store.arm("web", "later", 300)
    store.disarm("web", "soon", within=120)
    store.disarm("web", "later", within=120)  # the answer to this message re-arms it anyway
    clock.now += timedelta(seconds=301)
    assert [sender for sender, _ in store.due("web")] == ["later"]


def test_of_many_claimants_at_once_exactly_one_wins(timers):
    store, clock = timers
    for index in range(10):
        store.arm("web", f"p{index}", 1)
    clock.now += timedelta(seconds=2)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: store.claim("web", f"p{i % 10}"), range(80)))
    assert sum(result is not None for result in results) == 10


def test_stale_timers_are_swept(timers):
    store, clock = timers
    store.arm("web", "gone", 1)  # the page never came back
    store.arm("web", "asked", 1)
    store.arm("web", "fresh", 1)
    clock.now += timedelta(seconds=2)
    store.claim("web", "asked")
    clock.now += GRACE + timedelta(seconds=1)
    store.arm("web", "fresh", 1)
    assert store.sweep() == 2
    assert [sender for sender, _ in store.due("web")] == []
    clock.now += timedelta(seconds=2)
    assert [sender for sender, _ in store.due("web")] == ["fresh"]
