"""A channel served by another process (the WeChat channel inside Rasa, later) uses the same handoff over HTTP:
its incoming messages through POST /internal/handoff/incoming, helper messages delivered to its deliver_url.

Our web server runs in-process here (aiohttp test server, real SQLite); the only stand-in is the remote channel's
endpoint, which does not exist yet: a small HTTP server that records what it receives.
"""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.run import free_ports
from bot.settings import Settings
from bot.web import create_app
from support.handoff import HANDOFF_CONFIG, PASSWORD, add_helper
from knowledge import make_engine
from knowledge.loader import load

FIXTURE_CATALOG = Path(__file__).parent / "fixtures" / "catalog"
SECRET = "channel-test-secret"


@pytest.mark.asyncio
async def test_a_remote_channel_routes_incoming_messages_and_receives_the_helpers(tmp_path):
    received = []

    async def deliver(request: web.Request) -> web.Response:
        assert request.headers.get("X-Handoff-Secret") == SECRET
        received.append(await request.json())
        return web.json_response({"ok": True})

    channel_app = web.Application()
    channel_app.router.add_post("/webhooks/wechat/handoff", deliver)
    channel_server = TestServer(channel_app, host="127.0.0.1")
    await channel_server.start_server()

    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    load(make_engine(database), FIXTURE_CATALOG)
    config = yaml.safe_load(HANDOFF_CONFIG.read_text(encoding="utf-8"))
    config["queues"][0]["locations"].append("2F-A")  # the fixture catalog's only location -> 企业开办
    config["channels"] = {"wechat": {"deliver_url": str(channel_server.make_url("/webhooks/wechat/handoff"))}}
    config_path = tmp_path / "handoff.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    account = add_helper(database, ["qykb"], name="韩微", staff_no="W001", handoff_config=config_path)

    handoff_port, web_port, dead_rasa = free_ports(3)
    settings = Settings.from_env({"DATABASE_URL": database, "HANDOFF_CONFIG": str(config_path),
                                  "HANDOFF_PORT": str(handoff_port), "HANDOFF_SECRET": SECRET,
                                  "WEB_PORT": str(web_port), "RASA_PORT": str(dead_rasa)})
    server = TestServer(create_app(settings), host="127.0.0.1", port=web_port)
    await server.start_server()
    internal = f"{settings.handoff_url}/internal/handoff"
    headers = {"X-Handoff-Secret": SECRET}
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            # The helper is on duty (console socket open).
            base = str(server.make_url("")).rstrip("/")
            async with session.get(f"{base}/console/login") as resp:
                token = re.search(r'name="login_token" value="([^"]+)"', await resp.text()).group(1)
            async with session.post(f"{base}/console/login", data={"login_token": token, "username":
                                    account["username"], "password": PASSWORD}) as resp:
                csrf = re.search(r'csrf-token" content="([^"]+)"', await resp.text()).group(1)
            ws = await session.ws_connect(f"{base}/console/ws")

            # Before a handoff, the channel's messages are not routed: the channel gives them to Rasa.
            async with session.post(f"{internal}/incoming", headers=headers,
                                    json={"channel": "wechat", "sender": "oWx-openid-1", "text": "你好"}) as resp:
                assert (await resp.json()) == {"routed": False}
            async with session.post(f"{internal}/tickets", headers=headers, json={
                    "channel": "wechat", "sender": "oWx-openid-1", "reason": "request_human", "matter": "T-GT-SL",
                    "summary": "测试", "transcript": []}) as resp:
                ticket = await resp.json()
            assert ticket["status"] == "waiting" and ticket["queue"] == "qykb" and ticket["position"] == 0
            async with session.post(f"{internal}/incoming", headers=headers,
                                    json={"channel": "wechat", "sender": "oWx-openid-1", "text": "在吗"}) as resp:
                routed = await resp.json()
            assert routed["routed"] is True and routed["state"]["status"] == "waiting"
            assert "前面还有 0 位" in routed["state"]["text"]

            tid = ticket["ticket_id"]
            async with session.post(f"{base}/console/tickets/{tid}/claim", json={},
                                    headers={"X-CSRF-Token": csrf}) as resp:
                assert resp.status == 200
            async with session.post(f"{base}/console/tickets/{tid}/messages", json={"text": "您好，请讲"},
                                    headers={"X-CSRF-Token": csrf}) as resp:
                assert resp.status == 200
            for _ in range(50):
                if any(r.get("text") == "您好，请讲" for r in received):
                    break
                await asyncio.sleep(0.05)
            kinds = [(r["sender"], r["kind"], r.get("author")) for r in received]
            assert ("oWx-openid-1", "message", "notice") in kinds  # "工作人员韩微（工号W001）已接入"
            assert ("oWx-openid-1", "message", "helper") in kinds
            notice = next(r for r in received if r.get("author") == "notice")
            assert "韩微" in notice["text"] and "W001" in notice["text"]
            await ws.close()
    finally:
        await server.close()
        await channel_server.close()
