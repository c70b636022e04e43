"""The channel layer's view of the handoff: one small interface for every channel.

    handled = await router.incoming(channel, sender, text)   # None: give the message to the bot as usual
    await router.outgoing(channel, sender, message)          # a helper/notice/bot message to the person

A channel registers a `ChannelSender` that knows how to reach its people. The web page's sender pushes over
the page's WebSocket (the page catches up from SQL when it reconnects). A channel living in another process
(WeChat inside the Rasa process) calls the internal HTTP API (`POST /internal/handoff/incoming`) for
`incoming`, and is registered here as an `HttpChannelSender` for `outgoing` (its deliver_url derived by
bot.run, or configured in handoff.yml).
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable, Dict, Optional, Protocol, Tuple

from bot.clients.handoff import HandoffClient, HandoffUnavailable
from bot.privacy import mask_personal_data

from .records import MessageInfo

# (channel, sender, text) -> None when the bot should answer, else what to reply at once.
IncomingHandler = Callable[[str, str, str], Awaitable[Optional[dict]]]

logger = logging.getLogger(__name__)


class ChannelSender(Protocol):
    async def deliver(self, sender: str, message: MessageInfo) -> None:
        """Show a stored message (helper, notice or bot) to the person."""

    async def state(self, sender: str, state: Optional[dict]) -> None:
        """The handoff's current state changed (position, helper); None when it is over."""

    async def typing(self, sender: str) -> None:
        """The helper is typing."""


def message_frame(message: MessageInfo) -> dict:
    extra = message.extra or {}
    return {
        "type": "message",
        "id": message.id,
        "author": message.author,
        "text": message.text,
        "name": message.helper_name,
        "staff_no": message.helper_staff_no,
        "buttons": extra.get("buttons") or [],
        "at": message.created_at.isoformat() + "Z",
    }


class WebChannelSender:
    channel = "web"

    def __init__(self, send: Callable[[Tuple[str, str], dict], Awaitable[None]]):
        self.send = send  # LiveEvents.to_person: the page may be open on any web process

    async def deliver(self, sender: str, message: MessageInfo) -> None:
        await self.send((self.channel, sender), message_frame(message))

    async def state(self, sender: str, state: Optional[dict]) -> None:
        await self.send((self.channel, sender), {"type": "state", "handoff": state})

    async def typing(self, sender: str) -> None:
        await self.send((self.channel, sender), {"type": "typing"})


class HttpChannelSender:
    """A channel served by another process: each message is POSTed to its deliver_url (with the secret)."""

    def __init__(self, client: HandoffClient, url: str):
        self.client, self.url = client, url

    async def _post(self, body: dict) -> None:
        try:
            await self.client.deliver(self.url, body)
        except HandoffUnavailable as exc:
            if exc.status is not None:
                logger.error("channel delivery to %s answered %s", self.url, exc.status)
            else:
                logger.error("channel delivery to %s failed: %s", self.url, str(exc).split(":")[0])

    async def deliver(self, sender: str, message: MessageInfo) -> None:
        await self._post({"sender": sender, "kind": "message", **message_frame(message)})

    async def state(self, sender: str, state: Optional[dict]) -> None:
        if state and state.get("text"):
            await self._post({"sender": sender, "kind": "state", "text": state["text"]})

    async def typing(self, sender: str) -> None:
        return None


class HandoffRouter:
    def __init__(self, on_incoming: IncomingHandler):
        self._on_incoming = on_incoming
        self._senders: Dict[str, ChannelSender] = {}

    def register(self, channel: str, sender: ChannelSender) -> None:
        self._senders[channel] = sender

    def supports(self, channel: str) -> bool:
        return channel in self._senders

    async def incoming(self, channel: str, sender: str, text: str) -> Optional[dict]:
        """None when the bot should answer; otherwise what to reply at once: {"messages": [...], "state": ...}."""
        return await self._on_incoming(channel, sender, text)

    async def outgoing(self, channel: str, sender: str, message: MessageInfo) -> None:
        target = self._senders.get(channel)
        if target is None:
            logger.error("no sender registered for channel %s (person %s)", channel, mask_personal_data(sender))
            return
        await target.deliver(sender, message)

    async def state(self, channel: str, sender: str, state: Optional[dict]) -> None:
        target = self._senders.get(channel)
        if target is not None:
            await target.state(sender, state)

    async def typing(self, channel: str, sender: str) -> None:
        target = self._senders.get(channel)
        if target is not None:
            await target.typing(sender)
