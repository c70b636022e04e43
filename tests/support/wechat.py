"""Playing WeChat for the channel tests: requests signed and encrypted with wechatpy exactly as WeChat's servers
send them, and a local stand-in for WeChat's API (access token, 客服消息) that records what the channel sends."""
from __future__ import annotations

import secrets
import string
import threading
import time
from contextlib import contextmanager
from typing import List, Optional

import aiohttp
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from support.stack import rasa_api_params, running_stack
from support.threaded_server import ThreadedServer
from support.waiting import wait_until

TOKEN = "hallTestToken2026"
APPID = "wx1234567890abcdef"
SECRET = "s" * 32
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat's admin page gives
OTHER_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
ACCOUNT = "gh_hall000000"


def new_openid() -> str:
    alphabet = string.ascii_letters + string.digits
    return "o" + "".join(secrets.choice(alphabet) for _ in range(27))


# How the stand-in fails a 客服消息 on demand (see WeChatStandIn.fail_next).
FAILURES = {
    "busy": {"errcode": -1, "errmsg": "system error"},
    "token": {"errcode": 42001, "errmsg": "access_token expired"},
}


class WeChatStandIn(ThreadedServer):
    """WeChat's API on localhost, in its own thread: GET /cgi-bin/token, POST /cgi-bin/message/custom/send.

    It fails on demand: the next N sends (busy, token, http500, network), every send while `down`, or every send
    to one person with a permanent errcode (refuse)."""

    def __init__(self):
        super().__init__("wechat-standin")
        self.base_url = f"http://127.0.0.1:{self.port}/cgi-bin/"
        self.token_fetches = 0
        self.current_token: Optional[str] = None
        self.sent: List[dict] = []  # {"touser", "content", "token", "at"}
        self.rejected = 0
        self.attempts: List[dict] = []  # every 客服消息 request: {"touser", "content", "outcome"}
        self.down = False
        self._failures: List[str] = []
        self._refused: dict = {}  # openid -> errcode
        self._changed = threading.Condition()

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        if (q.get("grant_type"), q.get("appid"), q.get("secret")) != ("client_credential", APPID, SECRET):
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        with self._changed:
            self.token_fetches += 1
            self.current_token = f"token-{self.token_fetches}-{secrets.token_hex(4)}"
            return web.json_response({"access_token": self.current_token, "expires_in": 7200})

    async def _send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token")
        if token != self.current_token:
            with self._changed:
                self.rejected += 1
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        data = await request.json()
        assert data["msgtype"] == "text"
        with self._changed:
            failure = ("busy" if self.down else self._failures.pop(0) if self._failures else
                       self._refused.get(data["touser"], "ok"))
            self.attempts.append({"touser": data["touser"], "content": data["text"]["content"], "outcome": failure})
        if failure == "network":
            request.transport.close()  # the connection drops without an answer
            return web.Response()
        if failure == "http500":
            return web.Response(status=500, text="Internal Server Error")
        if failure != "ok":
            return web.json_response(FAILURES.get(failure) or {"errcode": failure, "errmsg": "refused"})
        with self._changed:
            self.sent.append({"touser": data["touser"], "content": data["text"]["content"], "token": token,
                              "at": time.monotonic()})
            self._changed.notify_all()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def fail_next(self, *failures: str) -> None:
        """The next sends fail, one per item: "busy" (errcode -1), "token" (42001), "http500", "network"."""
        with self._changed:
            self._failures.extend(failures)

    def refuse(self, openid: str, errcode: int) -> None:
        """Every send to this person fails with a permanent errcode (45015: silent for over 48 hours, …)."""
        with self._changed:
            self._refused[openid] = errcode

    def recover(self) -> None:
        """WeChat's API works again: no outage, no failures queued, nobody refused."""
        with self._changed:
            self.down = False
            self._failures.clear()
            self._refused.clear()

    def tried(self, openid: str) -> List[dict]:
        with self._changed:
            return [a for a in self.attempts if a["touser"] == openid]

    def expire_token(self) -> None:
        """As if the token expired early (WeChat answers 42001): the channel must fetch a new one."""
        with self._changed:
            self.current_token = "expired"

    def to(self, openid: str) -> List[str]:
        with self._changed:
            return [s["content"] for s in self.sent if s["touser"] == openid]

    def wait_for(self, openid: str, count: int = 1, timeout: float = 30.0) -> List[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len([s for s in self.sent if s["touser"] == openid]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{count} 客服消息 to {openid} expected; got {self.to(openid)}")
                self._changed.wait(left)
        return self.to(openid)

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        return app


def wechat_env(standin: WeChatStandIn, aes: bool = True, **extra: str) -> dict:
    """The WeChat variables of a test stack: our account, WeChat's API at the stand-in, safe mode (AES) or plain."""
    env = dict(WECHAT_TOKEN=TOKEN, WECHAT_APPID=APPID, WECHAT_SECRET=SECRET, WECHAT_API_BASE_URL=standin.base_url,
               **extra)
    if aes:
        env["WECHAT_AES_KEY"] = AES_KEY
    return env


@contextmanager
def wechat_stack(database_url: str, log_dir, standin: WeChatStandIn, aes: bool = True, **extra: str):
    """The real stack (actions, Rasa with the wechat channel, web) with the WeChat variables set, warmed up."""
    with running_stack(database_url, log_dir, wechat_env(standin, aes, **extra),
                       warm_up=lambda stack: warm_up(stack.settings.rasa_url)) as stack:
        yield stack


def warm_up(rasa_url: str) -> None:
    """A fresh Rasa's first turns build the model's graphs (seconds): not what the reply budget is about."""
    import json
    import urllib.request

    for text in ("你好", "公积金提取要带什么", "那要多久？"):
        body = json.dumps({"sender": "warm-up", "message": text}).encode()
        request = urllib.request.Request(f"{rasa_url}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as resp:
            assert resp.status == 200


def message_xml(openid: str, msg_type: str, fields: dict, msg_id: Optional[int] = None,
                create_time: Optional[int] = None) -> str:
    """A message as WeChat pushes it (see 接收普通消息 / 接收事件推送)."""
    parts = [f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>", f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
             f"<CreateTime>{create_time or int(time.time())}</CreateTime>", f"<MsgType><![CDATA[{msg_type}]]></MsgType>"]
    for name, value in fields.items():
        parts.append(f"<{name}>{value}</{name}>" if isinstance(value, (int, float)) else
                     f"<{name}><![CDATA[{value}]]></{name}>")
    if msg_id is not None:
        parts.append(f"<MsgId>{msg_id}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


def new_msg_id() -> int:
    return secrets.randbelow(10 ** 18) + 10 ** 18


def sign(token: str, timestamp: str, nonce: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature


class WeChatServer:
    """WeChat's side of the callback: posts messages to the channel and reads its (decrypted) replies."""

    def __init__(self, rasa_url: str, aes: bool = True):
        self.url = f"{rasa_url}/webhooks/wechat/webhook"
        self.aes = aes

    def _query(self, timestamp: Optional[int], token: str) -> dict:
        ts, nonce = str(timestamp or int(time.time())), str(secrets.randbelow(10 ** 9))
        return {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": "x"}

    async def verify(self, echostr: str, token: str = TOKEN, timestamp: Optional[int] = None) -> tuple:
        query = dict(self._query(timestamp, token), echostr=echostr)
        async with aiohttp.ClientSession() as session:
            async with session.get(self.url, params=query) as resp:
                return resp.status, await resp.text()

    async def post(self, xml: str, token: str = TOKEN, timestamp: Optional[int] = None,
                   aes_key: Optional[str] = None, encrypt: Optional[bool] = None, compatible: bool = False,
                   raw_body: Optional[bytes] = None) -> tuple:
        """(HTTP status, reply): reply is "success", the reply message as a dict, or the error body."""
        encrypt = self.aes if encrypt is None else encrypt
        query = self._query(timestamp, token)
        body = raw_body if raw_body is not None else xml.encode("utf-8")
        crypto = None
        if encrypt and raw_body is None:
            crypto = WeChatCrypto(TOKEN, aes_key or AES_KEY, APPID)
            packed = xmltodict.parse(crypto.encrypt_message(xml, query["nonce"], query["timestamp"]))["xml"]
            query.update(encrypt_type="aes", msg_signature=packed["MsgSignature"])
            inner = xml[len("<xml>"):-len("</xml>")] if compatible else f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            body = f"<xml>{inner}<Encrypt><![CDATA[{packed['Encrypt']}]]></Encrypt></xml>".encode("utf-8")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async with session.post(self.url, params=query, data=body,
                                    headers={"Content-Type": "text/xml"}) as resp:
                status, text = resp.status, await resp.text()
        if status != 200 or text == "success":
            return status, text
        reply = xmltodict.parse(text)["xml"]
        if self.aes:
            mine = WeChatCrypto(TOKEN, AES_KEY, APPID)
            reply = xmltodict.parse(mine.decrypt_message(text, reply["MsgSignature"], reply["TimeStamp"],
                                                         reply["Nonce"]))["xml"]
        return status, reply

    async def text(self, openid: str, content: str, msg_id: Optional[int] = None, **kwargs) -> tuple:
        return await self.post(message_xml(openid, "text", {"Content": content}, msg_id or new_msg_id()), **kwargs)

    async def say(self, openid: str, content: str) -> str:
        """The passive reply's text to a text message (fails on "success" or an error)."""
        status, reply = await self.text(openid, content)
        assert status == 200 and isinstance(reply, dict), (status, reply)
        assert reply["MsgType"] == "text" and reply["ToUserName"] == openid and reply["FromUserName"] == ACCOUNT
        return reply["Content"]


async def rasa_user_texts(rasa_url: str, sender: str) -> List[str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{rasa_url}/conversations/{sender}/tracker", params=rasa_api_params()) as resp:
            tracker = await resp.json()
    return [e.get("text") for e in tracker.get("events") or [] if e.get("event") == "user"]


def settled(standin: WeChatStandIn, database_url: str, openid: str, timeout: float = 30.0) -> List[str]:
    """Every 客服消息 to this person so far, once the answer's follow-ups are all out: at least one arrived and
    the channel's outbox (in the stack's database) holds nothing pending for them, each row it marked sent being
    one the stand-in received."""
    from bot.channels.wechat_outbox import PENDING, SENT, OutboxStore
    from knowledge import make_engine

    engine = make_engine(database_url)
    try:
        store = OutboxStore(engine)
        standin.wait_for(openid, 1, timeout)

        def all_out() -> bool:
            statuses = [row.status for row in store.messages(openid)]
            return PENDING not in statuses and statuses.count(SENT) == len(standin.to(openid))

        wait_until(all_out, timeout, "every 客服消息 of the answer sent")
        return standin.to(openid)
    finally:
        engine.dispose()
