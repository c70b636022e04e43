"""The WeChat channel in plain-text mode with a reply budget too small for any answer: every answer takes the
asynchronous path ("success" at once, then 客服消息), as when the bot is slow."""
from __future__ import annotations

import asyncio
import time

import pytest

from support.handoff import response_text
from support.wechat import (WeChatServer, message_xml, new_msg_id, new_openid, rasa_user_texts)

pytestmark = pytest.mark.asyncio

OPTION = response_text("utter_fragment_wechat_option")


@pytest.fixture
def stack(wechat_async_stack):
    return wechat_async_stack


@pytest.fixture
def wechat(stack):
    return WeChatServer(stack.settings.rasa_url, aes=False)


async def test_plain_mode_checks_signatures_too(wechat, stack):
    assert await wechat.verify("echo-1") == (200, "echo-1")
    openid = new_openid()
    status, _ = await wechat.text(openid, "你好", token="forged")
    assert status == 403
    status, _ = await wechat.text(openid, "你好", timestamp=int(time.time()) - 3600)
    assert status == 403
    assert await rasa_user_texts(stack.settings.rasa_url, openid) == []


async def test_a_slow_answer_is_success_at_once_then_customer_service_messages(wechat, standin):
    openid = new_openid()
    started = time.monotonic()
    assert await wechat.text(openid, "公积金提取要带什么") == (200, "success")
    assert time.monotonic() - started < 1.0
    answer = "\n".join(standin.wait_for(openid, 1))
    assert "住房公积金提取" in answer and "一次性告知" in answer


async def test_retries_of_a_slow_message_get_success_and_it_is_answered_once(wechat, stack, standin):
    openid = new_openid()
    xml = message_xml(openid, "text", {"Content": "公积金提取多久到账"}, new_msg_id())
    replies = await asyncio.gather(*(wechat.post(xml) for _ in range(3)))
    await asyncio.sleep(0.2)
    replies.append(await wechat.post(xml))
    assert replies == [(200, "success")] * 4
    first = standin.wait_for(openid, 1)
    await asyncio.sleep(2.0)  # nothing more may arrive
    assert standin.to(openid) == first
    assert await rasa_user_texts(stack.settings.rasa_url, openid) == ["公积金提取多久到账"]


async def test_numbered_options_work_on_the_asynchronous_path(wechat, standin):
    openid = new_openid()
    assert await wechat.text(openid, "你好") == (200, "success")
    greeting = standin.wait_for(openid, 1)[-1]
    assert OPTION.format(index=2, title="公积金怎么提取") in greeting
    assert await wechat.text(openid, "２") == (200, "success")  # full-width, as Chinese keyboards type it
    assert "住房公积金提取" in standin.wait_for(openid, 2)[-1]


async def test_entity_bombs_and_oversized_bodies_are_refused_cleanly(wechat, stack):
    openid = new_openid()
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10 if i else "lol"}">' for i in range(9))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE x [{entities}]>'
            + message_xml(openid, "text", {"Content": "x"}, new_msg_id()).replace("<![CDATA[x]]>", "&e8;"))
    started = time.monotonic()
    assert (await wechat.post("", raw_body=bomb.encode()))[0] == 400
    assert time.monotonic() - started < 2.0
    huge = message_xml(openid, "text", {"Content": "办" * 40000}, new_msg_id())
    assert (await wechat.post(huge))[0] == 413
    assert await rasa_user_texts(stack.settings.rasa_url, openid) == []
