"""Request handlers: the page, the chat API and the health check."""
from __future__ import annotations

import json
import logging
import re
import time

from aiohttp import web

from bot.privacy import mask_personal_data

from . import keys
from .rasa_client import RasaUnavailable

logger = logging.getLogger(__name__)

SENDER_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_MESSAGE_CHARS = 1000
# C0/C1 control characters (but not tab and newline) and lone surrogates break logs and storage.
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _bad_request(error: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error}, status=status)


async def index(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(
        keys.STATIC_DIR / "index.html",
        headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"},
    )
    return response


async def texts(request: web.Request) -> web.Response:
    """Domain sentences the page needs when it cannot reach us at all."""
    texts = request.app[keys.TEXTS]
    return web.json_response({"service_unavailable": texts.get("utter_service_unavailable", "")})


async def chat(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > keys.MAX_BODY_BYTES:
        return _bad_request("request_too_large", 413)
    try:
        body = await request.read()  # client_max_size also stops chunked bodies
    except web.HTTPRequestEntityTooLarge:
        return _bad_request("request_too_large", 413)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _bad_request("invalid_json")
    if not isinstance(data, dict):
        return _bad_request("invalid_json")
    sender, message = data.get("sender"), data.get("message")
    if not isinstance(sender, str) or not SENDER_RE.fullmatch(sender):
        return _bad_request("invalid_sender")
    if not isinstance(message, str):
        return _bad_request("invalid_message")
    message = _UNSAFE_CHARS.sub("", message).strip()
    if not message:
        return _bad_request("empty_message")
    message = message[:MAX_MESSAGE_CHARS]

    started = time.monotonic()
    try:
        messages = await request.app[keys.RASA].send(sender, message)
    except RasaUnavailable as exc:
        logger.error("Rasa unavailable for sender %s: %s", mask_personal_data(sender), mask_personal_data(str(exc)))
        return web.json_response(
            {
                "error": "service_unavailable",
                "messages": keys.unavailable_messages(request.app[keys.TEXTS]),
            },
            status=503,
        )
    if not messages:
        # Rasa answers 200 with nothing when an action failed: never leave the person in silence.
        logger.warning("empty reply from Rasa for sender %s", mask_personal_data(sender))
        messages = keys.domain_messages(request.app[keys.TEXTS], "utter_no_reply")
    logger.info(
        "turn sender=%s message=%r replies=%d ms=%d",
        mask_personal_data(sender),
        mask_personal_data(message),
        len(messages),
        (time.monotonic() - started) * 1000,
    )
    return web.json_response({"messages": messages})


async def healthz(request: web.Request) -> web.Response:
    rasa_up = await request.app[keys.RASA].is_up()
    return web.json_response({"web": "ok", "rasa": "ok" if rasa_up else "down"})
