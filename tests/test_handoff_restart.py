"""Durability: restart Rasa, the action server or the web server in the middle of a handoff. No message is
lost, the ticket keeps its state, the page and the console reconnect by themselves and catch up. And Rasa keeps
conversations in SQL: after a restart of the Rasa server the bot still knows the matter.

Its own stack (module scope): the restarts must not disturb the shared one.
"""
from __future__ import annotations

import asyncio
import signal
import time

import pytest

from support.stack import load_catalog, restart, restart_now, running_stack
from support.handoff import Console, Person, add_helper, new_ticket, rasa_tracker, response_text


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    """Its own database: tickets of the shared stack's tests must not show up in these consoles."""
    url = f"sqlite:///{tmp_path_factory.mktemp('restart-db') / 'catalog.sqlite3'}"
    load_catalog(url)
    return url


@pytest.fixture(scope="module")
def stack(tmp_path_factory, database_url, trained_model):
    with running_stack(database_url, tmp_path_factory.mktemp("restart-logs")) as stack:
        yield stack


@pytest.fixture(scope="module")
def helper(database_url):
    return add_helper(database_url, ["minsheng", "qykb"], name="郑稳", staff_no="R001")


async def start_handoff(stack, helper):
    web = stack.settings.web_url
    console, person = Console(web), Person(web)
    await console.login(helper)
    board = await console.connect()
    page = await person.connect()
    await person.say("公积金提取要带什么")
    await person.say("转人工")
    ticket = (await board.wait_for(lambda f: new_ticket(f, person)))["ticket"]
    assert (await console.post_json(f"/console/tickets/{ticket['id']}/claim"))[0] == 200
    await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "notice")
    return console, person, board, page, ticket


@pytest.mark.asyncio
async def test_rasa_and_action_server_restart_while_person_and_helper_keep_talking(stack, helper):
    console, person, board, page, ticket = await start_handoff(stack, helper)
    tid = ticket["id"]
    try:
        for name in ("rasa", "actions"):
            async def talk(name=name):  # while the process is down: the handoff does not need it
                for i in range(3):
                    assert (await person.say(f"{name} 重启时群众第{i}条"))["messages"] == []
                    status, _ = await console.post_json(f"/console/tickets/{tid}/messages",
                                                        {"text": f"{name} 重启时工作人员第{i}条"})
                    assert status == 200
            await restart(stack, name, meanwhile=talk)
            for i in range(3):
                await board.wait_for(lambda f, i=i: f["type"] == "message"
                                     and f["message"]["text"] == f"{name} 重启时群众第{i}条")
                await page.wait_for(lambda f, i=i: f["type"] == "message" and f["text"] == f"{name} 重启时工作人员第{i}条")
        data = await (await console.get(f"/console/api/tickets/{tid}")).json()
        assert data["ticket"]["status"] == "active"
        texts = [m["text"] for m in data["messages"]]
        for name in ("rasa", "actions"):
            for who in ("群众", "工作人员"):
                positions = [texts.index(f"{name} 重启时{who}第{i}条") for i in range(3)]
                assert positions == sorted(positions)  # all there, in the order sent
        # Hand back to the restarted Rasa: resumed, the bot says so and answers again.
        await console.post_form(f"/console/tickets/{tid}/handback", {"resolution": "answered"})
        back = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "bot")
        assert back["text"] == response_text("utter_handoff_returned")
        assert "住房公积金提取" in await person.say_text("公积金提取要带什么")
    finally:
        await person.close()
        await console.close()


@pytest.mark.asyncio
async def test_web_server_restart_keeps_the_ticket_and_everyone_catches_up(stack, helper):
    console, person, board, page, ticket = await start_handoff(stack, helper)
    tid = ticket["id"]
    try:
        await console.post_json(f"/console/tickets/{tid}/messages", {"text": "重启前的回复"})
        seen = await page.wait_for(lambda f: f["type"] == "message" and f["text"] == "重启前的回复")
        await restart(stack, "web")
        await asyncio.wait_for(board.closed.wait(), 10)  # the old process closed the sockets
        await asyncio.wait_for(page.closed.wait(), 10)

        # Same cookie, same session (sessions live in SQL); the ticket is still active and still mine.
        board = await console.connect()
        data = await (await console.get(f"/console/api/tickets/{tid}")).json()
        assert data["ticket"]["status"] == "active" and data["ticket"]["helper_name"] == "郑稳"
        status, _ = await console.post_json(f"/console/tickets/{tid}/messages", {"text": "重启后的回复"})
        assert status == 200
        page = await person.connect(after=seen["id"])  # what the page does when it reconnects
        got = await page.wait_for(lambda f: f["type"] == "message" and f["text"] == "重启后的回复")
        assert not page.matching(lambda f: f.get("text") == "重启前的回复")  # no duplicates
        state = await page.wait_for(lambda f: f["type"] == "state" and f["handoff"])
        assert state["handoff"]["status"] == "active"
        assert (await person.say("重启后群众的话"))["messages"] == []  # still routed to the helper
        await board.wait_for(lambda f: f["type"] == "message" and f["message"]["text"] == "重启后群众的话")
        assert (await rasa_tracker(stack.settings.rasa_url, person.sender))["paused"] is True
        assert got["id"] > seen["id"]
    finally:
        await person.close()
        await console.close()


