"""Clients for the handoff tests: a person on the web page (chat API + event socket) and a helper's console
(login, CSRF, JSON actions, WebSocket). They talk to the real servers over HTTP, like a browser does."""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, List, Optional

import aiohttp
import yaml
from support.stack import rasa_api_params, web_sender

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
HANDOFF_CONFIG = REPO_ROOT / "tests" / "fixtures" / "handoff.yml"
PASSWORD = "test-password-1"
QUEUED_RE = re.compile(r"已为您转接，前面还有 (\d+) 位，预计等待 (\d+) 分钟")
DOMAIN = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))


def response_text(name: str) -> str:
    return DOMAIN["responses"][name][0]["text"]


def new_sender() -> str:
    return web_sender()


def add_helper(database_url: str, queues=(), supervisor: bool = False, name: str = "测试员",
               staff_no: Optional[str] = None, handoff_config: Path = HANDOFF_CONFIG) -> dict:
    """Create an account with the real command, as an administrator would."""
    username = f"h{uuid.uuid4().hex[:10]}"
    staff_no = staff_no or f"T{uuid.uuid4().hex[:4].upper()}"
    argv = [sys.executable, "-m", "bot.console", "add-helper", username, "--name", name, "--staff-no", staff_no,
            "--password-stdin"]
    for queue in queues:
        argv += ["--queue", queue]
    if supervisor:
        argv.append("--supervisor")
    env = dict(os.environ, DATABASE_URL=database_url, HANDOFF_CONFIG=str(handoff_config))
    result = subprocess.run(argv, cwd=REPO_ROOT, env=env, input=PASSWORD + "\n", capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return {"username": username, "password": PASSWORD, "name": name, "staff_no": staff_no}


class Frames:
    """Everything a WebSocket received, with waiting for a frame that matches."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.frames: List[dict] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    frame = json.loads(msg.data)
                    frame["_received"] = asyncio.get_running_loop().time()
                    async with self._changed:
                        self.frames.append(frame)
                        self._changed.notify_all()
        finally:
            self.closed.set()
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 15.0, start: int = 0) -> dict:
        async def find():
            async with self._changed:
                while True:
                    for frame in self.frames[start:]:
                        if predicate(frame):
                            return frame
                    if self.closed.is_set():
                        raise AssertionError(f"socket closed; frames so far: {self.frames}")
                    await self._changed.wait()
        try:
            return await asyncio.wait_for(find(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no matching frame within {timeout}s; got: {self.frames}") from None

    def matching(self, predicate: Callable[[dict], bool]) -> List[dict]:
        return [f for f in self.frames if predicate(f)]

    async def send(self, frame: dict) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def close(self) -> None:
        await self.ws.close()
        self._task.cancel()


class Person:
    """A citizen on the web page: POST /api/chat and the page's event socket."""

    def __init__(self, base_url: str, sender: Optional[str] = None):
        self.base = base_url
        self.sender = sender or new_sender()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90))
        self.events: Optional[Frames] = None

    async def say(self, text: str) -> dict:
        async with self.session.post(f"{self.base}/api/chat", json={"sender": self.sender, "message": text}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def say_text(self, text: str) -> str:
        return "\n".join(m["text"] or "" for m in (await self.say(text))["messages"])

    async def connect(self, after: int = 0) -> Frames:
        ws = await self.session.ws_connect(f"{self.base}/api/events?sender={self.sender}&after={after}")
        self.events = Frames(ws)
        return self.events

    async def close(self) -> None:
        if self.events is not None:
            await self.events.close()
        await self.session.close()


class Console:
    """A helper in the console: the login form, CSRF token, JSON actions and the WebSocket."""

    def __init__(self, base_url: str):
        self.base = base_url
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             timeout=aiohttp.ClientTimeout(total=60))
        self.csrf = ""
        self.socket: Optional[Frames] = None

    async def login(self, account: dict) -> int:
        async with self.session.get(f"{self.base}/console/login") as resp:
            html = await resp.text()
        token = re.search(r'name="login_token" value="([^"]+)"', html).group(1)
        async with self.session.post(f"{self.base}/console/login", data={
                "login_token": token, "username": account["username"], "password": account["password"]}) as resp:
            status = resp.status
            html = await resp.text()
        match = re.search(r'<meta name="csrf-token" content="([^"]*)"', html)
        self.csrf = match.group(1) if match else ""
        return status

    async def get(self, path: str, **kwargs) -> aiohttp.ClientResponse:
        resp = await self.session.get(f"{self.base}{path}", allow_redirects=False, **kwargs)
        await resp.read()
        return resp

    async def post_json(self, path: str, body: Optional[dict] = None, csrf: Optional[str] = None) -> tuple:
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        async with self.session.post(f"{self.base}{path}", json=body or {}, headers=headers,
                                     allow_redirects=False) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = None
            return resp.status, data

    async def post_form(self, path: str, data: dict, csrf: Optional[str] = None) -> aiohttp.ClientResponse:
        form = dict(data, csrf_token=self.csrf if csrf is None else csrf)
        resp = await self.session.post(f"{self.base}{path}", data=form, allow_redirects=False)
        await resp.read()
        return resp

    async def connect(self) -> Frames:
        ws = await self.session.ws_connect(f"{self.base}/console/ws")
        self.socket = Frames(ws)
        await self.socket.wait_for(lambda f: f["type"] == "hello")
        return self.socket

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.session.close()


def new_ticket(frame: dict, person: Person) -> bool:
    """A console frame announcing the person's new ticket (matched by the masked id)."""
    masked = f"{person.sender[:4]}****{person.sender[-2:]}"
    return frame["type"] == "ticket" and frame["ticket"]["person"] == masked and frame["ticket"]["new"]


async def rasa_tracker(rasa_url: str, sender: str) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{rasa_url}/conversations/{sender}/tracker", params=rasa_api_params()) as resp:
            return await resp.json()


async def open_ticket(settings, sender: str, matter: Optional[str] = None, reason: str = "request_human",
                      channel: str = "web", problem: Optional[str] = None) -> dict:
    """Open a ticket through the internal API, exactly as the action server does (without Rasa)."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{settings.handoff_url}/internal/handoff/tickets",
                                headers={"X-Handoff-Secret": settings.handoff_secret},
                                json={"channel": channel, "sender": sender, "reason": reason, "matter": matter,
                                      "summary": "测试", "problem": problem,
                                      "transcript": [{"who": "person", "text": "转人工"}]}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()
