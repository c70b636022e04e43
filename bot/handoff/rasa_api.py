"""Pause and resume a person's Rasa conversation through Rasa's HTTP API (rasa run --enable-api)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from bot.privacy import mask_personal_data

logger = logging.getLogger(__name__)


class RasaApiError(Exception):
    pass


class RasaBridge:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str = "", timeout: float = 10.0):
        self._session = session
        self._base = base_url.rstrip("/")
        self._params = {"token": token} if token else {}  # Rasa's API token (rasa run --auth-token)
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=3)

    async def _post(self, path: str, body: Any) -> Any:
        try:
            async with self._session.post(f"{self._base}{path}", json=body, params=self._params,
                                          timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise RasaApiError(f"Rasa answered {resp.status} to {path.split('?')[0]}")
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaApiError(f"{type(exc).__name__}: {exc}") from exc

    async def _get(self, path: str) -> Any:
        try:
            async with self._session.get(f"{self._base}{path}", params=self._params,
                                         timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise RasaApiError(f"Rasa answered {resp.status} to {path.split('?')[0]}")
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaApiError(f"{type(exc).__name__}: {exc}") from exc

    def _conversation(self, sender: str) -> str:
        return f"/conversations/{quote(sender, safe='')}"

    async def pause(self, sender: str) -> None:
        await self._post(f"{self._conversation(sender)}/tracker/events?include_events=NONE", [{"event": "pause"}])

    async def resume(self, sender: str, intent: Optional[str]) -> List[Dict[str, Any]]:
        """Resume the conversation; with an intent, trigger it and return the bot's messages."""
        # action_listen after the resume: the triggered intent then looks like a normal user turn to the rules.
        await self._post(f"{self._conversation(sender)}/tracker/events?include_events=NONE",
                         [{"event": "resume"}, {"event": "action", "name": "action_listen"}])
        if not intent:
            return []
        reply = await self._post(f"{self._conversation(sender)}/trigger_intent?include_events=NONE",
                                 {"name": intent, "entities": {}})
        messages = reply.get("messages") if isinstance(reply, dict) else None
        if not isinstance(messages, list):
            logger.warning("no messages from Rasa after resuming %s", mask_personal_data(sender))
            return []
        return messages

    async def state(self, sender: str) -> Dict[str, Any]:
        """The conversation's current state (slots, paused, active_loop), without its events."""
        state = await self._get(f"{self._conversation(sender)}/tracker?include_events=NONE")
        if not isinstance(state, dict):
            raise RasaApiError("unexpected tracker")
        return state

    async def trigger(self, sender: str, intent: str) -> List[Dict[str, Any]]:
        """Trigger an intent (as if the person said it) and return the bot's messages."""
        reply = await self._post(f"{self._conversation(sender)}/trigger_intent?include_events=NONE",
                                 {"name": intent, "entities": {}})
        messages = reply.get("messages") if isinstance(reply, dict) else None
        return messages if isinstance(messages, list) else []
