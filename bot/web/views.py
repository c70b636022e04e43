"""Request handlers: the page, the chat API and the health check."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time

from aiohttp import web

from bot.limits import MESSAGE_MAX_CHARS, clean_text, cut_message
from bot.privacy import mask_personal_data

from bot.handoff.hub import json_objects
from . import keys, senders
from bot.clients.rasa import RasaBusy, RasaUnavailable

logger = logging.getLogger(__name__)

PAGE = web.AppKey("page_html", str)

SENDER_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _bad_request(error: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error}, status=status)


_PAGE_TEXTS = ("utter_page_title", "utter_page_subtitle", "utter_page_log_label", "utter_page_typing",
               "utter_page_placeholder", "utter_page_input_label", "utter_page_send", "utter_page_retry",
               "utter_page_helper_caption")


def page_html(app: web.Application) -> str:
    """The citizen page, its words from the domain (rendered once per process: they change with a restart)."""
    texts = app[keys.TEXTS]
    # The caption keeps its {name} and {staff_no}: the page fills them for each helper message.
    words = {name: texts.template(name) if name in texts else texts.render(name) for name in _PAGE_TEXTS}
    return app[keys.JINJA].get_template("index.html").render(t=words, max_chars=MESSAGE_MAX_CHARS)


async def index(request: web.Request) -> web.Response:
    return web.Response(text=request.app[PAGE], content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


async def texts(request: web.Request) -> web.Response:
    """Domain sentences the page needs when it cannot reach us at all."""
    texts = request.app[keys.TEXTS]
    return web.json_response({"service_unavailable": texts.render("utter_service_unavailable"),
                              "busy_wait": texts.render("utter_busy_wait")})


async def session(request: web.Request) -> web.Response:
    """A new sender id for the page, issued by us (random, 128 bits, signed)."""
    return web.json_response({"sender": senders.issue(request.app[keys.SENDER_SECRET])},
                             headers={"Cache-Control": "no-store"})


async def chat(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > keys.MAX_BODY_BYTES:
        return _bad_request("request_too_large", 413)
    try:
        body = await request.read()  # client_max_size also stops chunked bodies
    except web.HTTPRequestEntityTooLarge:
        return _bad_request("request_too_large", 413)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _bad_request("invalid_json")
    if not isinstance(data, dict):
        return _bad_request("invalid_json")
    sender, message = data.get("sender"), data.get("message")
    if not isinstance(sender, str) or not SENDER_RE.fullmatch(sender):
        return _bad_request("invalid_sender")
    if not isinstance(message, str):
        return _bad_request("invalid_message")
    if not senders.verify(request.app[keys.SENDER_SECRET], sender):
        return _bad_request("unknown_sender", 403)  # the page asks /api/session for a new id
    message = clean_text(message, limit=len(message))  # control characters break logs and storage
    if not message:
        return _bad_request("empty_message")
    message, was_cut = cut_message(message, MESSAGE_MAX_CHARS)

    started = time.monotonic()
    metrics = request.app[keys.METRICS]
    handoff = request.app.get(keys.HANDOFF)
    idle = handoff.idle if handoff is not None else None
    if idle is not None:
        await idle.touch(sender)
    if handoff is not None:
        # While the person has an open ticket, their messages go to the helper and the bot stays silent.
        try:
            handled = await handoff.router.incoming("web", sender, message)
        except Exception:
            logger.exception("handoff routing failed for sender %s; the bot answers", mask_personal_data(sender))
            metrics.inc("assistant_errors_total", kind="handoff_routing")
            handled = None
        if handled is not None:
            metrics.inc("assistant_turns_total", outcome="to_helper")
            logger.info("turn sender=%s routed to a helper ms=%d", mask_personal_data(sender),
                        (time.monotonic() - started) * 1000)
            return web.json_response({"messages": handled["messages"], "handoff": handled["state"]})
    try:
        messages = await request.app[keys.RASA].send(sender, message)
    except RasaBusy as exc:
        logger.warning("Rasa busy, turn of %s refused: %s", mask_personal_data(sender), exc)
        metrics.inc("assistant_turns_total", outcome="busy")
        return web.json_response({"error": "busy", "messages": keys.domain_messages(request.app[keys.TEXTS],
                                                                                    "utter_busy")}, status=503)
    except RasaUnavailable as exc:
        logger.error("Rasa unavailable for sender %s: %s", mask_personal_data(sender), mask_personal_data(str(exc)))
        metrics.inc("assistant_turns_total", outcome="unavailable")
        metrics.inc("assistant_errors_total", kind="rasa_unavailable")
        return web.json_response(
            {
                "error": "service_unavailable",
                "messages": keys.unavailable_messages(request.app[keys.TEXTS]),
            },
            status=503,
        )
    metrics.observe("assistant_turn_seconds", time.monotonic() - started)
    metrics.inc("assistant_turns_total", outcome="answered" if messages else "empty")
    if not messages:
        # Rasa answers 200 with nothing when an action failed: never leave the person in silence.
        logger.warning("empty reply from Rasa for sender %s", mask_personal_data(sender))
        messages = keys.domain_messages(request.app[keys.TEXTS], "utter_no_reply")
    elif idle is not None:
        await idle.answered(sender, message)
    if was_cut:
        messages = _cut_notice(request.app[keys.TEXTS]) + messages
    # The message itself never goes to the log (personal data): its length says enough to debug.
    logger.info(
        "turn sender=%s chars=%d replies=%d ms=%d",
        mask_personal_data(sender),
        len(message),
        len(messages),
        (time.monotonic() - started) * 1000,
    )
    return web.json_response({"messages": messages})


def _cut_notice(texts) -> list:
    """Tells the person, before the answer, that only the start of their message was read."""
    return keys.domain_messages(texts, "utter_message_cut", max_chars=MESSAGE_MAX_CHARS)


EVENTS_HEARTBEAT = 20.0
TYPING_MIN_INTERVAL = 1.0


async def events(request: web.Request) -> web.StreamResponse:
    """The page's live channel: helper messages, notices, the bot after hand-back, position, typing.

    GET /api/events?sender=...&after=<last message id seen>: first everything stored after the cursor (so a
    page that was closed or offline misses nothing), then live frames. The page reconnects by itself.
    """
    sender = request.query.get("sender", "")
    if not SENDER_RE.fullmatch(sender):
        return _bad_request("invalid_sender")
    if not senders.verify(request.app[keys.SENDER_SECRET], sender):
        return _bad_request("unknown_sender", 403)
    try:
        after = max(0, int(request.query.get("after", "0") or 0))
    except ValueError:
        return _bad_request("invalid_cursor")
    handoff = request.app.get(keys.HANDOFF)
    if handoff is None:
        return _bad_request("handoff_unavailable", 503)
    ws = web.WebSocketResponse(heartbeat=EVENTS_HEARTBEAT, max_msg_size=4096)
    await ws.prepare(request)
    key = ("web", sender)
    # Registered before the catch-up, whose lock holds live frames back until it is done: nothing stored
    # meanwhile is missed, and nothing arrives out of order (a repeat is dropped by the page by its id).
    order = handoff.person_hub.add(key, ws)
    try:
        async with order:
            for frame in await handoff.person_frames_after("web", sender, after):
                await ws.send_json(frame, dumps=_dumps)
            await ws.send_json({"type": "state", "handoff": await handoff.state_for("web", sender)}, dumps=_dumps)
        last_typing = 0.0
        async for data in json_objects(ws):
            if data.get("type") == "typing":
                now = time.monotonic()
                if now - last_typing >= TYPING_MIN_INTERVAL:
                    last_typing = now
                    await handoff.person_typing("web", sender)
    except ConnectionError:
        pass
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("page event stream failed for sender %s", mask_personal_data(sender))
    finally:
        handoff.person_hub.remove(key, ws)
    return ws


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def healthz(request: web.Request) -> web.Response:
    rasa_up = await request.app[keys.RASA].is_up()
    status = {"web": "ok", "rasa": "ok" if rasa_up else "down"}
    if request.app[keys.SETTINGS].web_workers > 1:
        # Its number: with SO_REUSEPORT the supervisor needs to know which process answered its probe.
        status["worker"] = request.app[keys.WORKER]
    return web.json_response(status)
