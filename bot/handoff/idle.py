"""The 好差评 question when a person goes quiet on the web page.

After the bot answered, a timer runs per person; any new message from them cancels it. When it fires and the
page is still open, the person has no open ticket, and Rasa is neither paused nor inside a form nor has asked
already (slot `rating_asked`), the web server triggers `EXTERNAL_idle` through Rasa's HTTP API and pushes the
bot's reply (the rating question) over the page's WebSocket. The action decides the rest (once per session,
only after a real answer). Timers live in this process: a restart of the web server forgets them.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Dict, Optional, Set, Tuple

from bot.clients.rasa import RasaClient, RasaUnavailable, normalise_messages
from bot.privacy import mask_personal_data

from .hub import PersonHub
from .sql import AsyncSQL

logger = logging.getLogger(__name__)

IDLE_INTENT = "EXTERNAL_idle"
CHANNEL = "web"  # the channel whose pages this process owns
_NOT_A_QUESTION = ("/greet", "/session_start", "/restart")


class IdleWatcher:
    def __init__(self, db: AsyncSQL, rasa: Optional[RasaClient], hub: PersonHub, seconds: float):
        self.db, self.rasa, self.hub = db, rasa, hub
        self.seconds = seconds
        self._timers: Dict[Tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: Set[asyncio.Task] = set()

    @property
    def enabled(self) -> bool:
        return self.seconds > 0 and self.rasa is not None

    def touch(self, sender: str) -> None:
        """The person wrote: they are not idle."""
        timer = self._timers.pop((CHANNEL, sender), None)
        if timer is not None:
            timer.cancel()

    def answered(self, sender: str, message: str) -> None:
        """The bot answered the person's message: start counting."""
        self.touch(sender)
        if not self.enabled or message.strip().split("{", 1)[0] in _NOT_A_QUESTION:
            return
        key = (CHANNEL, sender)
        self._timers[key] = asyncio.get_running_loop().call_later(self.seconds, self._start, key)

    def _start(self, key: Tuple[str, str]) -> None:
        self._timers.pop(key, None)
        task = asyncio.get_running_loop().create_task(self._fire(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fire(self, key: Tuple[str, str]) -> None:
        channel, sender = key
        try:
            if not self.hub.connected(key) or await self.db.open_ticket(channel, sender) is not None:
                return
            state = await self.rasa.state(sender)
            slots = state.get("slots") or {}
            if state.get("paused") or (state.get("active_loop") or {}).get("name") or slots.get("rating_asked"):
                return
            if key in self._timers:  # the person wrote meanwhile
                return
            messages = normalise_messages(await self.rasa.trigger(sender, IDLE_INTENT))
            if messages:
                await self.hub.send(key, {"type": "bot", "messages": messages})
                logger.info("idle rating question sent to %s", mask_personal_data(sender))
        except RasaUnavailable as exc:
            logger.warning("idle check for %s failed: %s", mask_personal_data(sender), exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("idle check for %s failed", mask_personal_data(sender))

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
