"""The whole handoff through the real servers: request -> ticket -> claim -> two-way chat -> hand back -> the
bot answers again. Person and helper use the same HTTP/WebSocket endpoints as the page and the console."""
from __future__ import annotations

import pytest

from support.handoff import (QUEUED_RE, Console, Person, add_helper, new_ticket, rasa_tracker,
                             response_text)

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def qykb_helper(catalog_database_url):
    return add_helper(catalog_database_url, ["qykb"], name="张三", staff_no="A012")


async def test_request_claim_chat_hand_back_and_the_bot_answers_again(live_stack, qykb_helper):
    web = live_stack.web_url
    console, person = Console(web), Person(web)
    try:
        assert await console.login(qykb_helper) == 200
        board = await console.connect()  # an open console: the helper is on duty
        page = await person.connect()

        answer = await person.say_text("公司设立登记要带什么材料")
        assert "公司设立登记" in answer and "一次性告知" in answer

        reply = await person.say("转人工")
        text = "\n".join(m["text"] for m in reply["messages"])
        match = QUEUED_RE.search(text)
        assert match, text
        assert reply.get("handoff") is None  # Rasa answered this one; the state comes over the socket

        # The ticket is in the open console at once, with the context the bot collected.
        announced = await board.wait_for(lambda f: new_ticket(f, person), timeout=5)
        ticket = announced["ticket"]
        assert ticket["status"] == "waiting" and ticket["queue"] == "qykb"
        assert ticket["matter"] == "公司设立登记（有限责任公司、股份有限公司）"
        assert ticket["reason"] == "assisted" and ticket["channel"] == "web"  # the matter is flagged 帮办代办
        assert person.sender not in str(announced)  # the person's id is masked for helpers
        page_html = await (await console.get(f"/console/tickets/{ticket['id']}")).text()
        assert "公司设立登记要带什么材料" in page_html  # the transcript
        assert "所需材料" in page_html  # the bot's summary: what was asked
        state = await page.wait_for(lambda f: f["type"] == "state" and f["handoff"])
        assert state["handoff"]["status"] == "waiting" and "前面还有" in state["handoff"]["text"]

        # While waiting, the person's messages go to the helper, not to the bot.
        waiting = await person.say("我想问一下注册资本怎么填")
        assert waiting["messages"] == [] and waiting["handoff"]["status"] == "waiting"
        got = await board.wait_for(lambda f: f["type"] == "message" and f["ticket_id"] == ticket["id"])
        assert got["message"] == {**got["message"], "author": "person", "text": "我想问一下注册资本怎么填"}
        tracker = await rasa_tracker(live_stack.rasa_url, person.sender)
        assert tracker["paused"] is True
        assert tracker["latest_message"]["text"] == "转人工"  # Rasa never saw the message for the helper

        # Claim: the person is told who serves them.
        status, claimed = await console.post_json(f"/console/tickets/{ticket['id']}/claim")
        assert status == 200 and claimed["won"]
        notice = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "notice")
        assert notice["text"] == response_text("utter_handoff_claimed").format(helper_name="张三", staff_no="A012")
        await page.wait_for(lambda f: f["type"] == "state" and f["handoff"] and f["handoff"]["status"] == "active")

        # Two-way chat, with typing shown both ways.
        await page.send({"type": "typing"})
        await board.wait_for(lambda f: f["type"] == "typing" and f["ticket_id"] == ticket["id"])
        await board.send({"type": "typing", "ticket_id": ticket["id"]})
        await page.wait_for(lambda f: f["type"] == "typing")
        status, sent = await console.post_json(f"/console/tickets/{ticket['id']}/messages",
                                               {"text": "您好，注册资本按章程填写即可。"})
        assert status == 200
        helper_msg = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "helper")
        assert helper_msg["text"] == "您好，注册资本按章程填写即可。"
        assert (helper_msg["name"], helper_msg["staff_no"]) == ("张三", "A012")
        assert helper_msg["id"] == sent["message"]["id"]
        assert (await person.say("好的，谢谢"))["messages"] == []
        await board.wait_for(lambda f: f["type"] == "message" and f["message"]["text"] == "好的，谢谢")

        # Hand back: Rasa is resumed and the bot itself tells the person.
        before = len(page.frames)
        resp = await console.post_form(f"/console/tickets/{ticket['id']}/handback", {"resolution": "answered"})
        assert resp.status == 303
        back = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "bot")
        assert back["text"] == response_text("utter_handoff_returned")
        await page.wait_for(lambda f: f["type"] == "state" and f["handoff"] is None, start=before)
        tracker = await rasa_tracker(live_stack.rasa_url, person.sender)
        assert tracker["paused"] is False

        again = await person.say_text("公积金提取要带什么")
        assert "住房公积金提取" in again  # the bot answers again
        restart = await person.say("/restart")
        assert restart.get("handoff") is None
        assert "住房公积金提取" in await person.say_text("公积金提取要带什么")

        closed = await console.get("/console/api/lists")
        assert ticket["id"] in [t["id"] for t in (await closed.json())["closed"]]
    finally:
        await person.close()
        await console.close()


