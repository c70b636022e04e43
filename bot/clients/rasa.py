"""The one client of Rasa's HTTP API: the REST channel (our page's turns, normalised for the page) and the
conversation API (`rasa run --enable-api`: pause, resume, trigger an intent, read the state) for the handoff
and the idle rating question. Timeouts are here; every failure is a `RasaUnavailable`."""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Dict, List, Optional, Sequence, Union
from urllib.parse import quote

import aiohttp

from bot.clients.ring import HashRing
from bot.privacy import mask_personal_data

logger = logging.getLogger(__name__)

# Rasa's first turns after loading can take seconds; beyond this the citizen gets the apology.
CHAT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=3)
# Conversation API calls (pause, resume, trigger, state).
API_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)


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


# The process is gone (refused, reset, closed without an answer): the message did not get through, or Rasa died
# before it stored the turn (it stores a turn's events at its end), so sending it to another process loses nothing.
_GONE = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class RasaClient:
    """`base_url`: one Rasa, or several (RASA_WORKERS): each sender is then routed to one of them by a consistent
    hash (bot/clients/ring.py) and moved to the next one on the ring when theirs does not answer."""

    def __init__(self, session: aiohttp.ClientSession, base_url: Union[str, Sequence[str]], token: str = "",
                 gate: Optional[TurnGate] = None) -> None:
        self._session = session
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.ring = HashRing([url.rstrip("/") for url in urls])
        self._params = {"token": token} if token else {}  # Rasa's API token (rasa run --auth-token)
        self.gate = gate or TurnGate()

    async def _call(self, method: str, path: str, body: Any = None,
                    timeout: aiohttp.ClientTimeout = API_TIMEOUT, sender: str = "",
                    headers: Optional[Dict[str, str]] = None) -> Any:
        nodes = self.ring.order(sender)
        for attempt, node in enumerate(nodes, 1):
            try:
                result = await self._call_one(node, method, path, body, timeout, headers)
            except _GONE as exc:
                self.ring.mark_down(node)
                if attempt == len(nodes):
                    raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
                logger.warning("Rasa at %s does not answer (%s); %s goes to %s", node, type(exc).__name__,
                               mask_personal_data(sender) or "the call", nodes[attempt])
                continue
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
            self.ring.mark_up(node)
            return result

    async def _call_one(self, node: str, method: str, path: str, body: Any, timeout: aiohttp.ClientTimeout,
                        headers: Optional[Dict[str, str]]) -> Any:
        async with self._session.request(method, f"{node}{path}", json=body, params=self._params,
                                         timeout=timeout, headers=headers) as resp:
            if resp.status != 200:
                detail = (await resp.text())[:300]
                raise RasaUnavailable(f"Rasa answered {resp.status} to {path.split('?')[0]}: {detail!r}")
            return await resp.json(content_type=None)

    # ---- the REST channel: a person's turn on our page ----

    async def send(self, sender: str, message: str) -> List[Dict[str, Any]]:
        # input_channel "web": actions know the person is on our page (the handoff can reach them there).
        body = {"sender": sender, "message": message, "input_channel": "web"}
        async with self.gate:  # a busy Rasa: the turn waits its place (bounded), it does not fail
            # One id per turn, repeated if it is resent: a turn already stored is not stored twice (Rasa's side).
            turn_id = {"X-Request-ID": uuid.uuid4().hex}
            return normalise_messages(await self._call("POST", "/webhooks/rest/webhook", body, CHAT_TIMEOUT,
                                                       sender=sender, headers=turn_id))

    async def is_up(self, timeout: float = 2.0) -> bool:
        """True when one of the Rasa processes answers."""
        for node in self.ring.nodes:
            try:
                async with self._session.get(f"{node}/", timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                    if resp.status == 200:
                        return True
            except (aiohttp.ClientError, asyncio.TimeoutError):
                continue
        return False

    # ---- the conversation API: pause and resume a person's conversation ----

    @staticmethod
    def _conversation(sender: str) -> str:
        return f"/conversations/{quote(sender, safe='')}"

    async def pause(self, sender: str) -> None:
        await self._call("POST", f"{self._conversation(sender)}/tracker/events?include_events=NONE",
                         [{"event": "pause"}], sender=sender)

    async def resume(self, sender: str, intent: Optional[str]) -> List[Dict[str, Any]]:
        """Resume the conversation; with an intent, trigger it and return the bot's messages."""
        # action_listen after the resume: the triggered intent then looks like a normal user turn to the rules.
        await self._call("POST", f"{self._conversation(sender)}/tracker/events?include_events=NONE",
                         [{"event": "resume"}, {"event": "action", "name": "action_listen"}], sender=sender)
        if not intent:
            return []
        reply = await self._call("POST", f"{self._conversation(sender)}/trigger_intent?include_events=NONE",
                                 {"name": intent, "entities": {}}, sender=sender)
        messages = reply.get("messages") if isinstance(reply, dict) else None
        if not isinstance(messages, list):
            logger.warning("no messages from Rasa after resuming %s", mask_personal_data(sender))
            return []
        return messages

    async def state(self, sender: str) -> Dict[str, Any]:
        """The conversation's current state (slots, paused, active_loop), without its events."""
        state = await self._call("GET", f"{self._conversation(sender)}/tracker?include_events=NONE", sender=sender)
        if not isinstance(state, dict):
            raise RasaUnavailable("unexpected tracker")
        return state

    async def trigger(self, sender: str, intent: str) -> List[Dict[str, Any]]:
        """Trigger an intent (as if the person said it) and return the bot's messages."""
        reply = await self._call("POST", f"{self._conversation(sender)}/trigger_intent?include_events=NONE",
                                 {"name": intent, "entities": {}}, sender=sender)
        messages = reply.get("messages") if isinstance(reply, dict) else None
        return messages if isinstance(messages, list) else []
