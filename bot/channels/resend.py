"""A turn sent again after its Rasa process died is answered once (several Rasa processes: LOCK_STORE_URL set).

Our web server's ring and the proxy resend a turn whose process died before answering. If that process had
already stored the turn, handling it again would store the person's message twice. Each turn carries an
`X-Request-ID` (the proxy sets one, our web server sends its own; a resend repeats it): the first sighting of an
id is marked in Redis (one SET NX per turn), the id rides in the user event's metadata, and a second sighting
whose turn is already in the tracker store gets the stored answer instead of a second turn."""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.events import BotUttered, UserUttered

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
METADATA_KEY = "request_id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{8,128}")
SEEN_SECONDS = 600  # longer than any resend can come


def request_id(headers: Any) -> Optional[str]:
    value = headers.get(REQUEST_ID_HEADER, "")
    return value if _REQUEST_ID.fullmatch(value) else None


class ResendGuard:
    """Knows which request ids were seen (in Redis, shared by the Rasa processes)."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._client = None

    async def first_sighting(self, rid: str) -> bool:
        if self._client is None:  # created in the server's event loop, on first use
            from redis import asyncio as aioredis

            self._client = aioredis.Redis.from_url(self.redis_url)
        try:
            return bool(await self._client.set(f"assistant:turn:{rid}", 1, nx=True, ex=SEEN_SECONDS))
        except Exception as exc:  # Redis away: handle the turn (a rare resend may then be stored twice)
            logger.warning("resend guard unavailable: %s", type(exc).__name__)
            return True


async def stored_answer(agent: Any, sender: str, rid: str) -> Optional[List[Dict[str, Any]]]:
    """The answer already stored for this request id (REST messages), or None when the turn was not stored."""
    tracker = await agent.tracker_store.retrieve(sender)
    if tracker is None:
        return None
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            if (events[index].metadata or {}).get(METADATA_KEY) != rid:
                return None  # the last turn stored is another one: this one must be handled
            return [CollectingOutputChannel._message(sender, text=e.text, image=e.data.get("image"),
                                                     buttons=e.data.get("buttons"),
                                                     attachment=e.data.get("attachment"),
                                                     custom=e.data.get("custom"))
                    for e in events[index + 1:] if isinstance(e, BotUttered)]
    return None