async def test_a_page_that_was_away_catches_up_on_what_it_missed(live_stack, qykb_helper):
    console, person = Console(live_stack.web_url), Person(live_stack.web_url)
    try:
        await console.login(qykb_helper)
        board = await console.connect()
        await person.say("公司设立登记要带什么材料")
        await person.say("我要找工作人员")
        ticket = (await board.wait_for(lambda f: new_ticket(f, person)))["ticket"]
        await console.post_json(f"/console/tickets/{ticket['id']}/claim")
        # The page is closed: three messages arrive meanwhile.
        for text in ("第一条", "第二条", "第三条"):
            assert (await console.post_json(f"/console/tickets/{ticket['id']}/messages", {"text": text}))[0] == 200
        page = await person.connect(after=0)
        await page.wait_for(lambda f: f["type"] == "state")
        shown = [f["text"] for f in page.matching(lambda f: f["type"] == "message")]
        assert shown[1:] == ["第一条", "第二条", "第三条"] and "已接入" in shown[0]
        cursor = page.matching(lambda f: f["type"] == "message")[1]["id"]
        await page.close()
        # Reconnecting with a cursor gets only what came after it, in order.
        page = await person.connect(after=cursor)
        await page.wait_for(lambda f: f["type"] == "state")
        assert [f["text"] for f in page.matching(lambda f: f["type"] == "message")] == ["第二条", "第三条"]
        await console.post_form(f"/console/tickets/{ticket['id']}/close", {"resolution": "answered"})
        closing = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "bot")
        assert closing["text"] == response_text("utter_handoff_closed_notice")
    finally:
        await person.close()
        await console.close()


async def test_the_internal_api_is_loopback_only_and_needs_the_secret(web_alone):
    import socket

    import aiohttp

    url = web_alone.settings.handoff_url
    assert url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Handoff-Secret": "wrong"}, {"X-Handoff-Secret": ""}):
            async with session.post(f"{url}/internal/handoff/tickets", json={}, headers=headers) as resp:
                assert resp.status == 403
            async with session.get(f"{url}/internal/handoff/health", headers=headers) as resp:
                assert resp.status == 403
        secret = {"X-Handoff-Secret": web_alone.settings.handoff_secret}
        async with session.get(f"{url}/internal/handoff/health", headers=secret) as resp:
            assert resp.status == 200
        async with session.post(f"{url}/internal/handoff/tickets", headers=secret,
                                json={"channel": "web", "sender": "bad sender!", "reason": "x"}) as resp:
            assert resp.status == 400
        async with session.post(f"{url}/internal/handoff/tickets", headers=secret,
                                json={"channel": "rest", "sender": "someone-1234"}) as resp:
            assert resp.status == 422  # a channel the handoff cannot reach: the action points to the desk
        # Not on the public port.
        async with session.post(f"{web_alone.web_url}/internal/handoff/tickets", json={}, headers=secret) as r:
            assert r.status == 404
    # Bound to the loopback interface only.
    addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    port = int(url.rsplit(":", 1)[1])
    for address in addresses - {"127.0.0.1"}:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            assert client.connect_ex((address, port)) != 0, f"internal API reachable on {address}"


async def test_restart_during_a_handoff_cancels_it_and_the_bot_answers(live_stack, qykb_helper):
    console, person = Console(live_stack.web_url), Person(live_stack.web_url)
    try:
        await console.login(qykb_helper)
        board = await console.connect()
        await person.say("营业执照丢了怎么补")
        await person.say("转人工")
        ticket = (await board.wait_for(lambda f: new_ticket(f, person)))["ticket"]
        greet = await person.say("/greet")  # the page's opening payload while handed off: the state, not the bot
        assert greet["handoff"]["status"] == "waiting" and "前面还有" in greet["messages"][0]["text"]
        assert (await person.say("/restart")).get("handoff") is None
        closed = await board.wait_for(lambda f: f["type"] == "ticket" and f["ticket"]["id"] == ticket["id"]
                                      and f["ticket"]["status"] == "closed")
        assert closed["ticket"]["resolution"] == "cancelled"
        assert (await rasa_tracker(live_stack.rasa_url, person.sender))["paused"] is False
        assert "住房公积金提取" in await person.say_text("公积金提取要带什么")
    finally:
        await person.close()
        await console.close()
