"""Back-pressure in front of Rasa (bot.web.rasa_client.TurnGate): queue in order, refuse only past the bound."""
from __future__ import annotations

import asyncio

import pytest

from bot.clients.rasa import RasaBusy, TurnGate

pytestmark = pytest.mark.asyncio


async def test_turns_beyond_the_slots_wait_in_order_and_all_get_through():
    gate = TurnGate(in_flight=2, waiting=10, max_wait=5)
    order, running, peak = [], 0, 0

    async def turn(number: int) -> None:
        nonlocal running, peak
        async with gate:
            running += 1
            peak = max(peak, running)
            order.append(number)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(turn(n) for n in range(12)))
    assert peak == 2
    assert order == list(range(12))  # first come, first served
    assert gate.waiting == 0


async def test_past_the_queue_bound_a_turn_is_refused_at_once():
    gate = TurnGate(in_flight=1, waiting=1, max_wait=5)
    release = asyncio.Event()

    async def hold() -> None:
        async with gate:
            await release.wait()

    first = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    second = asyncio.ensure_future(hold())  # waits
    await asyncio.sleep(0)
    with pytest.raises(RasaBusy):
        async with gate:
            pass
    release.set()
    await asyncio.gather(first, second)
    async with gate:  # free again
        pass


async def test_a_turn_that_waits_too_long_is_refused():
    gate = TurnGate(in_flight=1, waiting=5, max_wait=0.05)
    release = asyncio.Event()

    async def hold() -> None:
        async with gate:
            await release.wait()

    holder = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    with pytest.raises(RasaBusy):
        async with gate:
            pass
    assert gate.waiting == 0
    release.set()
    await holder
