"""What helpers read in the console: situation labels (not codes), the button the person tapped (not its
payload), Chinese states, column headers, and one clock (the hall's time zone). On our real web app in this
process (`web_alone`): the console needs no Rasa."""
from __future__ import annotations

import re

import aiohttp
import pytest
from rasa_sdk import Tracker

from actions.handoff import transcript
from support.handoff import Console, add_helper, new_sender

pytestmark = pytest.mark.asyncio

PAYLOAD = '/inform_situation{"situation_option":"reason:rent"}'


@pytest.fixture(scope="module")
def helper(catalog_database_url):
    return add_helper(catalog_database_url, ["minsheng"], name="周民生", staff_no="M900")  # 公积金: the 民生 queue


async def open_ticket_with(settings, sender: str) -> int:
    """A ticket as the action server opens it after a 公积金提取 conversation with button taps."""
    body = {"channel": "web", "sender": sender, "reason": "request_human", "matter": "GJJ-TQ", "summary": "测试",
            "situation": {"reason": "rent"},
            "transcript": [
                {"who": "person", "text": "公积金提取要带什么", "intent": "ask_materials"},
                {"who": "bot", "text": "您提取公积金是为了什么？"},
                {"who": "person", "text": "租房", "intent": "inform_situation", "button": True},
                # A ticket stored before titles were kept: its payload is never shown either.
                {"who": "person", "text": PAYLOAD, "intent": "inform_situation"},
                {"who": "person", "text": "转人工", "intent": "request_human"},
            ]}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{settings.handoff_url}/internal/handoff/tickets", json=body,
                                headers={"X-Handoff-Secret": settings.handoff_secret}) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["ticket_id"]


def visible_text(html: str) -> str:
    body = re.sub(r"<(script|style|title)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


async def test_the_ticket_page_and_lists_speak_the_helpers_language(web_alone, helper):
    console = Console(web_alone.web_url)
    assert await console.login(helper) == 200
    await console.connect()  # on duty: a helper claims only while connected
    try:
        tid = await open_ticket_with(web_alone.settings, new_sender())
        html = await (await console.get(f"/console/tickets/{tid}")).text()
        text = visible_text(html)
        situation = re.search(r"<dt>情形</dt><dd>(.*?)</dd>", html, re.S).group(1)
        assert situation == "租房"
        for code in ("reason：", "rent"):
            assert code not in text, code
        assert "点选 租房" in text
        assert "inform_situation" not in text and "点选按钮" not in text and "situation_option" not in text
        assert "（点选了一个按钮）" in text
        assert '<meta name="hall-timezone" content="Asia/Shanghai">' in html

        assert (await console.post_json(f"/console/tickets/{tid}/claim"))[0] == 200
        assert (await console.post_form(f"/console/tickets/{tid}/close", {"resolution": "answered"})).status == 303
        listing = await (await console.get("/console/partials/lists")).text()
        closed = listing[listing.index('id="list-closed"'):]
        row = re.search(rf'<tr data-ticket-id="{tid}".*?</tr>', closed, re.S).group(0)
        assert "已解答" in row and "answered" not in visible_text(row)
        headers = re.findall(r'<th scope="col">(.*?)</th>', closed)
        assert headers == ["工单", "渠道 · 群众", "队列", "事项", "原因", "结束时间 · 结果", "处理人"]
        queue_page = await (await console.get("/console")).text()
        assert '<th scope="col">排队</th>' in queue_page or 'id="list-waiting" data-count="0"' in queue_page
    finally:
        await console.close()


def test_the_transcript_keeps_the_title_of_a_tapped_button():
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "user", "text": "公积金提取要带什么", "parse_data": {"intent": {"name": "ask_materials"}}},
        {"event": "bot", "text": "您提取公积金是为了什么？",
         "data": {"buttons": [{"title": "租房", "payload": PAYLOAD},
                              {"title": "买房", "payload": PAYLOAD.replace("rent", "buy")}]}},
        {"event": "user", "text": PAYLOAD, "parse_data": {"intent": {"name": "inform_situation"}}},
        {"event": "user", "text": "/greet", "parse_data": {"intent": {"name": "greet"}}},
    ]
    tracker = Tracker("s", {}, {}, events, False, None, {}, "action_listen")
    lines = transcript(tracker)
    assert [(line["who"], line["text"], line.get("button", False)) for line in lines] == [
        ("person", "公积金提取要带什么", False), ("bot", "您提取公积金是为了什么？", False),
        ("person", "租房", True)]  # the page's own /greet is not something the person said
