"""While a person on a channel of the Rasa process (WeChat, socket.io widgets) has an open handoff ticket, their
messages go to the web server's handoff, not the bot.

The web server owns the handoff (bot/handoff); this is what a channel makes of its internal API's answer
(`HandoffClient.incoming`, with the per-run secret: HANDOFF_PORT, HANDOFF_SECRET set by `python -m bot.run`).
"""
from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Callable, List, Optional, Pattern, Union

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.clients.handoff import HandoffClient, HandoffUnavailable
from bot.privacy import mask_personal_data

logger = logging.getLogger(__name__)


class HandoffRelay:
    def __init__(self, client: HandoffClient, channel: str, mask: Callable[[Any], str] = mask_personal_data):
        self.client, self.channel, self.mask = client, channel, mask

    @property
    def enabled(self) -> bool:
        return self.client.enabled

    async def incoming(self, sender: str, text: str) -> Optional[List[dict]]:
        """None: the bot answers. Otherwise the message went to the ticket; these are the replies to show now."""
        if not self.enabled:
            return None
        try:
            data = await self.client.incoming(self.channel, sender, text)
        except HandoffUnavailable as exc:
            if exc.status == 400:  # nothing a helper could read (empty text); the bot answers
                return None
            # The bot is paused during a handoff anyway, so it stays silent rather than answering wrongly.
            if exc.status is not None:
                logger.error("handoff relay answered %s for %s", exc.status, self.mask(sender))
            else:
                logger.error("handoff relay unreachable for %s: %s", self.mask(sender), str(exc).split(":")[0])
            return None
        if not data.get("routed"):
            return None
        messages = data.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def read_delivery(request: Request, secret: str, sender_re: Pattern[str]) -> Union[dict, HTTPResponse]:
    """A delivery from the handoff to a channel of this process (`POST …/deliver`): the checked JSON object, or the
    reply to give instead (403 without the per-run secret, 400 for a malformed body or sender)."""
    given = request.headers.get("X-Handoff-Secret", "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        return response.json({"error": "forbidden"}, status=403)
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return response.json({"error": "invalid_json"}, status=400)
    sender = data.get("sender") if isinstance(data, dict) else None
    if not isinstance(sender, str) or not sender_re.fullmatch(sender):
        return response.json({"error": "invalid_sender"}, status=400)
    return data
