"""A stand-in for a remote service: an aiohttp application served on a free port from its own thread of the
test process, so synchronous tests can use it too."""
from __future__ import annotations

import abc
import asyncio
import threading
from typing import Optional

from aiohttp import web

from bot.supervisor import free_ports


class ThreadedServer(abc.ABC):
    """Subclasses build the application in `make_app()`; `start()` serves it, `stop()` ends the thread."""

    def __init__(self, name: str) -> None:
        self.port = free_ports(1)[0]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._runner: Optional[web.AppRunner] = None

    @abc.abstractmethod
    def make_app(self) -> web.Application:
        """The application to serve."""

    def start(self):
        self._thread.start()
        app = self.make_app()

        async def up():
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        asyncio.run_coroutine_threadsafe(up(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
