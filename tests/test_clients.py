"""The clients (bot/clients) against small in-process servers: the secret, the errors, the paths."""
from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bot.clients.handoff import HandoffClient, HandoffUnavailable
from bot.clients.rasa import RasaClient, RasaUnavailable

pytestmark = pytest.mark.asyncio


def _recording_app(calls: list, status: int = 200, reply=None) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        calls.append((request.method, request.path_qs, request.headers.get("X-Handoff-Secret"), body))
        return web.json_response(reply if reply is not None else {"ok": True}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


async def test_the_handoff_client_sends_the_secret_to_each_internal_path(aiohttp_server):
    calls: list = []
    server = await aiohttp_server(_recording_app(calls, reply={"ticket_id": 7}))
    client = HandoffClient(str(server.make_url("")), "s3cret")
    try:
        assert (await client.open_ticket({"sender": "a"}))["ticket_id"] == 7
        await client.leave_message(7, "留言", "13812345678")
        await client.rate("web", "a", 5, kind="bot")
        await client.comment(3, "web", "a", "很好")
        await client.incoming("wechat", "o", "你好")
        await client.deliver(str(server.make_url("/webhooks/wechat/deliver")), {"kind": "message"})
    finally:
        await client.close()
    assert [c[1] for c in calls] == ["/internal/handoff/tickets", "/internal/handoff/tickets/7/message",
                                     "/internal/handoff/ratings", "/internal/handoff/ratings/3/comment",
                                     "/internal/handoff/incoming", "/webhooks/wechat/deliver"]
    assert {c[2] for c in calls} == {"s3cret"}
    assert calls[1][3] == {"message": "留言", "phone": "13812345678"}


async def test_a_refusal_or_an_unreachable_server_is_handoff_unavailable_with_the_status(aiohttp_server, free_ports):
    server = await aiohttp_server(_recording_app([], status=409, reply={"error": "closed"}))
    client = HandoffClient(str(server.make_url("")), "s")
    with pytest.raises(HandoffUnavailable) as refused:
        await client.open_ticket({})
    assert refused.value.status == 409
    await client.close()
    dead = HandoffClient(f"http://127.0.0.1:{free_ports(1)[0]}", "s")
    with pytest.raises(HandoffUnavailable) as unreachable:
        await dead.open_ticket({})
    assert unreachable.value.status is None
    await dead.close()
    with pytest.raises(HandoffUnavailable, match="not set"):
        await HandoffClient(None, "").open_ticket({})


async def test_the_rasa_client_pauses_resumes_and_reads_a_conversation(aiohttp_server):
    calls: list = []
    server = await aiohttp_server(_recording_app(calls, reply={"messages": [{"text": "好"}], "paused": True}))
    async with aiohttp.ClientSession() as session:
        rasa = RasaClient(session, str(server.make_url("")))
        await rasa.pause("web user/1")
        assert await rasa.resume("web user/1", "EXTERNAL_handoff_returned") == [{"text": "好"}]
        assert (await rasa.state("web user/1"))["paused"] is True
        assert await rasa.trigger("u", "EXTERNAL_idle") == [{"text": "好"}]
    paths = [c[1] for c in calls]
    assert paths[0] == "/conversations/web%20user%2F1/tracker/events?include_events=NONE"
    assert calls[0][3] == [{"event": "pause"}]
    assert calls[1][3] == [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
    assert paths[2] == "/conversations/web%20user%2F1/trigger_intent?include_events=NONE"
    assert paths[3] == "/conversations/web%20user%2F1/tracker?include_events=NONE"


async def test_the_rasa_client_turns_an_error_into_rasa_unavailable(aiohttp_server):
    server = await aiohttp_server(_recording_app([], status=500, reply={"error": "boom"}))
    async with aiohttp.ClientSession() as session:
        rasa = RasaClient(session, str(server.make_url("")))
        with pytest.raises(RasaUnavailable, match="500"):
            await rasa.send("abcdefgh", "你好")
        with pytest.raises(RasaUnavailable):
            await rasa.pause("abcdefgh")
