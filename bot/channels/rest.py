"""The REST channel with its input checked: Rasa's `RestInput` (same name, same URL) behind a guard.

Rasa's own channel answers 500 on a body that is not a JSON object and reads a message of any length. Here a
malformed body gets a 400, and a message longer than `MESSAGE_MAX_CHARS` is cut before Rasa sees it, the
person being told first (`utter_message_cut`). Registered in credentials.yml by its module path.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.limits import MESSAGE_MAX_CHARS, cut_message
from bot.texts import DomainTexts

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
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def check_request(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST":
                return None
            try:
                data = check_body(request.body or b"")
            except ValueError as exc:
                return response.json({"error": str(exc)}, status=400)
            data["message"], request.ctx.message_cut = cut_message(data["message"], MESSAGE_MAX_CHARS)
            request.parsed_json = data  # what RestInput's handler reads
            return None

        @blueprint.middleware("response")
        async def tell_what_was_cut(request: Request, resp: HTTPResponse) -> Optional[HTTPResponse]:
            if not getattr(request.ctx, "message_cut", False) or resp.status != 200:
                return None
            if resp.content_type != "application/json":
                return None  # a streamed reply: the answer itself still comes
            notice = domain_text(request, CUT_NOTICE, max_chars=MESSAGE_MAX_CHARS)
            try:
                messages = json.loads(resp.body)
            except ValueError:
                return None
            if notice and isinstance(messages, list):
                recipient = request.parsed_json.get("sender", "default")
                return response.json([{"recipient_id": recipient, "text": notice}] + messages)
            return None

        return blueprint
