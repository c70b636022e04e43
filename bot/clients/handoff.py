"""The one client of the handoff protocol: the web server's internal API, and deliveries to a channel's process.

Every call carries the per-run secret (`X-Handoff-Secret`, HANDOFF_SECRET) and has one of the timeouts below.
A failure of any kind (unreachable, timeout, not JSON, not 200) is a `HandoffUnavailable`, with the status.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional

import aiohttp

# An action waits this long for a ticket (the person is waiting for the bot's reply).
ACTION_TIMEOUT = aiohttp.ClientTimeout(total=8, connect=2)
# WeChat's passive reply must go out within 5 s: a message's relay to the helper may take this much of it.
RELAY_TIMEOUT = aiohttp.ClientTimeout(total=3, connect=1)
# A helper's message on its way to a channel in another process (WeChat's 客服消息 outbox).
DELIVERY_TIMEOUT = aiohttp.ClientTimeout(total=10)
SECRET_HEADER = "X-Handoff-Secret"


class HandoffUnavailable(Exception):
    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


class HandoffClient:
    """`url`: the internal API's base (Settings.handoff_url); `session`: shared, or made on first use per loop."""

    def __init__(self, url: Optional[str], secret: str, timeout: aiohttp.ClientTimeout = ACTION_TIMEOUT,
                 session: Optional[aiohttp.ClientSession] = None):
        self.url = (url or "").rstrip("/")
        self.secret = secret
        self.timeout = timeout
        self._session = session
        self._own_session: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def enabled(self) -> bool:
        return bool(self.url and self.secret)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        loop = asyncio.get_running_loop()
        if self._own_session is None or self._own_session.closed or self._loop is not loop:
            self._own_session = aiohttp.ClientSession()  # made on the serving loop, kept for the next calls
            self._loop = loop
        return self._own_session

    async def close(self) -> None:
        if self._own_session is not None and not self._own_session.closed:
            await self._own_session.close()

    async def post_to(self, url: str, body: Any, timeout: Optional[aiohttp.ClientTimeout] = None) -> Any:
        """POST with the secret; the JSON reply of a 2xx answer, else HandoffUnavailable."""
        if not url or not self.secret:
            raise HandoffUnavailable("handoff address or secret not set")
        try:
            async with self._http().post(url, json=body, headers={SECRET_HEADER: self.secret},
                                         timeout=timeout or self.timeout) as resp:
                data = await resp.json(content_type=None)
                if not 200 <= resp.status < 300:
                    raise HandoffUnavailable(f"{url.split('?')[0]} answered {resp.status}: {data!r:.200}",
                                             resp.status)
                return data
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise HandoffUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def _post(self, path: str, body: dict, timeout: Optional[aiohttp.ClientTimeout] = None) -> dict:
        if not self.enabled:
            raise HandoffUnavailable("HANDOFF_PORT/HANDOFF_SECRET not set")
        data = await self.post_to(f"{self.url}{path}", body, timeout)
        if not isinstance(data, dict):
            raise HandoffUnavailable(f"{path} answered with {type(data).__name__}")
        return data

    # ---- the internal API (see bot/handoff/internal_api.py) ----

    async def open_ticket(self, body: dict) -> dict:
        """Open a ticket (or get the person's open one): ticket_id, status, mode, queue, position, wait."""
        return await self._post("/internal/handoff/tickets", body)

    async def leave_message(self, ticket_id: int, message: str, phone: Optional[str]) -> dict:
        return await self._post(f"/internal/handoff/tickets/{int(ticket_id)}/message",
                                {"message": message, "phone": phone})

    async def rate(self, channel: str, sender: str, score: int, comment: Optional[str] = None,
                   kind: str = "human", matter: Optional[str] = None) -> dict:
        """Store a 好差评: kind "human" goes on the person's recent ticket. Returns {"rating_id", "ticket_id"}."""
        return await self._post("/internal/handoff/ratings", {"channel": channel, "sender": sender, "score": score,
                                                              "comment": comment, "kind": kind, "matter": matter})

    async def comment(self, rating_id: int, channel: str, sender: str, comment: str) -> dict:
        return await self._post(f"/internal/handoff/ratings/{int(rating_id)}/comment",
                                {"channel": channel, "sender": sender, "comment": comment})

    async def complaint(self, channel: str, sender: str, detail: str, phone: str, matter: Optional[str],
                        matter_text: Optional[str]) -> dict:
        """Store a 办不成事 complaint: {"complaint_id", "reference"}."""
        return await self._post("/internal/handoff/complaints",
                                {"channel": channel, "sender": sender, "detail": detail, "phone": phone,
                                 "matter": matter, "matter_text": matter_text})

    async def attach_complaint(self, complaint_id: int, ticket_id: int) -> dict:
        return await self._post(f"/internal/handoff/complaints/{int(complaint_id)}/ticket", {"ticket_id": ticket_id})

    async def incoming(self, channel: str, sender: str, text: str) -> dict:
        """A channel's message from a person: {"routed": bool, "messages": [...]} (routed: a helper has it)."""
        return await self._post("/internal/handoff/incoming", {"channel": channel, "sender": sender, "text": text},
                                RELAY_TIMEOUT)

    # ---- deliveries to a channel served by another process ----

    async def deliver(self, deliver_url: str, body: dict) -> Any:
        return await self.post_to(deliver_url, body, DELIVERY_TIMEOUT)
