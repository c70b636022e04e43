"""The REST channel with its input checked: replaces Rasa's `RestInput` (same name, same URL).

Rasa's own handler answers 500 on a body that is not a JSON object, reads a message of any length and logs the
whole message text when a turn fails. Here a malformed body gets a 400, a message longer than
`MESSAGE_MAX_CHARS` is cut before Rasa sees it (the person is told first: `utter_message_cut`), and failures are
logged without the text. Registered in credentials.yml by its module path. (No streaming: nothing of ours uses it.)
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.limits import MESSAGE_MAX_CHARS, cut_message
from bot.privacy import mask_personal_data
from bot.texts import DomainTexts

from .resend import METADATA_KEY, ResendGuard, request_id, stored_answer

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 128
CUT_NOTICE = "utter_message_cut"


def domain_text(request: Request, name: str, **values: Any) -> Optional[str]:
    """A domain response of the loaded model, filled (the domain-text service); None when there is none."""
    agent = getattr(request.app.ctx, "agent", None)
    domain = getattr(agent, "domain", None)
    texts = DomainTexts.of({"responses": domain.responses} if domain is not None else {})
    return texts.render(name, **values) if name in texts else None


def check_body(raw: bytes) -> Dict[str, Any]:
    """The request's JSON object with a usable sender and message, or ValueError naming what is wrong."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("invalid_json") from None
    if not isinstance(data, dict):
        raise ValueError("invalid_json")
    sender = data.get("sender", "default")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        raise ValueError("invalid_sender")
    if not isinstance(data.get("message"), str):
        raise ValueError("invalid_message")
    if data.get("metadata") is not None and not isinstance(data["metadata"], dict):
        raise ValueError("invalid_metadata")
    if data.get("input_channel") is not None and not isinstance(data["input_channel"], str):
        raise ValueError("invalid_input_channel")
    return data


class GuardedRestInput(RestInput):
    def __init__(self) -> None:
        super().__init__()
        from bot.settings import Settings

        lock_store = Settings.from_env().lock_store_url  # several Rasa processes: resends are possible
        self.resends = ResendGuard(lock_store) if lock_store else None

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        hook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                data = check_body(request.body or b"")
            except ValueError as exc:
                return response.json({"error": str(exc)}, status=400)
            sender = data.get("sender", "default")
            metadata = data.get("metadata")
            rid = request_id(request.headers) if self.resends is not None else None
            if rid is not None:
                if not await self.resends.first_sighting(rid):
                    stored = await stored_answer(request.app.ctx.agent, sender, rid)
                    if stored is not None:
                        logger.info("a resent turn of %s answered from the tracker store", mask_personal_data(sender))
                        return response.json(stored)
                metadata = {**(metadata or {}), METADATA_KEY: rid}
            text, was_cut = cut_message(data["message"], MESSAGE_MAX_CHARS)
            collector = CollectingOutputChannel()
            if was_cut:
                notice = domain_text(request, CUT_NOTICE, max_chars=MESSAGE_MAX_CHARS)
                if notice:
                    await collector.send_text_message(sender, notice)
            message = UserMessage(text, collector, sender, input_channel=data.get("input_channel") or self.name(),
                                  metadata=metadata)
            try:
                await on_new_message(message)
            except asyncio.CancelledError:
                logger.error("REST turn of %s timed out", mask_personal_data(sender))
            except Exception:  # the person still gets what was collected; the log has no message text
                logger.exception("REST turn of %s failed", mask_personal_data(sender))
            return response.json(collector.messages)

        return hook
