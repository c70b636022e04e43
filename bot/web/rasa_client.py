"""Talk to Rasa's REST channel and normalise what it returns."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional

import aiohttp

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa could not be reached or answered with an error."""


class RasaBusy(RasaUnavailable):
    """More turns are waiting for Rasa than the queue holds: the person is asked to try again shortly."""


class TurnGate:
    """Admission to Rasa: at most `in_flight` turns at once, at most `waiting` more queued in arrival order.

    A busy Rasa then means a slower answer, not an error; only past the queue's bound (or after waiting
    `max_wait` seconds) does a turn fail, with RasaBusy. Without it, aiohttp's pool made turns wait for a
    connection inside the 3 s connect timeout and 38% of turns failed at 200 people.
    """

    def __init__(self, in_flight: int = 8, waiting: int = 400, max_wait: float = 60.0) -> None:
        self._slots = asyncio.Semaphore(in_flight)
        self.in_flight, self.max_waiting, self.max_wait = in_flight, waiting, max_wait
        self.waiting = 0

    async def __aenter__(self) -> "TurnGate":
        if not self._slots.locked() and not self.waiting:
            await self._slots.acquire()  # a free slot and nobody queued: no wait, no count
            return self
        if self.waiting >= self.max_waiting:
            raise RasaBusy(f"{self.waiting} turns already wait for Rasa")
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.max_wait)
        except asyncio.TimeoutError:
            raise RasaBusy(f"no turn slot within {self.max_wait:.0f} s") from None
        finally:
            self.waiting -= 1
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._slots.release()


def _str_or_none(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value != "" else None


MAX_CHECKLIST_ITEMS = 100
MAX_LABEL_CHARS = 300


def _label(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_LABEL_CHARS else None


def _checklist(custom: Any) -> Optional[Dict[str, Any]]:
    """The 一次性告知单 checklist of a custom message (actions/guide.py), checked field by field."""
    checklist = custom.get("checklist") if isinstance(custom, dict) else None
    if not isinstance(checklist, dict) or not isinstance(checklist.get("items"), list):
        return None
    items = []
    for item in checklist["items"][:MAX_CHECKLIST_ITEMS]:
        if isinstance(item, dict) and isinstance(item.get("index"), int) and _label(item.get("name")):
            items.append({"index": item["index"], "name": item["name"]})
    labels = {key: _label(checklist.get(key)) for key in ("label", "submit", "none")}
    if not items or None in labels.values():
        return None
    return {"items": items, **labels}


def normalise_messages(raw: Any) -> List[Dict[str, Any]]:
    """Keep only text, buttons, image and a checklist, with the types the page relies on."""
    if not isinstance(raw, list):
        raise RasaUnavailable(f"unexpected REST reply of type {type(raw).__name__}")
    messages = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        buttons = []
        for button in item.get("buttons") or []:
            if isinstance(button, dict) and isinstance(button.get("title"), str):
                payload = button.get("payload")
                buttons.append(
                    {"title": button["title"], "payload": payload if isinstance(payload, str) else button["title"]}
                )
        image = _str_or_none(item.get("image"))
        if image is not None and not image.lower().startswith(("https://", "http://")):
            image = None  # only web images; never javascript: or data: from a response
        text = _str_or_none(item.get("text"))
        checklist = _checklist(item.get("custom"))
        if text is None and not buttons and image is None and checklist is None:
            continue  # other custom payloads have nothing the page can show
        message = {"text": text, "buttons": buttons, "image": image}
        if checklist is not None:
            message["checklist"] = checklist
        messages.append(message)
    return messages


class RasaClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, gate: Optional[TurnGate] = None) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self.gate = gate or TurnGate()

    async def send(self, sender: str, message: str) -> List[Dict[str, Any]]:
        url = f"{self._base_url}/webhooks/rest/webhook"
        # input_channel "web": actions know the person is on our page (the handoff can reach them there).
        body = {"sender": sender, "message": message, "input_channel": "web"}
        async with self.gate:
            return await self._send(url, body)

    async def _send(self, url: str, body: Dict[str, Any]) -> List[Dict[str, Any]]:
        try:
            async with self._session.post(url, json=body) as resp:
                if resp.status != 200:
                    detail = (await resp.text())[:300]
                    raise RasaUnavailable(f"Rasa answered {resp.status}: {detail!r}")
                raw = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return normalise_messages(raw)

    async def is_up(self, timeout: float = 2.0) -> bool:
        try:
            async with self._session.get(
                f"{self._base_url}/", timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False
