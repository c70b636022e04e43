"""好差评: reading a score, the SQL store, when the question is asked (tracker snapshots), and whole flows
through the real servers: rating stored with matter and channel, a low rating handed to a helper, the rating
after human help kept on the ticket and shown on the dashboard."""
from __future__ import annotations

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.feedback import ActionAskRating, answered_something
from actions.rating_question import rating_buttons, score_from
from bot.handoff import models as m
from bot.handoff.config import HandoffConfig
from bot.handoff.feedback import FeedbackError, FeedbackStore, person_ref
from bot.handoff.service import HandoffService
from support.handoff import (HANDOFF_CONFIG, QUEUED_RE, REPO_ROOT, Console, Person, add_helper, new_ticket,
                             response_text)
from knowledge import make_engine

DOMAIN = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
TITLES = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]


# ---- reading a score ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, score", [
    ("非常满意", 5), ("满意", 4), ("基本满意", 3), ("不满意", 2), ("非常不满意", 1),
    ("很不满意，答非所问", 1), ("不太满意", 2), ("挺满意的", 4), ("一般般吧", 3), ("五星好评", 5),
    ("滿意", 4), ("非常　满意", 5), ("今天天气不错", None), ("", None), ("/rate", None),
])
def test_a_typed_rating_is_read_by_the_longest_rating_word(text, score):
    assert score_from(None, text, DOMAIN) == score


def test_a_button_value_wins_and_bad_values_are_refused():
    assert score_from("2", "非常满意", DOMAIN) == 2
    assert score_from("9", None, DOMAIN) is None and score_from("x", None, DOMAIN) is None


def test_five_buttons_from_the_domain_with_scores_five_to_one():
    buttons = rating_buttons(DOMAIN)
    assert [b["title"] for b in buttons] == TITLES
    assert [b["payload"] for b in buttons] == [f'/rate{{"rating_score":"{s}"}}' for s in (5, 4, 3, 2, 1)]


# ---- when the question is asked ------------------------------------------------------------------


def _user(text, intent):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def _tracker(events, slots=None, intent="goodbye"):
    return Tracker("p-1", slots or {}, {"intent": {"name": intent}, "text": "再见"}, events, False, None, {},
                   "action_listen")


ANSWERED = [{"event": "session_started"}, _user("/greet", "greet"), {"event": "bot", "text": "您好"},
            _user("公积金提取要带什么", "ask_materials"), {"event": "bot", "text": "材料如下"}]


def _run(tracker):
    dispatcher = CollectingDispatcher()
    events = ActionAskRating().run(dispatcher, tracker, DOMAIN)
    return [msg["response"] for msg in dispatcher.messages], events, dispatcher.messages


def test_goodbye_after_an_answer_asks_once_in_one_tap():
    responses, events, messages = _run(_tracker(ANSWERED + [_user("再见", "goodbye")]))
    assert responses == ["utter_ask_rating_goodbye"]
    assert [b["title"] for b in messages[0]["buttons"]] == TITLES
    assert {"event": "slot", "timestamp": None, "name": "rating_asked", "value": True} in events
    # Asked already in this session: goodbye is just goodbye.
    assert _run(_tracker(ANSWERED, {"rating_asked": True}))[0] == ["utter_goodbye"]


def test_never_before_the_bot_answered_anything_nor_during_a_handoff():
    greeted_only = [{"event": "session_started"}, _user("/greet", "greet"), {"event": "bot", "text": "您好"}]
    assert not answered_something(_tracker(greeted_only))
    assert _run(_tracker(greeted_only))[0] == ["utter_goodbye"]
    assert _run(_tracker(greeted_only, intent="EXTERNAL_idle"))[0] == []  # idle: silent
    assert _run(_tracker(ANSWERED, {"handoff_ticket": 7.0}, intent="EXTERNAL_idle"))[0] == []
    assert _run(_tracker(ANSWERED, intent="EXTERNAL_idle"))[0] == ["utter_ask_rating_idle"]
    # The last session counts, not an earlier one.
    assert not answered_something(_tracker(ANSWERED + greeted_only))


# ---- the SQL store -------------------------------------------------------------------------------


@pytest.fixture
def service(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'handoff.sqlite3'}")
    service = HandoffService(engine, HandoffConfig.load(HANDOFF_CONFIG))
    service.setup()
    return service


