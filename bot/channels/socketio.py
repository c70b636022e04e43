"""socket.io for the standard Rasa web widgets (rasa-webchat and its kin), on Rasa's own channel.

Registered in credentials.yml as `bot.channels.socketio.SocketIOInput` in place of `socketio:`; it keeps the
channel name `socketio`, the path `/socket.io/` and the events `user_uttered` / `bot_uttered`. What it changes:

- `session_request` awaits `enter_room`: Rasa 3.6.21 calls it without `await`, and python-socketio 5 made it a
  coroutine, so with `session_persistence: true` the socket never joined the session's room and no reply ever
  reached a widget.
- A message is cleaned and cut to MESSAGE_MAX_CHARS before it reaches NLU (DIET's attention is quadratic in
  its length), exactly as our own page does.
- A malformed payload (not an object, no `message`, a message without text, no session) gets a polite
  `bot_uttered` from domain.yml and a warning in the log, never an exception. `"message": null` is what
  rasa-webchat sends when it opens without an `initPayload`: it is not answered.
- Lines are kept as lines in Markdown widgets (rasa-webchat renders Markdown: a lone newline joins lines).
- Custom JSON (our page's checkbox checklist) goes out as `{"custom": ...}`: Rasa's version passes the dict's
  keys to `emit()` as arguments and fails on anything but `emit`'s own parameters.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput as RasaSocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.clients.handoff import RELAY_TIMEOUT, HandoffClient
from bot.limits import MESSAGE_MAX_CHARS, clean_text, cut_message
from bot.privacy import mask_personal_data
from bot.settings import Settings
from bot.texts import DomainTexts

from .relay import HandoffRelay, read_delivery

logger = logging.getLogger(__name__)

# A widget's session id (rasa-webchat: 32 hex digits); anything else gets a new one.
SESSION_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")

CHANNEL = "socketio"
BAD_MESSAGE = "utter_channel_bad_message"
CUT_NOTICE = "utter_message_cut"
NO_SESSION = "utter_channel_no_session"


def clean_message(message: Any) -> Tuple[Optional[str], bool]:
    """The text to hand to Rasa, cut to MESSAGE_MAX_CHARS, and whether it was cut; None when there is no text."""
    if not isinstance(message, str):
        return None, False
    text, was_cut = cut_message(clean_text(message, limit=len(message)))
    return (text.strip() or None), was_cut


def clean_metadata(raw: Any) -> Dict[Text, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def markdown_breaks(text: Text) -> Text:
    """Line breaks that a Markdown widget keeps: rasa-webchat joins the lines of a list into one paragraph."""
    return "\n\n".join(part.replace("\n", "  \n") for part in text.strip().split("\n\n"))


class SocketIOOutput(RasaSocketIOOutput):
    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await super().send_text_message(recipient_id, markdown_breaks(text), **kwargs)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]],
                                     **kwargs: Any) -> None:
        """As Rasa's (one message per paragraph, the buttons on the last), but as `buttons`, which rasa-webchat
        keeps on screen: its `quick_replies` vanish once another message arrives, and an answer often ends with
        an offer followed by one more message (the checklist question, the rating's comment prompt)."""
        parts = markdown_breaks(text).split("\n\n")
        for part in parts[:-1]:
            await self._send_message(recipient_id, {"text": part})
        await self._send_message(recipient_id, {"text": parts[-1], "buttons": [
            {"type": "postback", "title": button["title"], "payload": button["payload"]} for button in buttons]})

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


def share_rooms(sio: Any, redis_url: str) -> None:
    """Several Rasa processes (LOCK_STORE_URL set): an emit to a person's room reaches their widget through Redis
    whichever process holds its socket (the proxy keeps a widget on one process by its address; a helper's
    message from the handoff, or a reply, may come from another)."""
    import socketio

    manager = socketio.AsyncRedisManager(redis_url, channel="assistant-socketio")
    manager.set_server(sio)
    sio.manager = manager  # before any connection: the server starts its listener on the first one


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io channel with its session room joined, long messages cut and bad payloads answered."""

    def __init__(self, *args: Any, relay: Optional[HandoffRelay] = None, settings: Optional[Settings] = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._texts: Optional[DomainTexts] = None
        self.settings = settings or Settings.from_env()
        # While a person is handed off, their messages go to the helper (bot/handoff), not the bot.
        self.relay = relay or HandoffRelay(HandoffClient(self.settings.handoff_url, self.settings.handoff_secret,
                                                         timeout=RELAY_TIMEOUT), CHANNEL)

    def text(self, name: str, **values: Any) -> str:
        if self._texts is None:  # read once, on first use (the domain of this project)
            self._texts = DomainTexts.load(self.settings.domain_path)
        return self._texts.render(name, **values)

    def get_output_channel(self) -> Optional[RasaSocketIOOutput]:
        if self.sio is None:
            return super().get_output_channel()  # Rasa's warning, and None
        return SocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio  # set by Rasa's blueprint(); its connect/disconnect handlers stay as they are
        if self.settings.lock_store_url:
            share_rooms(sio, self.settings.lock_store_url)

        async def tell(sid: Text, response: str, **values: Any) -> None:
            await sio.emit(self.bot_message_evt, {"text": self.text(response, **values)}, room=sid,
                           namespace=self.namespace)

        async def session_request(sid: Text, data: Any = None, *_more: Any) -> None:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(session_id, str) or not SESSION_ID_RE.fullmatch(session_id):
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug("socket.io session %s confirmed", mask_personal_data(session_id))

        async def handle_message(sid: Text, data: Any = None, *_more: Any) -> None:
            if not isinstance(data, dict):
                logger.warning("socket.io: a %s payload instead of an object; answered politely", type(data).__name__)
                await tell(sid, BAD_MESSAGE)
                return
            if "message" in data and data["message"] is None:
                # What rasa-webchat sends when it opens without an initPayload: nothing to answer.
                logger.debug("socket.io: a widget opened without an initial payload")
                return
            text, was_cut = clean_message(data.get("message"))
            if text is None:
                logger.warning("socket.io: a payload without a text message; answered politely")
                await tell(sid, BAD_MESSAGE)
                return
            if self.session_persistence:
                sender_id = data.get("session_id")
                if not isinstance(sender_id, str) or not SESSION_ID_RE.fullmatch(sender_id):
                    logger.warning("socket.io: a message without a valid session_id; answered politely")
                    await tell(sid, NO_SESSION)
                    return
                # A widget that sends before its session_request was confirmed still gets the answer.
                await sio.enter_room(sid, sender_id, namespace=self.namespace)
            else:
                sender_id = sid
            if was_cut:  # said before the answer, to the person's room
                await tell(sender_id if self.session_persistence else sid, CUT_NOTICE, max_chars=MESSAGE_MAX_CHARS)
            relayed = await self.relay.incoming(sender_id, text)
            if relayed is not None:  # handed off: a helper has it (and the bot is paused)
                output = SocketIOOutput(sio, self.bot_message_evt)
                for reply in relayed:
                    await output.send_response(sender_id, {"text": reply.get("text"), "buttons": reply.get("buttons")})
                return
            message = UserMessage(
                text,
                SocketIOOutput(sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata=clean_metadata(data.get(self.metadata_key)),
            )
            await on_new_message(message)

        @blueprint.route("/deliver", methods=["POST"])
        async def deliver(request: Request) -> HTTPResponse:
            """A helper's (or the resumed bot's) message from the handoff, pushed to the person's session room."""
            data = read_delivery(request, self.settings.handoff_secret, SESSION_ID_RE)
            if not isinstance(data, dict):
                return data
            sender = data["sender"]
            if data.get("kind") != "message" or not isinstance(data.get("text"), str):
                return response.json({"sent": 0})  # queue positions: a widget has no status line
            buttons = [b for b in data.get("buttons") or [] if isinstance(b, dict) and isinstance(b.get("title"), str)]
            await SocketIOOutput(sio, self.bot_message_evt).send_response(sender, {"text": data["text"],
                                                                                   "buttons": buttons})
            return response.json({"sent": 1})

        # Replace Rasa's handlers for these events (python-socketio keeps one handler per event and namespace).
        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return blueprint
