"""Without WECHAT_TOKEN the WeChat channel answers nothing but "not configured". In this process, no model: the
channel registered on a Sanic app exactly as Rasa registers its input channels (credentials.yml lists it always),
so the shared stack can run with WeChat on (tests/test_wechat_channel.py)."""
from __future__ import annotations

import aiohttp
import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.channels.wechat import WeChatInput
from bot.settings import Settings

pytestmark = pytest.mark.asyncio


async def test_the_channel_is_off_without_wechat_variables(free_ports):
    settings = Settings.from_env({"DATABASE_URL": "sqlite://"})  # no WECHAT_* variables
    assert not settings.wechat_enabled
    app = Sanic("wechat_off_test")
    register([WeChatInput(settings)], app, "/webhooks/")
    (port,) = free_ports(1)
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    try:
        async with aiohttp.ClientSession() as session:
            for method, path in (("GET", "/webhooks/wechat/webhook?echostr=1"), ("POST", "/webhooks/wechat/webhook"),
                                 ("POST", "/webhooks/wechat/deliver")):
                async with session.request(method, f"http://127.0.0.1:{port}{path}",
                                           data=b"<xml/>" if method == "POST" else None) as resp:
                    assert resp.status == 404, (method, path)
                    assert "wechat_not_configured" in await resp.text(), (method, path)
    finally:
        await server.close()
