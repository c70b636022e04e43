"""The one way the web process runs SQL: off the event loop, on one worker thread, in the order of the calls.

`SqlThread.run(fn, *args)` runs a blocking function (SQL, a catalog load) there; `SqlThread.wrap(service)`
gives an `AsyncSQL` whose methods are the service's, awaited: `await db.claim(ticket_id, helper)` runs
`service.claim(ticket_id, helper)` on the SQL thread, so a slow database (PostgreSQL over a network) never
stalls the pages and consoles. One thread keeps the order in which the event loop asked (a person's messages
stay in order, as when the calls ran on the loop) and keeps SQLite to one writer in this process.
"""
from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class SqlThread:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def wrap(self, target: Any) -> "AsyncSQL":
        return AsyncSQL(target, self)

    def shutdown(self) -> None:
        """After the last call (at the web server's clean-up)."""
        self._executor.shutdown(wait=True)


class AsyncSQL:
    """The target's methods as coroutines on the SQL thread; attributes that are objects (e.g. `db.feedback`)
    are wrapped the same way."""

    def __init__(self, target: Any, thread: SqlThread):
        self._target = target
        self._thread = thread

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return AsyncSQL(attribute, self._thread)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._thread.run(attribute, *args, **kwargs)

        call.__name__ = name
        return call
