"""The WeChat channel in safe mode (AES) on the shared stack (live_stack has WeChat on): WeChat's requests built
with wechatpy, replies decrypted, 客服消息 received by a local stand-in for WeChat's API."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from support.handoff import QUEUED_RE, Console, add_helper, response_text
from support.wechat import (OTHER_AES_KEY, WeChatServer, message_xml, new_msg_id, new_openid, rasa_user_texts,
                            settled)
from support.stack import rasa_api_params

pytestmark = pytest.mark.asyncio


async def rest_reply(rasa_url: str, text: str) -> list:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{rasa_url}/webhooks/rest/webhook",
                                json={"sender": new_openid(), "message": text}) as resp:
            return [m for m in await resp.json() if m.get("text")]

GREETING = response_text("utter_greet")
# A long answer that needs no situation questions first: the 企业开办 一件事 with its merged list (several KB).
LONG_QUESTION = "企业开办一件事要准备哪些材料"
TEXT_ONLY = response_text("utter_wechat_text_only")
OPTION = response_text("utter_fragment_wechat_option")


@pytest.fixture
def standin(live_wechat_standin):
    """The shared stack's own stand-in (not the session's `standin`): these tests count its token fetches."""
    return live_wechat_standin


@pytest.fixture
def stack(live_stack):
    """The shared stack: WeChat is on there in safe mode (tests/conftest.py)."""
    return live_stack


@pytest.fixture
def wechat(stack):
    return WeChatServer(stack.settings.rasa_url, aes=True)


# -- the protocol -----------------------------------------------------------------------------------

async def test_url_verification_echoes_only_for_a_valid_signature(wechat):
    assert await wechat.verify("8374662190") == (200, "8374662190")
    status, _ = await wechat.verify("8374662190", token="not-our-token")
    assert status == 403
    status, _ = await wechat.verify("8374662190", timestamp=int(time.time()) - 3600)
    assert status == 403


@pytest.mark.parametrize("case", ["forged signature", "stale timestamp", "wrong AES key", "plain body in safe mode",
                                  "not XML", "no openid"])
async def test_forged_or_broken_requests_get_4xx_and_never_reach_the_bot(wechat, stack, case):
    openid = new_openid()
    xml = message_xml(openid, "text", {"Content": "公积金提取要带什么"}, new_msg_id())
    kwargs = {
        "forged signature": {"token": "not-our-token"},
        "stale timestamp": {"timestamp": int(time.time()) - 3600},
        "wrong AES key": {"aes_key": OTHER_AES_KEY},
        "plain body in safe mode": {"encrypt": False},
        "not XML": {"raw_body": b"<xml><unclosed>"},
        "no openid": {},
    }[case]
    if case == "no openid":
        xml = xml.replace(f"<FromUserName><![CDATA[{openid}]]></FromUserName>", "")
    status, body = await wechat.post(xml, **kwargs)
    assert status in (400, 403), (status, body)
    if case in ("forged signature", "stale timestamp", "wrong AES key", "plain body in safe mode"):
        assert status == 403
    assert await rasa_user_texts(stack.settings.rasa_url, openid) == []


async def test_compatible_mode_bodies_are_read_from_the_encrypted_part(wechat):
    openid = new_openid()
    status, reply = await wechat.post(message_xml(openid, "text", {"Content": "你好"}, new_msg_id()), compatible=True)
    assert status == 200 and reply["Content"].startswith(GREETING)


# -- message types -----------------------------------------------------------------------------------

async def test_text_gets_a_passive_encrypted_reply_with_numbered_options_and_1_picks_the_first(wechat, stack,
                                                                                                  standin):
    openid = new_openid()
    started = time.monotonic()
    greeting = await wechat.say(openid, "你好")
    assert time.monotonic() - started < 4.5
    assert greeting.startswith(GREETING)
    assert OPTION.format(index=1, title="开饭店要办哪些证") in greeting
    assert OPTION.format(index=3, title="新生儿上户口要带什么") in greeting
    assert response_text("utter_fragment_wechat_options_hint").format(numbers="1 / 2 / 3") in greeting

    picked = await wechat.say(openid, "1")  # the first button's payload, as if tapped
    assert (await rasa_user_texts(stack.settings.rasa_url, openid))[-1] == "开饭店要办哪些证"
    # The same answer as on the web page (REST channel) for that payload: a long one, so its rest follows as
    # 客服消息, cut between lines.
    lines = set((picked + "\n" + "\n".join(settled(standin, stack.settings.database_url, openid))).split("\n"))
    for message in await rest_reply(stack.settings.rasa_url, "开饭店要办哪些证"):
        assert set(message["text"].split("\n")) <= lines


async def test_voice_recognition_is_read_as_text(wechat):
    openid = new_openid()
    status, reply = await wechat.post(message_xml(openid, "voice", {
        "MediaId": "media-1", "Format": "amr", "Recognition": "公积金提取要带什么材料"}, new_msg_id()))
    assert status == 200 and "住房公积金提取" in reply["Content"]
    status, reply = await wechat.post(message_xml(openid, "voice", {"MediaId": "m", "Format": "amr"}, new_msg_id()))
    assert reply["Content"] == response_text("utter_wechat_voice_unclear")


@pytest.mark.parametrize("msg_type,fields", [
    ("image", {"PicUrl": "http://mmbiz.qpic.cn/x.jpg", "MediaId": "m1"}),
    ("video", {"MediaId": "m2", "ThumbMediaId": "t2"}),
    ("shortvideo", {"MediaId": "m3", "ThumbMediaId": "t3"}),
    ("location", {"Location_X": 38.04, "Location_Y": 114.51, "Scale": 15, "Label": "市政务服务中心"}),
    ("link", {"Title": "办事指南", "Description": "看看", "Url": "https://example.com/a"}),
])
async def test_pictures_video_places_and_links_ask_for_words(wechat, stack, msg_type, fields):
    openid = new_openid()
    status, reply = await wechat.post(message_xml(openid, msg_type, fields, new_msg_id()))
    assert status == 200 and reply["Content"] == TEXT_ONLY
    assert await rasa_user_texts(stack.settings.rasa_url, openid) == []


async def test_subscribe_welcomes_menu_clicks_map_to_intents_and_unsubscribe_is_quiet(wechat, stack):
    openid = new_openid()
    status, reply = await wechat.post(message_xml(openid, "event", {"Event": "subscribe"}))
    assert status == 200 and reply["Content"].startswith(GREETING)
    status, reply = await wechat.post(message_xml(openid, "event", {"Event": "CLICK", "EventKey": "MENU_HELP"}))
    assert reply["Content"] == response_text("utter_capabilities")
    status, reply = await wechat.post(message_xml(openid, "event", {"Event": "CLICK", "EventKey": "MENU_HOURS"}))
    assert "办公时间" in reply["Content"]
    assert await wechat.post(message_xml(openid, "event", {"Event": "unsubscribe"})) == (200, "success")
    intents = await rasa_user_texts(stack.settings.rasa_url, openid)
    assert intents == ["/greet", "/ask_capabilities", "/ask_hours"]


async def test_markup_emoji_sql_and_huge_texts_get_polite_answers(wechat):
    openid = new_openid()
    for text in ("<script>alert(1)</script>", "😀😀😀", "'; DROP TABLE wechat_options; --", "办" * 5000):
        status, reply = await wechat.text(openid, text)
        assert status == 200 and isinstance(reply, dict) and reply["Content"].strip(), text
        assert "<script>" not in reply["Content"]


# -- delivery ----------------------------------------------------------------------------------------

async def test_a_replayed_msgid_is_answered_once_even_while_the_first_is_in_progress(wechat, stack, standin):
    openid = new_openid()
    msg_id = new_msg_id()
    xml = message_xml(openid, "text", {"Content": LONG_QUESTION}, msg_id)
    first, *retries = await asyncio.gather(*(wechat.post(xml) for _ in range(3)))
    late = await wechat.post(xml)
    for status, reply in [first, *retries, late]:
        assert status == 200 and reply["Content"] == first[1]["Content"]
    assert "企业开办" in first[1]["Content"]
    assert await rasa_user_texts(stack.settings.rasa_url, openid) == [LONG_QUESTION]
    follow_ups = settled(standin, stack.settings.database_url, openid)  # the rest of the long list, sent once
    assert len(set(follow_ups)) == len(follow_ups)


async def test_long_answers_are_split_first_part_passive_rest_as_customer_service_messages(wechat, stack, standin,
                                                                                            catalog):
    bundle = catalog.bundle("YJS-QYKB")
    openid = new_openid()
    first = await wechat.say(openid, LONG_QUESTION)
    assert bundle.name in first
    chunks = [first] + settled(standin, stack.settings.database_url, openid)
    assert all(len(c.encode("utf-8")) <= 2048 for c in chunks) and len(chunks) >= 2
    assert all(c.strip() and not c.startswith("\n") for c in chunks)
    # Cut between lines: the merged material list continues in order from one message to the next.
    lines = "\n".join(chunks).split("\n")
    listed = lines[next(i for i, line in enumerate(lines) if line.startswith("合并材料清单")) + 1:]
    numbers = [int(line.split(".")[0]) for line in listed if line[:1].isdigit() and "." in line[:3]]
    assert numbers == list(range(1, len(bundle.materials) + 1)) and len(numbers) >= 10
    assert chunks[-1].endswith(response_text("utter_fragment_wechat_options_hint").format(
        numbers=" / ".join(str(i) for i in range(1, len(bundle.members) + 1))))
    second = bundle.members[1]
    picked = await wechat.say(openid, "2")  # the second option of the long answer: the second member matter
    assert second.name in picked


async def test_the_access_token_is_cached_and_fetched_again_when_wechat_says_it_expired(wechat, stack, standin):
    openid = new_openid()
    await wechat.say(openid, LONG_QUESTION)
    sent = len(settled(standin, stack.settings.database_url, openid))  # every follow-up of one answer
    fetches = standin.token_fetches
    assert fetches >= 1
    await wechat.say(openid, LONG_QUESTION)
    standin.wait_for(openid, 2 * sent)
    assert standin.token_fetches == fetches  # cached
    rejected = standin.rejected
    standin.expire_token()
    await wechat.say(openid, LONG_QUESTION)
    standin.wait_for(openid, 3 * sent)
    assert standin.token_fetches == fetches + 1 and standin.rejected == rejected + 1


async def test_rasa_can_push_to_a_wechat_person_through_the_output_channel(stack, standin):
    openid = new_openid()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{stack.settings.rasa_url}/conversations/{openid}/trigger_intent",
                                params={"output_channel": "wechat", **rasa_api_params()}, json={"name": "greet"}) as resp:
            assert resp.status == 200, await resp.text()
    pushed = standin.wait_for(openid, 1)[-1]
    assert pushed.startswith(GREETING) and OPTION.format(index=1, title="开饭店要办哪些证") in pushed


# -- a whole conversation -----------------------------------------------------------------------------

async def test_a_full_materials_conversation(wechat):
    openid = new_openid()
    clarify = await wechat.say(openid, "营业执照")
    assert OPTION.format(index=1, title="") in clarify
    picked = await wechat.say(openid, "2")
    assert "「" in picked
    materials = await wechat.say(openid, "公积金提取要带什么")
    assert "住房公积金提取" in materials and "一次性告知" in materials
    how_long = await wechat.say(openid, "那要多久？")
    assert "住房公积金提取" in how_long and "办理时限" in how_long
    where = await wechat.say(openid, "在哪办")
    assert "办理地点" in where


# -- handoff relayed both ways ------------------------------------------------------------------------

async def test_handoff_from_wechat_relays_both_ways_and_hands_back(wechat, stack, standin, catalog_database_url):
    helper = add_helper(catalog_database_url, ["zonghe", "minsheng"], supervisor=True, name="李四", staff_no="B007")
    console = Console(stack.settings.web_url)
    openid = new_openid()
    try:
        assert await console.login(helper) == 200
        board = await console.connect()  # on duty
        queued = await wechat.say(openid, "转人工")
        assert QUEUED_RE.search(queued), queued
        announced = await board.wait_for(lambda f: f["type"] == "ticket" and f["ticket"]["new"]
                                         and f["ticket"]["channel"] == "wechat")
        ticket = announced["ticket"]

        # The person's messages reach the ticket, not the bot.
        assert await wechat.text(openid, "我的公积金提不出来") == (200, "success")
        got = await board.wait_for(lambda f: f["type"] == "message" and f["ticket_id"] == ticket["id"]
                                   and f["message"]["author"] == "person")
        assert got["message"]["text"] == "我的公积金提不出来"
        assert (await rasa_user_texts(stack.settings.rasa_url, openid))[-1] == "转人工"

        # The helper's messages arrive as 客服消息.
        status, claimed = await console.post_json(f"/console/tickets/{ticket['id']}/claim")
        assert status == 200 and claimed["won"]
        claimed_text = response_text("utter_handoff_claimed").format(helper_name="李四", staff_no="B007")
        assert standin.wait_for(openid, 1)[-1] == claimed_text
        status, _ = await console.post_json(f"/console/tickets/{ticket['id']}/messages", {"text": "您好，请问是哪种提取？"})
        assert status == 200
        assert standin.wait_for(openid, 2)[-1] == "您好，请问是哪种提取？"
        assert await wechat.text(openid, "1") == (200, "success")  # a number is for the helper now
        await board.wait_for(lambda f: f["type"] == "message" and f["ticket_id"] == ticket["id"]
                             and f["message"]["text"] == "1")

        # Hand back: the bot's message arrives through the same way, and the bot answers again.
        resp = await console.post_form(f"/console/tickets/{ticket['id']}/handback", {"resolution": "answered"})
        assert resp.status == 303
        # Then the rating question after human help (好差评), as numbered options.
        returned, rating = standin.wait_for(openid, 4)[2:4]
        assert returned == response_text("utter_handoff_returned")
        assert rating.startswith(response_text("utter_ask_rating_human"))
        assert OPTION.format(index=1, title="非常满意") in rating
        assert "住房公积金提取" in await wechat.say(openid, "公积金提取要带什么")
    finally:
        await console.close()


async def test_deliver_needs_the_handoff_secret(stack):
    url = f"{stack.settings.rasa_url}/webhooks/wechat/deliver"
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Handoff-Secret": "wrong"}):
            async with session.post(url, json={"sender": "oX", "kind": "message", "text": "hi"},
                                    headers=headers) as resp:
                assert resp.status == 403
        secret = {"X-Handoff-Secret": stack.settings.handoff_secret}
        async with session.post(url, data=b"{not json", headers=secret) as resp:
            assert resp.status == 400
        async with session.post(url, json={"sender": "<script>", "kind": "message", "text": "x"},
                                headers=secret) as resp:
            assert resp.status == 400