@pytest.mark.asyncio
async def test_hand_back_while_rasa_is_down_tells_the_person_and_resumes_later(stack, helper):
    console, person, board, page, ticket = await start_handoff(stack, helper)
    try:
        async def hand_back():
            await console.post_form(f"/console/tickets/{ticket['id']}/handback", {"resolution": "answered"})
            notice = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "notice"
                                         and f["text"] == response_text("utter_handoff_returned"))
            assert notice

        await restart(stack, "rasa", meanwhile=hand_back)
        assert "住房公积金提取" in await person.say_text("公积金提取要带什么")
        deadline = time.monotonic() + 10
        while (await (await console.get(f"/console/api/tickets/{ticket['id']}")).json())["ticket"]["status"] != "closed":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # the retry loop resumes quietly: no second message
        assert len(page.matching(lambda f: f.get("text") == response_text("utter_handoff_returned"))) == 1
    finally:
        await person.close()
        await console.close()


def test_page_and_console_reconnect_by_themselves_after_a_web_server_restart(stack, helper, browser):
    """In Chromium: while the web server is down the citizen types on; once it is back, the page reconnects,
    sends what it could not, and the console (also reconnected) shows it; the helper's reply gets through."""
    from support.page import citizen_send, login, watch

    web = stack.settings.web_url
    helper_ctx = browser.new_context(locale="zh-CN")
    citizen_ctx = browser.new_context(locale="zh-CN")
    try:
        console = helper_ctx.new_page()
        console.set_default_timeout(30_000)
        login(console, web, helper)
        citizen = citizen_ctx.new_page()
        citizen.set_default_timeout(60_000)
        problems = watch(citizen)
        citizen.goto(f"{web}/")
        citizen.wait_for_selector('body[data-live="up"]')
        citizen_send(citizen, "公积金提取要带什么")
        citizen_send(citizen, "转人工")
        sender = citizen.evaluate("() => window.localStorage.getItem('sqfd.sender')")
        masked = f"{sender[:4]}****{sender[-2:]}"
        console.wait_for_selector(f'#list-waiting tr:has-text("{masked}") button.claim').click()
        console.wait_for_selector("#reply")
        console.wait_for_selector('body[data-live="up"]')
        citizen.wait_for_selector("#messages .msg.notice.handoff")

        stack.kill("web", signal.SIGTERM)
        citizen.wait_for_selector('body[data-live="down"]')
        console.wait_for_selector('body[data-live="down"]')
        citizen.fill("#input", "服务器重启时我发的话")
        citizen.press("#input", "Enter")
        citizen.wait_for_selector("#messages .msg.user.failed")
        stack.launch("web")
        stack.wait_service("web", timeout=60)

        citizen.wait_for_selector('body[data-live="up"]', timeout=30_000)
        citizen.wait_for_function("() => document.querySelectorAll('#messages .msg.user.failed').length === 0",
                                  timeout=30_000)
        console.wait_for_selector('body[data-live="up"]', timeout=30_000)
        console.wait_for_function(
            "t => [...document.querySelectorAll('#chat li.person .text')].some(e => e.textContent === t)",
            arg="服务器重启时我发的话", timeout=30_000)
        console.fill("#reply", "重启后也能收到")
        console.press("#reply", "Enter")
        citizen.wait_for_function(
            "t => [...document.querySelectorAll('#messages .msg.helper .bubble')].some(e => e.textContent === t)",
            arg="重启后也能收到", timeout=30_000)
        assert citizen.locator("#messages .msg.user .bubble").all_text_contents().count("服务器重启时我发的话") == 1
        assert not [p for p in problems if "pageerror" in p]
    finally:
        helper_ctx.close()
        citizen_ctx.close()


def _say(rasa_url: str, sender: str, text: str) -> str:
    import requests

    response = requests.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                             timeout=60)
    assert response.status_code == 200
    return "\n".join(m.get("text", "") for m in response.json())


def test_a_follow_up_after_a_rasa_restart_keeps_the_matter(stack):
    import uuid

    rasa_url, sender = stack.settings.rasa_url, f"t-{uuid.uuid4().hex[:12]}"
    assert "住房公积金提取" in _say(rasa_url, sender, "公积金提取要带什么")
    restart_now(stack, "rasa")
    answer = _say(rasa_url, sender, "那要多久？")
    assert "住房公积金提取" in answer and "办理时限" in answer
    assert stack.settings.tracker_db.exists()
