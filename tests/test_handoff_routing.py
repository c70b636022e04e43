"""When and where the bot hands off, through the real Rasa, action server and web server: routing by matter,
帮办代办 matters, complaints, two misunderstandings, out-of-hours message taking, nobody on duty.

The test stacks use tests/fixtures/handoff.yml: open around the clock, except 不动产 (never open) and 公安
(nobody has that queue)."""
from __future__ import annotations

import pytest

from support.handoff import QUEUED_RE, Console, Person, add_helper, new_ticket, rasa_tracker, response_text

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def generalist(catalog_database_url):
    return add_helper(catalog_database_url, ["qykb", "sbyb", "tzxm", "minsheng", "zonghe"], name="周全",
                      staff_no="G001")


@pytest.fixture(scope="module")
def bdc_helper(catalog_database_url):
    return add_helper(catalog_database_url, ["bdc"], name="吴房", staff_no="F001")


async def hand_off(person: Person, board, question: str, ask: str = "转人工") -> tuple:
    if question:
        await person.say(question)
    reply = await person.say_text(ask)
    frame = await board.wait_for(lambda f: new_ticket(f, person), timeout=10)
    return reply, frame["ticket"]


@pytest.mark.parametrize("question, queue", [
    ("公积金提取要带什么", "minsheng"),
    ("社保卡丢了怎么补办", "sbyb"),
    ("开发票要带什么材料", "qykb"),       # a matter routed by configuration, not by its location
    ("今天天气怎么样", "zonghe"),          # no matter: the general queue
])
async def test_a_ticket_goes_to_the_queue_of_its_matter(live_stack, generalist, question, queue):
    console, person = Console(live_stack.web_url), Person(live_stack.web_url)
    try:
        await console.login(generalist)
        board = await console.connect()
        reply, ticket = await hand_off(person, board, question)
        assert QUEUED_RE.search(reply), reply
        assert ticket["queue"] == queue, ticket
        await console.post_form(f"/console/tickets/{ticket['id']}/close", {"resolution": "other"})
    finally:
        await person.close()
        await console.close()


async def test_an_investment_project_asking_for_help_is_assisted_with_green_channel_priority(live_stack,
                                                                                            generalist):
    console, person = Console(live_stack.web_url), Person(live_stack.web_url)
    try:
        await console.login(generalist)
        board = await console.connect()
        reply, ticket = await hand_off(person, board, "企业投资项目核准需要什么材料", "项目比较复杂，需要专人帮我办")
        assert ticket["queue"] == "tzxm" and ticket["reason"] == "assisted"
        assert ticket["priority_label"] == "重点项目绿色通道" and ticket["priority"] >= 2
        assert QUEUED_RE.search(reply)
        await console.post_form(f"/console/tickets/{ticket['id']}/close", {"resolution": "other"})
    finally:
        await person.close()
        await console.close()


async def test_a_complaint_is_recorded_and_goes_first(live_stack, generalist):
    console, person, other = Console(live_stack.web_url), Person(live_stack.web_url), Person(live_stack.web_url)
    try:
        await console.login(generalist)
        board = await console.connect()
        _, first = await hand_off(other, board, "公积金提取要带什么")
        # The complaint intake (actions/feedback.py) takes what happened and a number, then hands off.
        await person.say("公积金提取要带什么")
        await person.say("跑了三趟都没办成，窗口也不说缺什么，我要反映")
        await person.say("窗口说材料不全，但不告诉我缺哪样")
        reply, ticket = await hand_off(person, board, "", "13812345678")
        assert "BBCS-" in reply
        assert "前面还有 0 位" in reply  # ahead of the earlier, ordinary ticket
        assert ticket["reason"] == "complain" and ticket["queue"] == "minsheng"
        page = await (await console.get(f"/console/tickets/{ticket['id']}")).text()
        assert "跑了三趟都没办成，窗口也不说缺什么，我要反映" in page and "反映的问题" in page
        lists = await (await console.get("/console/api/lists")).json()
        waiting = [t["id"] for t in lists["waiting"] if t["queue"] == "minsheng"]
        assert waiting.index(ticket["id"]) < waiting.index(first["id"])
        for t in (ticket, first):
            await console.post_form(f"/console/tickets/{t['id']}/close", {"resolution": "other"})
    finally:
        await person.close()
        await other.close()
        await console.close()