def test_one_table_for_both_kinds_with_matter_channel_and_an_opaque_person(service):
    bot = service.rate("bot", "web", "sender-abc-123", 4, "清楚", "GJJ-TQ")
    assert (bot.kind, bot.channel, bot.matter_code, bot.score, bot.comment, bot.ticket_id) == \
        ("bot", "web", "GJJ-TQ", 4, "清楚", None)
    assert bot.person == person_ref("web", "sender-abc-123") and "sender" not in bot.person
    assert person_ref("wechat", "sender-abc-123") != bot.person
    # A rating of human help with no recent ticket is kept, without a ticket.
    human = service.rate("human", "web", "nobody-helped", 2)
    assert human.kind == "human" and human.ticket_id is None
    assert service.rate("human", "web", "nobody-helped", 3).ticket_id is None
    with Session(service.engine) as session:
        kinds = sorted(session.scalars(select(m.Rating.kind)))
    assert kinds == ["bot", "human", "human"]


def test_the_comment_is_added_only_by_the_person_who_rated(service):
    rating = service.rate("bot", "web", "sender-abc-123", 5)
    store = service.feedback
    assert not store.set_comment(rating.id, "web", "someone-else", "冒充")
    assert store.set_comment(rating.id, "web", "sender-abc-123", "<b>很好</b>\x00")
    assert store.ratings()[0].comment == "<b>很好</b>"  # kept as text; pages escape it
    with pytest.raises(FeedbackError):
        store.set_comment(rating.id, "web", "sender-abc-123", "   ")


@pytest.mark.parametrize("score", [0, 6, -1, "5", None, True])
def test_scores_outside_one_to_five_are_refused(service, score):
    with pytest.raises(Exception):
        service.feedback.add_rating("bot", "web", "p", score)
    with pytest.raises(FeedbackError):
        FeedbackStore(service.engine, service.config.tz).add_rating("robot", "web", "p", 3)


# ---- through the real servers --------------------------------------------------------------------

live = pytest.mark.asyncio


@pytest.fixture(scope="module")
def rating_helper(catalog_database_url):
    return add_helper(catalog_database_url, ["qykb", "sbyb", "tzxm", "minsheng", "zonghe"], name="评价员",
                      staff_no="R001")


def _ratings_of(database_url: str, sender: str, channel: str = "web"):
    with Session(make_engine(database_url)) as session:
        return session.scalars(select(m.Rating).where(m.Rating.person == person_ref(channel, sender))
                               .order_by(m.Rating.id)).all()


def _titles(reply) -> dict:
    return {b["title"]: b["payload"] for msg in reply["messages"] for b in msg["buttons"]}


@live
async def test_goodbye_rating_and_comment_are_stored_with_matter_and_channel(live_stack, catalog_database_url):
    person = Person(live_stack.web_url)
    try:
        goodbye = await person.say("再见")  # nothing answered yet: no rating question
        assert [msg["text"] for msg in goodbye["messages"]] == [response_text("utter_goodbye")]
        assert "住房公积金提取" in await person.say_text("公积金提取要带什么")
        asked = await person.say("好的，那我先走了，再见")
        assert asked["messages"][0]["text"] == response_text("utter_ask_rating_goodbye")
        buttons = _titles(asked)
        assert list(buttons) == TITLES
        comment_question = await person.say_text(buttons["满意"])
        assert response_text("utter_ask_rating_comment") in comment_question
        assert response_text("utter_rating_thanks") in await person.say_text("材料列得很全，要是能写上停车的地方就更好了")
        rows = _ratings_of(catalog_database_url, person.sender)
        assert [(r.kind, r.channel, r.matter_code, r.score, r.ticket_id) for r in rows] == \
            [("bot", "web", "GJJ-TQ", 4, None)]
        assert rows[0].comment == "材料列得很全，要是能写上停车的地方就更好了"
        assert person.sender not in rows[0].person
        # Never twice in a session.
        again = await person.say("再见")
        assert [msg["text"] for msg in again["messages"]] == [response_text("utter_goodbye")]
    finally:
        await person.close()


@live
async def test_a_typed_rating_and_a_skipped_comment(live_stack, catalog_database_url):
    person = Person(live_stack.web_url)
    try:
        await person.say("社保卡丢了怎么补办")
        await person.say("再见")
        assert response_text("utter_ask_rating_comment") in await person.say_text("非常满意")
        assert response_text("utter_rating_thanks_no_comment") in await person.say_text("/deny")
        rows = _ratings_of(catalog_database_url, person.sender)
        assert [(r.score, r.comment) for r in rows] == [(5, None)]
    finally:
        await person.close()


