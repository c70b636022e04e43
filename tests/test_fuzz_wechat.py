"""Seeded fuzzing of the WeChat webhook (plain mode, the shared asynchronous WeChat stack): signed messages with
odd contents and types, forged or stale signatures, broken XML. No 5xx, and the bot still answers afterwards."""
from __future__ import annotations

import asyncio
import random

import pytest

from support.wechat import WeChatServer, message_xml, new_msg_id, new_openid

pytestmark = pytest.mark.asyncio

SEED = 20261208
INPUTS = 400
CONCURRENCY = 8
ODD = ["", " ", "😀", "<script>alert(1)</script>", "]]><xml>", "'; DROP TABLE wechat_outbox; --", "\u202e", "1",
       "99", "0", "２", "转人工", "/greet", "/choose_matter{\"matter\":", "字" * 700, "&amp;&lt;", "%s%n"]
TYPES = ["text", "image", "voice", "video", "location", "link", "event", "unknown"]


def signed_case(rng: random.Random) -> tuple:
    openid = new_openid()
    kind = rng.choice(TYPES)
    if kind == "text":
        fields = {"Content": rng.choice(ODD) + rng.choice(["", "公积金提取要带什么"])}
    elif kind == "event":
        fields = {"Event": rng.choice(["subscribe", "unsubscribe", "CLICK", "VIEW", "bogus"]),
                  "EventKey": rng.choice(["", "menu_1", "x" * 200, "<b>"])}
    elif kind == "voice":
        fields = {"MediaId": "m1", "Format": "amr", "Recognition": rng.choice(ODD)}
    else:
        fields = {"MediaId": "m1", "PicUrl": "javascript:alert(1)", "Label": rng.choice(ODD)}
    xml = message_xml(openid, kind, fields, new_msg_id() if kind != "event" else None)
    return xml, {}


def broken_case(rng: random.Random) -> tuple:
    good = message_xml(new_openid(), "text", {"Content": "你好"}, new_msg_id())
    choice = rng.randrange(6)
    if choice == 0:
        return good, {"token": "forged"}
    if choice == 1:
        return good, {"timestamp": 1}
    if choice == 2:
        return "", {"raw_body": bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))}
    if choice == 3:
        return "", {"raw_body": good[: rng.randint(0, len(good))].encode()}
    if choice == 4:
        return "", {"raw_body": good.replace("FromUserName", "From").encode()}
    return "", {"raw_body": b"<xml>" + b"<a>" * 5000 + b"</xml>"}


async def test_four_hundred_hostile_wechat_requests_give_no_5xx_and_the_bot_still_answers(wechat_async_stack,
                                                                                         standin):
    wechat = WeChatServer(wechat_async_stack.settings.rasa_url, aes=False)
    rng = random.Random(SEED)
    cases = [signed_case(rng) if rng.random() < 0.5 else broken_case(rng) for _ in range(INPUTS)]
    gate = asyncio.Semaphore(CONCURRENCY)
    statuses = []

    async def one(xml: str, options: dict) -> None:
        async with gate:
            status, _ = await wechat.post(xml, **options)
            statuses.append(status)

    await asyncio.gather(*(one(xml, options) for xml, options in cases))
    assert len(statuses) == INPUTS
    assert not [s for s in statuses if s >= 500], sorted(set(statuses))
    assert statuses.count(200) >= INPUTS // 4

    openid = new_openid()
    assert (await wechat.text(openid, "公积金提取要带什么"))[0] == 200
    answer = "\n".join(standin.wait_for(openid, 1, timeout=60))
    assert "公积金" in answer