@pytest.mark.parametrize("accept", ["/request_human", "好的"], ids=["button", "typed"])
async def test_two_misunderstandings_in_a_row_offer_a_person(live_stack, generalist, accept):
    console, person = Console(live_stack.web_url), Person(live_stack.web_url)
    try:
        await console.login(generalist)
        board = await console.connect()
        first = await person.say("/nlu_fallback")
        assert [m["text"] for m in first["messages"]] == [response_text("utter_default")]
        second = await person.say("/nlu_fallback")
        assert second["messages"][0]["text"] == response_text("utter_handoff_offer")
        buttons = {b["title"]: b["payload"] for b in second["messages"][0]["buttons"]}
        assert buttons["转人工"] == "/request_human"
        reply = await person.say_text(accept)
        assert QUEUED_RE.search(reply), reply
        ticket = (await board.wait_for(lambda f: new_ticket(f, person)))["ticket"]
        assert ticket["reason"] == "fallback"
        await console.post_form(f"/console/tickets/{ticket['id']}/close", {"resolution": "other"})
    finally:
        await person.close()
        await console.close()


async def test_one_misunderstanding_then_an_answer_does_not_offer(live_stack):
    person = Person(live_stack.web_url)
    try:
        assert (await person.say_text("/nlu_fallback")) == response_text("utter_default")
        assert "审前辅导助手" in await person.say_text("你好")  # understood: the count starts again
        assert (await person.say_text("/nlu_fallback")) == response_text("utter_default")  # not in a row
        assert (await person.say_text("好的")) != ""  # no pending offer: affirm is just affirm
        assert (await rasa_tracker(live_stack.rasa_url, person.sender))["paused"] is False
    finally:
        await person.close()


async def test_out_of_hours_the_bot_takes_a_message_and_a_callback_number(live_stack, bdc_helper):
    person = Person(live_stack.web_url)
    console = Console(live_stack.web_url)
    try:
        await console.login(bdc_helper)
        board = await console.connect()  # on duty, but the queue is outside its hours
        page = await person.connect()
        await person.say("二手房过户要带什么")
        reply = await person.say_text("转人工")
        assert response_text("utter_handoff_out_of_hours").format(hours="测试用：从不开放") in reply
        assert response_text("utter_ask_handoff_message") in reply
        assert await person.say_text("想问二手房过户的契税怎么交") == response_text("utter_ask_callback_phone")
        wrong = await person.say_text("12345")
        assert response_text("utter_handoff_invalid_phone") in wrong
        assert response_text("utter_ask_callback_phone") in wrong
        taken = await person.say_text("138 1234 5678")
        assert taken == response_text("utter_handoff_message_taken").format(phone="13812345678")

        # The ticket waits for the next helper, with the message and number; nothing was lost.
        ticket = (await board.wait_for(lambda f: new_ticket(f, person)))["ticket"]
        assert ticket["queue"] == "bdc" and ticket["callback"] and ticket["status"] == "waiting"
        html = await (await console.get(f"/console/tickets/{ticket['id']}")).text()
        assert "想问二手房过户的契税怎么交" in html and "13812345678" in html and "非工作时间留言" in html
        tracker = await rasa_tracker(live_stack.rasa_url, person.sender)
        assert tracker["paused"] is False and tracker["slots"]["callback_phone"] is None  # kept on the ticket only

        # Meanwhile the bot still answers the person.
        assert "住房公积金提取" in await person.say_text("公积金提取要带什么")
        # Asking again says the message is taken, without a second ticket.
        again = await person.say_text("转人工")
        assert response_text("utter_handoff_message_already").format(hours="测试用：从不开放") in again

        # The next helper calls back or writes: claiming it routes the person to them from now on.
        status, _ = await console.post_json(f"/console/tickets/{ticket['id']}/claim")
        assert status == 200
        notice = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "notice")
        assert "吴房" in notice["text"] and "F001" in notice["text"]
        assert (await rasa_tracker(live_stack.rasa_url, person.sender))["paused"] is True
        assert (await person.say("我在，谢谢回复"))["messages"] == []
        await board.wait_for(lambda f: f["type"] == "message" and f["message"]["text"] == "我在，谢谢回复")
        await console.post_form(f"/console/tickets/{ticket['id']}/handback", {"resolution": "answered"})
        await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "bot")
        assert "住房公积金提取" in await person.say_text("公积金提取要带什么")
    finally:
        await person.close()
        await console.close()


async def test_nobody_on_duty_is_said_at_once(live_stack):
    person = Person(live_stack.web_url)
    try:
        await person.say("身份证丢了怎么补办")
        reply = await person.say_text("我要找工作人员")
        assert response_text("utter_handoff_no_helper").format(queue_name="公安") in reply
        assert response_text("utter_ask_handoff_message") in reply
    finally:
        await person.close()


async def test_direct_rest_clients_are_pointed_to_the_help_desk(live_stack):
    """A channel the handoff cannot reach (Rasa's REST API used directly): the old answer, never silence."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{live_stack.rasa_url}/webhooks/rest/webhook",
                                json={"sender": "direct-rest-client-1", "message": "转人工"}) as resp:
            text = "\n".join(m.get("text", "") for m in await resp.json())
    assert "帮办代办" in text and "审前服务区" in text
    assert response_text("utter_handoff_no_push") in text  # and why: this window cannot receive a helper
