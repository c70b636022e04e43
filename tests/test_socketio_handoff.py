"""Handoff (帮办代办) for a person on a standard web widget (socket.io), through the real stack: request → ticket with
transcript → claim → two-way chat → hand back → the bot answers again → rating. The same story as our page's and
WeChat's, with helper messages pushed into the widget's session room by the socket.io channel."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import create_engine, select

from bot.handoff.models import Rating

from support.handoff import QUEUED_RE, Console, add_helper, rasa_tracker, response_text
from support.socketio import WidgetClient, text_of

pytestmark = pytest.mark.asyncio


def texts_until(client: WidgetClient, wanted: str) -> str:
    return text_of(client.wait_for(lambda m: wanted in (m.get("text") or "")))


async def in_thread(call, *args):
    """The socket.io client blocks; the console's WebSocket needs the event loop meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(None, call, *args)


async def test_a_widget_user_is_handed_off_and_back(live_stack, catalog_database_url):
    helper = add_helper(catalog_database_url, ["zonghe", "minsheng"], supervisor=True, name="周六", staff_no="S016")
    console = Console(live_stack.web_url)
    widget = WidgetClient(live_stack.rasa_url)
    try:
        assert await console.login(helper) == 200
        board = await console.connect()  # on duty
        await in_thread(widget.connect)
        widget.say("公积金提取要带什么")
        await in_thread(widget.wait_for, lambda m: bool(m.get("text")))
        widget.say("转人工")
        queued = await in_thread(texts_until, widget, "已为您转接")
        assert QUEUED_RE.search(queued), queued
        announced = await board.wait_for(lambda f: f["type"] == "ticket" and f["ticket"]["new"]
                                         and f["ticket"]["channel"] == "socketio")
        ticket = announced["ticket"]
        resp = await console.get(f"/console/tickets/{ticket['id']}")
        page = await resp.text()
        assert "公积金提取要带什么" in page  # the transcript came with the ticket

        # The person's messages reach the ticket, not the bot.
        widget.say("我的公积金提不出来")
        got = await board.wait_for(lambda f: f["type"] == "message" and f["ticket_id"] == ticket["id"]
                                   and f["message"]["author"] == "person")
        assert got["message"]["text"] == "我的公积金提不出来"
        tracker = await rasa_tracker(live_stack.rasa_url, widget.session_id)
        assert [e["text"] for e in tracker["events"] if e["event"] == "user"][-1] == "转人工"

        # The helper claims and writes: both arrive in the widget.
        status, claimed = await console.post_json(f"/console/tickets/{ticket['id']}/claim")
        assert status == 200 and claimed["won"]
        claimed_text = response_text("utter_handoff_claimed").format(helper_name="周六", staff_no="S016")
        assert claimed_text in await in_thread(texts_until, widget, "周六")
        status, _ = await console.post_json(f"/console/tickets/{ticket['id']}/messages", {"text": "您好，请问是哪种提取？"})
        assert status == 200
        assert "您好，请问是哪种提取？" in await in_thread(texts_until, widget, "哪种提取")

        # Hand back: the bot's words and the rating question arrive, and the bot answers again.
        resp = await console.post_form(f"/console/tickets/{ticket['id']}/handback", {"resolution": "answered"})
        assert resp.status == 303
        rating = await in_thread(widget.wait_for, lambda m: response_text("utter_ask_rating_human") in (m.get("text") or ""))
        assert any(response_text("utter_handoff_returned") in (m.get("text") or "") for m in rating)
        assert [r["title"] for r in rating[-1].get("buttons") or []][:1] == ["非常满意"]
        widget.send({"message": rating[-1]["buttons"][0]["payload"], "session_id": widget.session_id})
        await in_thread(widget.wait_for, lambda m: bool(m.get("text")))  # the optional comment, asked
        widget.say("工作人员很耐心")
        await in_thread(widget.wait_for, lambda m: "谢谢" in (m.get("text") or ""))
        engine = create_engine(catalog_database_url)
        with engine.connect() as conn:
            stored = conn.execute(select(Rating.score, Rating.comment).where(
                Rating.channel == "socketio", Rating.ticket_id == ticket["id"])).all()
        engine.dispose()
        assert stored == [(5, "工作人员很耐心")]
        widget.say("公积金提取要带什么")
        answer = await in_thread(widget.wait_for, lambda m: "公积金" in (m.get("text") or ""))
        assert answer
    finally:
        widget.close()
        await console.close()


async def test_socketio_deliver_needs_the_handoff_secret(live_stack):
    url = f"{live_stack.rasa_url}/webhooks/socketio/deliver"
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Handoff-Secret": "wrong"}):
            async with session.post(url, json={"sender": "abc", "kind": "message", "text": "hi"},
                                    headers=headers) as resp:
                assert resp.status == 403
        secret = {"X-Handoff-Secret": live_stack.settings.handoff_secret}
        async with session.post(url, data=b"{not json", headers=secret) as resp:
            assert resp.status == 400
        async with session.post(url, json={"sender": "bad sender!", "kind": "message", "text": "x"},
                                headers=secret) as resp:
            assert resp.status == 400
