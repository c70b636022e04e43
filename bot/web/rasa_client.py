"""Talk to Rasa's REST channel and normalise what it returns."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional

import aiohttp

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa could not be reached or answered with an error."""


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
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")

    async def send(self, sender: str, message: str) -> List[Dict[str, Any]]:
        url = f"{self._base_url}/webhooks/rest/webhook"
        # input_channel "web": actions know the person is on our page (the handoff can reach them there).
        body = {"sender": sender, "message": message, "input_channel": "web"}
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