@live
async def test_a_low_rating_asks_what_went_wrong_and_hands_off_with_reason_low_rating(live_stack, rating_helper,
                                                                                      catalog_database_url):
    console, person = Console(live_stack.web_url), Person(live_stack.web_url)
    try:
        await console.login(rating_helper)
        board = await console.connect()
        await person.say("公积金提取要带什么")
        buttons = _titles(await person.say("再见"))
        assert response_text("utter_ask_rating_problem") in await person.say_text(buttons["非常不满意"])
        offer = await person.say("说的材料和窗口要的不一样，白跑了一趟")
        assert offer["messages"][0]["text"] == response_text("utter_rating_offer_helper")
        accept = _titles(offer)["转人工"]
        assert QUEUED_RE.search(await person.say_text(accept))
        ticket = (await board.wait_for(lambda f: new_ticket(f, person)))["ticket"]
        assert ticket["reason"] == "low_rating" and ticket["queue"] == "minsheng"
        rows = _ratings_of(catalog_database_url, person.sender)
        assert [(r.score, r.comment, r.matter_code) for r in rows] == \
            [(1, "说的材料和窗口要的不一样，白跑了一趟", "GJJ-TQ")]
        await console.post_form(f"/console/tickets/{ticket['id']}/close", {"resolution": "other"})
    finally:
        await person.close()
        await console.close()


@live
async def test_a_declined_helper_after_a_low_rating(live_stack):
    person = Person(live_stack.web_url)
    try:
        await person.say("结婚登记要带什么")
        await person.say("再见")
        await person.say('/rate{"rating_score":"2"}')
        offer = await person.say("/deny")  # no comment
        assert offer["messages"][0]["text"] == response_text("utter_rating_offer_helper")
        assert response_text("utter_rating_offer_declined") in await person.say_text("不用了")
        assert "婚" in await person.say_text("结婚登记在哪办")  # the bot goes on as usual
    finally:
        await person.close()


@live
async def test_the_rating_after_hand_back_is_stored_on_the_ticket_and_shown_on_the_dashboard(
        live_stack, rating_helper, catalog_database_url):
    console, person = Console(live_stack.web_url), Person(live_stack.web_url)
    try:
        await console.login(rating_helper)
        board = await console.connect()
        page = await person.connect()
        before = {r["queue"]: r for r in (await (await console.get("/console/api/dashboard")).json())["queues"]}
        await person.say("公积金提取要带什么")
        await person.say("转人工")
        ticket = (await board.wait_for(lambda f: new_ticket(f, person)))["ticket"]
        assert (await console.post_json(f"/console/tickets/{ticket['id']}/claim"))[0] == 200
        resp = await console.post_form(f"/console/tickets/{ticket['id']}/handback", {"resolution": "answered"})
        assert resp.status == 303
        question = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "bot" and f["buttons"])
        assert question["text"] == response_text("utter_ask_rating_human")
        assert [b["title"] for b in question["buttons"]] == TITLES
        payload = next(b["payload"] for b in question["buttons"] if b["title"] == "基本满意")
        assert response_text("utter_ask_rating_comment") in await person.say_text(payload)
        await person.say("工作人员很耐心")
        rows = _ratings_of(catalog_database_url, person.sender)
        assert [(r.kind, r.ticket_id, r.score, r.comment, r.matter_code) for r in rows] == \
            [("human", ticket["id"], 3, "工作人员很耐心", "GJJ-TQ")]
        after = {r["queue"]: r for r in (await (await console.get("/console/api/dashboard")).json())["queues"]}
        assert after["minsheng"]["ratings"] - before["minsheng"]["ratings"] == 1
        page_html = await (await console.get("/console/dashboard")).text()
        assert "人工服务评价" in page_html
        # A rating of the bot is not a rating of the helpers: the dashboard counts human ones only.
        await person.say('/rate{"rating_score":"1"}')
        assert [r.kind for r in _ratings_of(catalog_database_url, person.sender)] == ["human", "bot"]
        later = {r["queue"]: r for r in (await (await console.get("/console/api/dashboard")).json())["queues"]}
        assert later["minsheng"]["ratings"] == after["minsheng"]["ratings"]
    finally:
        await person.close()
        await console.close()


@live
async def test_the_internal_rating_api_refuses_bad_input(live_stack):
    import aiohttp

    url = f"{live_stack.settings.handoff_url}/internal/handoff/ratings"
    headers = {"X-Handoff-Secret": live_stack.settings.handoff_secret}
    async with aiohttp.ClientSession() as session:
        for body in ({"channel": "web", "sender": "abc-12345", "score": 9, "kind": "bot"},
                     {"channel": "web", "sender": "abc-12345", "score": "5"},
                     {"channel": "web", "sender": "abc-12345", "score": 5, "kind": "robot"},
                     {"channel": "web", "sender": "<script>", "score": 5}):
            async with session.post(url, json=body, headers=headers) as resp:
                assert 400 <= resp.status < 500, (body, resp.status)
        async with session.post(url, json={"channel": "web", "sender": "abc-12345", "score": 5}) as resp:
            assert resp.status == 403  # no secret
        async with session.post(f"{url}/999999/comment", headers=headers,
                                json={"channel": "web", "sender": "abc-12345", "comment": "x"}) as resp:
            assert resp.status == 404
