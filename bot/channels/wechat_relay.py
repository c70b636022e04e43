"""While a WeChat person has an open handoff ticket, their messages go to the web server's handoff, not the bot.

The web server owns the handoff (bot/handoff); this is its internal API seen from the Rasa process:
POST /internal/handoff/incoming with the per-run secret (HANDOFF_URL, HANDOFF_SECRET set by `python -m bot.run`).
"""
from __future__ import annotations

import asyncio
import logging
from typing import List, Optional

import aiohttp

from bot.privacy import mask_openid

logger = logging.getLogger(__name__)

CHANNEL = "wechat"
TIMEOUT = aiohttp.ClientTimeout(total=3, connect=1)


class HandoffRelay:
    def __init__(self, url: str, secret: str):
        self.url = url.rstrip("/")
        self.secret = secret
        self._session: Optional[aiohttp.ClientSession] = None

    @property
    def enabled(self) -> bool:
        return bool(self.url and self.secret)

    async def incoming(self, openid: str, text: str) -> Optional[List[dict]]:
        """None: the bot answers. Otherwise the message went to the ticket; these are the replies to show now."""
        if not self.enabled:
            return None
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)  # created on the serving loop
        try:
            async with self._session.post(f"{self.url}/internal/handoff/incoming",
                                          json={"channel": CHANNEL, "sender": openid, "text": text},
                                          headers={"X-Handoff-Secret": self.secret}) as resp:
                data = await resp.json(content_type=None)
                if resp.status != 200:
                    if resp.status != 400:  # 400: nothing a helper could read (empty text); the bot answers
                        logger.error("handoff relay answered %s for %s", resp.status, mask_openid(openid))
                    return None
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            # The bot is paused during a handoff anyway, so it stays silent rather than answering wrongly.
            logger.error("handoff relay unreachable for %s: %s", mask_openid(openid), type(exc).__name__)
            return None
        if not isinstance(data, dict) or not data.get("routed"):
            return None
        messages = data.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
