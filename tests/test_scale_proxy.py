"""HAProxy with deploy/haproxy.cfg in front of two stand-in Rasa processes (real HTTP servers that say who they
are): one person always reaches one process, by whichever channel, and a process that stops is stepped around."""
from __future__ import annotations

import asyncio
import subprocess
import time

import aiohttp
import pytest
from aiohttp import web

from bot import proxy
from bot.settings import Settings
from support.stack import free_port_block

pytestmark = pytest.mark.asyncio


def stand_in(name: str) -> web.Application:
    async def who(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"process": name, "request_id": request.headers.get("X-Request-ID")})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", who)
    return app


async def test_each_person_reaches_one_process_by_every_channel_and_a_stopped_one_is_stepped_around(
        aiohttp_server, tmp_path):
    first = free_port_block(3)
    settings = Settings.from_env({"RASA_PORT": str(first), "RASA_WORKERS": "2", "HOST": "127.0.0.1",
                                  "LOCK_STORE_URL": "redis://127.0.0.1:6379/0"})
    servers = [await aiohttp_server(stand_in(f"rasa{i}"), port=port)
               for i, port in enumerate(settings.rasa_worker_ports, 1)]
    config = tmp_path / "haproxy.cfg"
    config.write_text(proxy.render(settings, (settings.project_dir / proxy.TEMPLATE).read_text(encoding="utf-8")))
    haproxy = subprocess.Popen([proxy.haproxy_binary(), "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    base = settings.rasa_url
    try:
        async with aiohttp.ClientSession() as session:
            async def until_healthy() -> None:
                deadline = time.monotonic() + 30
                while True:
                    assert haproxy.poll() is None, haproxy.stderr.read().decode()
                    try:
                        async with session.get(f"{base}/proxy-health") as resp:
                            if resp.status == 200:
                                return
                    except aiohttp.ClientError:
                        pass
                    assert time.monotonic() < deadline, "the proxy never saw both processes"
                    await asyncio.sleep(0.2)

            async def reached(method: str, path: str, **kwargs) -> dict:
                async with session.request(method, f"{base}{path}", **kwargs) as resp:
                    assert resp.status == 200, await resp.text()
                    return await resp.json()

            await until_healthy()
            people = [f"o{i:03d}-openid-like" for i in range(24)]
            owner = {}
            for person in people:
                by_channel = {
                    (await reached("POST", "/webhooks/rest/webhook", json={"sender": person, "message": "你好"}))[
                        "process"],
                    (await reached("POST", "/webhooks/rest/webhook", json={"sender": person, "message": "再问"}))[
                        "process"],
                    (await reached("POST", f"/webhooks/wechat/webhook?signature=s&timestamp=1&openid={person}",
                                   data="<xml/>"))["process"],
                    (await reached("POST", "/webhooks/wechat/deliver", json={"sender": person}))["process"],
                    (await reached("GET", f"/conversations/{person}/tracker"))["process"],
                }
                assert len(by_channel) == 1, f"{person} reached {by_channel}"
                owner[person] = by_channel.pop()
            assert set(owner.values()) == {"rasa1", "rasa2"}, "one process got everybody"
            answer = await reached("POST", "/webhooks/rest/webhook", json={"sender": people[0], "message": "x"})
            assert answer["request_id"], "the proxy gives each request an id (a resend repeats it)"

            await servers[0].close()  # rasa1 stops: its people are answered by rasa2, none is refused
            for person in people:
                moved = await reached("POST", "/webhooks/rest/webhook", json={"sender": person, "message": "还在吗"})
                assert moved["process"] == "rasa2"
    finally:
        haproxy.terminate()
        haproxy.wait(timeout=10)
