"""The WeChat official account (公众号) channel: `bot.channels.wechat.WeChatInput`, served by the Rasa server at
/webhooks/wechat/webhook (WeChat's callback URL) and /webhooks/wechat/deliver (helper messages from the handoff).

Every request is checked (signature, timestamp, AES in safe mode) before anything reaches the bot. An answer
ready within the reply budget is the passive reply (a long one: its first part, the rest as 客服消息);
otherwise WeChat gets "success" in time and the answer follows as 客服消息, through the durable outbox
(wechat_outbox). Retries of a message (same MsgId) share the first delivery's turn. See README "WeChat (公众号)".
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sqlalchemy.exc import SQLAlchemyError
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot.clients.handoff import RELAY_TIMEOUT, HandoffClient
from bot.limits import MESSAGE_MAX_CHARS
from bot.privacy import mask_openid
from bot.settings import Settings

from .wechat_api import CustomerServiceSender, WeChatSendError
from .wechat_outbox import Outbox, OutboxStore
from .relay import HandoffRelay, read_delivery
from .wechat_state import ASYNC, PASSIVE, PENDING, OptionStore, SeenStore, Turn, TurnRegistry
from .wechat_text import WeChatTexts, option_number, split_text

logger = logging.getLogger(__name__)

CHANNEL = "wechat"

MAX_BODY_BYTES = 64 * 1024  # WeChat's messages are a few KB
# The rest of a long answer waits this long after the passive reply was returned, so that it arrives after it.
FOLLOW_UP_DELAY = 0.5
_QUERY_VALUE = re.compile(r"[A-Za-z0-9_\-]{1,128}")
_OPENID = re.compile(r"[A-Za-z0-9_\-]{1,128}")
# What a person can send that is not text: answered with "please describe it in words".
UNSUPPORTED_TYPES_RESPONSE = "utter_wechat_text_only"
_WELCOME = "/greet"  # a new follower, or a menu key missing from the configuration
_NO_ANSWER = ("none", "")


def _forbidden() -> HTTPResponse:
    return response.text("forbidden", status=403)


class WeChatOutput(OutputChannel):
    """Bot messages pushed to a WeChat person outside a webhook call (e.g. Rasa's API with output_channel=wechat)."""

    def __init__(self, channel: "WeChatInput"):
        self.channel = channel

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self.channel.push(recipient_id, [message])

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.channel.push(recipient_id, [{"text": text}])


class WeChatInput(InputChannel):
    """Configured from Settings (WECHAT_* environment variables; credentials.yml only names the class)."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeChatInput":
        return cls(Settings.from_env())

    def __init__(self, settings: Settings, relay: Optional[HandoffRelay] = None):
        self.settings = settings
        self.config = config = settings.wechat
        self.texts = WeChatTexts(settings.domain_path)
        self.crypto = WeChatCrypto(config.token, config.aes_key, config.appid) if config.aes_key else None
        self.menu = config.menu() if config.enabled else {}
        self.sender = CustomerServiceSender(config)
        self.relay = relay or HandoffRelay(HandoffClient(settings.handoff_url, settings.handoff_secret,
                                                         timeout=RELAY_TIMEOUT), CHANNEL, mask=mask_openid)
        self.turns = TurnRegistry()
        self._engine: Any = None
        self._options: Optional[OptionStore] = None
        self._seen: Optional[SeenStore] = None
        self._seen_checks: Dict[str, "asyncio.Future[bool]"] = {}
        self._outbox_store: Optional[OutboxStore] = None
        self.outbox = Outbox(self._outbox_table, self.sender.send_one, config.retry_first, config.retry_max)
        self._background: Set[asyncio.Task] = set()
        if config.enabled:
            logger.info("WeChat channel on: %s", config.describe())
        else:
            logger.info("WeChat channel off: WECHAT_TOKEN is not set")

    # -- shared pieces ---------------------------------------------------------------------------

    @property
    def engine(self) -> Any:
        if self._engine is None:  # not at import time: the database is the catalog's (DATABASE_URL)
            from knowledge import make_engine

            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @property
    def options(self) -> OptionStore:
        if self._options is None:
            self._options = OptionStore(self.engine)
        return self._options

    @property
    def seen(self) -> SeenStore:
        if self._seen is None:
            # A signed request is accepted while its timestamp is within the skew of our clock, either way.
            self._seen = SeenStore(self.engine, keep_seconds=2 * self.config.max_clock_skew + 60)
        return self._seen

    async def _first_delivery(self, key: str) -> bool:
        """False for a replay: a key handled before on any process (SQL), and not WeChat's retry of a turn here.

        Deliveries that arrive together share one check, so WeChat's quick retries still share the first turn.
        """
        if self.turns.known(key):
            return True
        check = self._seen_checks.get(key)
        if check is None:
            check = self._seen_checks[key] = asyncio.ensure_future(self._check_seen(key))
        return await asyncio.shield(check)

    async def _check_seen(self, key: str) -> bool:
        try:
            return await self._sql(self.seen.first_time, key)
        except SQLAlchemyError:  # never lose a message because the check failed
            logger.exception("WeChat message keys cannot be checked; answering anyway")
            return True

    def _outbox_table(self) -> OutboxStore:
        if self._outbox_store is None:
            self._outbox_store = OutboxStore(self.engine)
        return self._outbox_store

    def get_output_channel(self) -> Optional[OutputChannel]:
        return WeChatOutput(self) if self.config.enabled else None

    async def _sql(self, call: Callable[..., Any], *args: Any) -> Any:
        # Off the event loop: Rasa's turns for everybody run on it.
        return await asyncio.get_running_loop().run_in_executor(None, call, *args)

    async def _chunks(self, openid: str, messages: List[Dict[str, Any]]) -> List[str]:
        """Render a batch of bot messages; its buttons become the person's current numbered options."""
        text, options = self.texts.render(messages)
        await self._sql(self.options.save, openid, options)
        return split_text(text) if text else []

    async def send_later(self, openid: str, chunks: List[str], delay: float = 0.0) -> None:
        """客服消息: stored in the outbox, sent in order, retried until WeChat takes them."""
        if chunks and not self.sender.can_send:
            raise WeChatSendError("客服消息 needs WECHAT_APPID and WECHAT_SECRET")
        await self.outbox.put(openid, chunks, delay)

    async def push(self, openid: str, messages: List[Dict[str, Any]]) -> int:
        chunks = await self._chunks(openid, messages)
        await self.send_later(openid, chunks)
        return len(chunks)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)  # keep a reference until it is done
        task.add_done_callback(self._background.discard)

    # -- checks ----------------------------------------------------------------------------------

    def _authentic(self, request: Request) -> bool:
        """Signed with our token, and not stale: WeChat signs token+timestamp+nonce on every request."""
        signature, timestamp, nonce = (request.args.get(k, "") for k in ("signature", "timestamp", "nonce"))
        if not all(_QUERY_VALUE.fullmatch(v) for v in (signature, timestamp, nonce)) or not timestamp.isdigit():
            return False
        try:
            check_signature(self.config.token, signature, timestamp, nonce)
        except InvalidSignatureException:
            return False
        return abs(time.time() - int(timestamp)) <= self.config.max_clock_skew

    def _decode(self, request: Request) -> Optional[str]:
        """The message XML, decrypted in safe/compatible mode; None if it cannot be ours."""
        body = request.body.decode("utf-8")
        if self.crypto is None:
            return body
        if request.args.get("encrypt_type") != "aes":
            return None  # with an AES key configured, a plain body would be unauthenticated
        try:
            return self.crypto.decrypt_message(body, request.args.get("msg_signature", ""),
                                               request.args.get("timestamp"), request.args.get("nonce"))
        except Exception as exc:  # wrong key, bad padding, other app id, broken XML: all forged for us
            logger.warning("WeChat message could not be decrypted: %s", type(exc).__name__)
            return None

    def _reply(self, request: Request, message: Any, text: Optional[str]) -> HTTPResponse:
        if not text:
            return response.text("success")
        xml = create_reply(text, message=message, render=True)
        if self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, request.args.get("nonce"), str(int(time.time())))
        return response.text(xml, content_type="application/xml; charset=utf-8")

    # -- what a message asks for -----------------------------------------------------------------

    def _plan(self, message: Any) -> Tuple[str, str]:
        """("bot", text), ("say", response name) or ("none", "")."""
        kind = message.type
        if kind == "text":
            text = (message.content or "").strip()[:MESSAGE_MAX_CHARS]
            return ("bot", text) if text else ("say", UNSUPPORTED_TYPES_RESPONSE)
        if kind == "voice":
            text = (message.recognition or "").strip()[:MESSAGE_MAX_CHARS]
            return ("bot", text) if text else ("say", "utter_wechat_voice_unclear")
        if kind == "event":
            event = getattr(message, "event", "")
            if event in ("subscribe", "subscribe_scan"):
                return ("bot", _WELCOME)
            if event == "click":
                key = getattr(message, "key", "") or ""
                if key not in self.menu:
                    logger.warning("WeChat menu key %r is not in %s", key[:64], self.config.menu_path)
                return ("bot", self.menu.get(key, _WELCOME))
            return _NO_ANSWER  # unsubscribe, VIEW, location reports, send-job reports: nothing to say
        return ("say", UNSUPPORTED_TYPES_RESPONSE)  # image, video, location, link, file, …

    async def _work(self, openid: str, plan: Tuple[str, str],
                    on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> List[str]:
        kind, value = plan
        try:
            if kind == "say":
                return split_text(self.texts.response(value))
            if kind != "bot":
                return []
            relayed = await self.relay.incoming(openid, value)
            if relayed is not None:  # handed off: the helper gets it
                return await self._chunks(openid, relayed) if relayed else []
            number = option_number(value)
            picked = await self._sql(self.options.pick, openid, number) if number is not None else None
            text = picked["payload"] if picked else value
            collector = CollectingOutputChannel()
            await on_new_message(UserMessage(text, collector, openid, input_channel=CHANNEL))
            return await self._chunks(openid, collector.messages)
        except Exception:
            logger.exception("WeChat turn failed for %s", mask_openid(openid))
            return split_text(self.texts.response("utter_service_unavailable"))

    async def _send_later(self, openid: str, turn: Turn, skip: int = 0, delay: float = 0.0) -> None:
        """The turn's answer (from chunk `skip` on) as 客服消息, once it is ready."""
        try:
            await self.send_later(openid, (await turn.task)[skip:], delay)
        except WeChatSendError:
            logger.error("WeChat asynchronous answer for %s dropped: 客服消息 are off", mask_openid(openid))
        except Exception:
            logger.exception("WeChat asynchronous answer failed for %s", mask_openid(openid))

    async def _passive_text(self, openid: str, turn: Turn, deadline: float) -> Optional[str]:
        """The passive reply for this delivery of the message, or None ("success": 客服消息 follows or nothing).

        A long answer: its first part is the passive reply, the rest follows as 客服消息 once the reply is out.
        """
        if turn.delivery == ASYNC:
            return None
        try:
            chunks = await asyncio.wait_for(asyncio.shield(turn.task), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            chunks = None
        if chunks is not None and time.monotonic() > deadline and turn.delivery == PENDING:
            # Ready, but late: a busy event loop (the model runs on it) delayed us past the budget; WeChat may
            # have given up on this delivery, 客服消息 always arrive.
            chunks = None
        if turn.delivery == ASYNC:
            return None
        if chunks is None:  # too slow: "success" now, the whole answer as 客服消息 when it is ready
            turn.delivery = ASYNC
            self._spawn(self._send_later(openid, turn))
            return None
        if turn.delivery == PENDING:
            turn.delivery = PASSIVE
            if len(chunks) > 1:
                self._spawn(self._send_later(openid, turn, skip=1, delay=FOLLOW_UP_DELAY))
        return chunks[0] if chunks else None

    # -- routes ----------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("wechat_webhook", __name__)

        @hook.listener("after_server_start")
        async def start_outbox(app: Any, loop: Any) -> None:
            if self.config.enabled and self.sender.can_send:  # also sends what an earlier run left pending
                self.outbox.start()

        @hook.listener("before_server_stop")
        async def stop_outbox(app: Any, loop: Any) -> None:
            await self.outbox.stop()

        def off() -> Optional[HTTPResponse]:
            return None if self.config.enabled else response.json({"error": "wechat_not_configured"}, status=404)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return off() or response.json({"status": "ok"})

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if off():
                return off()
            if not self._authentic(request):
                return _forbidden()
            return response.text(request.args.get("echostr", ""))

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            arrived = time.monotonic()
            if off():
                return off()
            if len(request.body or b"") > MAX_BODY_BYTES:
                return response.text("too large", status=413)
            if not self._authentic(request):
                return _forbidden()
            try:
                xml = self._decode(request)
            except UnicodeDecodeError:
                return response.text("bad request", status=400)
            if xml is None:
                return _forbidden()
            try:
                message = parse_message(xml)
            except Exception:  # not XML, or not a WeChat message
                return response.text("bad request", status=400)
            openid = getattr(message, "source", None) or ""
            if message is None or not _OPENID.fullmatch(openid):
                return response.text("bad request", status=400)
            # WeChat's advice: MsgId for messages, FromUserName + CreateTime for events (plus which event).
            key = (f"msg:{message.id}" if message.id else
                   f"evt:{openid}:{message.time}:{getattr(message, 'event', '')}:{getattr(message, 'key', '')}")
            if not await self._first_delivery(key):
                self._seen_checks.pop(key, None)
                logger.warning("WeChat %s from %s refused: already handled (a replay)", message.type,
                               mask_openid(openid))
                return response.text("success")
            plan = self._plan(message)
            turn, first = self.turns.start(key, lambda: self._work(openid, plan, on_new_message))
            self._seen_checks.pop(key, None)
            logger.info("WeChat %s from %s%s", message.type, mask_openid(openid), "" if first else " (retry)")
            deadline = arrived + self.config.reply_budget
            return self._reply(request, message, await self._passive_text(openid, turn, deadline))

        @hook.route("/deliver", methods=["POST"])
        async def deliver(request: Request) -> HTTPResponse:
            """A helper's (or the resumed bot's) message from the handoff, sent on as 客服消息."""
            if off():
                return off()
            data = read_delivery(request, self.settings.handoff_secret, _OPENID)
            if not isinstance(data, dict):
                return data
            openid = data["sender"]
            if data.get("kind") != "message":
                return response.json({"sent": 0})  # position updates: WeChat has no status line
            item = {"text": data.get("text"), "buttons": data.get("buttons") or []}
            try:
                sent = await self.push(openid, [item])
            except WeChatSendError:
                return response.json({"error": "wechat_send_failed"}, status=502)
            except SQLAlchemyError:  # not stored: the handoff must know it was not taken
                logger.exception("客服消息 for %s could not be stored", mask_openid(openid))
                return response.json({"error": "outbox_unavailable"}, status=503)
            return response.json({"sent": sent})  # stored in the outbox: WeChat gets it even after an outage

        return hook
