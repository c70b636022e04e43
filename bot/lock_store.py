"""Rasa's Redis lock store, with a waiting turn that cannot wait forever (LOCK_STORE_URL; bot/endpoints.py).

Rasa 3.6's ticket lock drops expired tickets, the waiter's own included: when a Rasa process dies holding a
conversation's ticket and the person's turn is resent at once, both tickets expire within the same second of
polling and the waiter finds no ticket of its own to be served — it polls forever (every resent turn of a killed
process's people timed out in tests/test_scale_rasa.py). Here a waiter whose ticket expired is served as soon as no
live ticket is ahead of it, and a lock that vanished means nobody holds it."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import RedisLockStore

logger = logging.getLogger(__name__)


class RedisTicketLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Any = None, **kwargs: Any) -> None:
        # Rasa builds a lock store named by module path from its endpoint (url = the Redis host).
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    async def _acquire_lock(self, conversation_id: Text, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        while True:
            lock = self.get_lock(conversation_id)
            if lock is None:
                return TicketLock(conversation_id)
            lock.remove_expired_tickets()
            live = [t.number for t in lock.tickets]
            if (ticket in live and not lock.is_locked(ticket)) or (
                    ticket not in live and not any(number < ticket for number in live)):
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            self.update_lock(conversation_id)
