"""The durable outbox for 客服消息 on the real stack: WeChat's API (the stand-in) fails on demand, the Rasa
process is restarted, and every message still arrives, in order, exactly as sent; permanent refusals are not
retried. Its own stack and database (module scope): the restart must not disturb other tests."""
from __future__ import annotations

import asyncio
import time

from datetime import datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import create_engine, insert

from bot.settings import WeChatConfig, WeChatConfigError
from bot.channels.wechat_outbox import FAILED, PENDING, SENT, OutboxStore, outbox_table
from bot.privacy import mask_openid
from support.handoff import Console, add_helper, response_text
from support.stack import restart
from support.wechat import WeChatServer, new_msg_id, new_openid, rasa_user_texts

@pytest.fixture
def stack(wechat_async_stack):
    return wechat_async_stack


@pytest.fixture
def database_url(wechat_async_stack) -> str:
    return wechat_async_stack.settings.database_url


@pytest.fixture(scope="module")
def outbox(database_url) -> OutboxStore:
    return OutboxStore(create_engine(database_url))


@pytest.fixture(autouse=True)
def healthy_api(standin):
    yield
    standin.recover()


async def deliver(stack, openid: str, *texts: str) -> None:
    """As the handoff does for a helper's message: POST /webhooks/wechat/deliver with the per-run secret."""
    async with aiohttp.ClientSession() as session:
        for text in texts:
            async with session.post(f"{stack.settings.rasa_url}/webhooks/wechat/deliver",
                                    json={"sender": openid, "kind": "message", "text": text},
                                    headers={"X-Handoff-Secret": stack.settings.handoff_secret}) as resp:
                assert resp.status == 200 and (await resp.json()) == {"sent": 1}


async def until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.get_running_loop().run_in_executor(None, predicate):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def statuses(outbox: OutboxStore, openid: str) -> list:
    return [(m.content, m.status) for m in outbox.messages(openid)]


@pytest.mark.asyncio
async def test_a_slow_answer_arrives_after_transient_failures(stack, standin, outbox):
    openid = new_openid()
    standin.fail_next("busy", "http500", "network", "token")
    assert await WeChatServer(stack.settings.rasa_url, aes=False).text(openid, "公积金提取要带什么") == (200, "success")
    answer = standin.wait_for(openid, 1)
    assert "住房公积金提取" in answer[0]
    outcomes = [a["outcome"] for a in standin.tried(openid)]
    assert outcomes[:4] == ["busy", "http500", "network", "token"] and outcomes[-1] == "ok"
    await until(lambda: outbox.messages(openid)[0].status == SENT)  # marked once WeChat said "ok"
    assert outbox.messages(openid)[0].attempts == 4  # the token error was refreshed and retried within one


@pytest.mark.asyncio
async def test_messages_keep_their_order_while_the_first_is_retried(stack, standin, outbox):
    openid = new_openid()
    standin.fail_next("busy", "busy", "busy")
    texts = [f"第{i}条：请带身份证原件" for i in range(1, 5)]
    await deliver(stack, openid, *texts)
    assert standin.wait_for(openid, 4) == texts
    tried = [a["content"] for a in standin.tried(openid)]
    assert tried == [texts[0]] * 4 + texts[1:]  # nothing overtook the first while it was retried
    await until(lambda: statuses(outbox, openid) == [(t, SENT) for t in texts])


@pytest.mark.asyncio
async def test_a_permanent_refusal_is_given_up_at_once_and_logged_masked(stack, standin, outbox):
    openid, other = new_openid(), new_openid()
    standin.refuse(openid, 45015)  # the person has not written to us for over 48 hours
    await deliver(stack, openid, "您的材料已审核通过", "请于工作日到二楼窗口领取")
    await deliver(stack, other, "他人的消息照常送达")
    assert standin.wait_for(other, 1) == ["他人的消息照常送达"]
    await until(lambda: [s for _, s in statuses(outbox, openid)] == [FAILED, FAILED])
    await asyncio.sleep(1.5)  # longer than the retry delays: nothing is tried again
    assert [a["content"] for a in standin.tried(openid)] == ["您的材料已审核通过", "请于工作日到二楼窗口领取"]
    assert standin.to(openid) == []
    assert all("45015" in m.last_error and m.attempts == 1 for m in outbox.messages(openid))
    log = stack.service("rasa").log_path.read_text(encoding="utf-8", errors="replace")
    assert f"to {mask_openid(openid)} given up after 1 attempt(s): errcode 45015" in log
    assert openid not in log


@pytest.mark.asyncio
async def test_pending_messages_are_sent_after_a_rasa_restart(stack, standin, outbox):
    # A message handled before the restart, captured and sent again afterwards (signature still fresh).
    asker, msg_id = new_openid(), new_msg_id()
    wechat = WeChatServer(stack.settings.rasa_url, aes=False)
    assert (await wechat.text(asker, "公积金提取要带什么", msg_id=msg_id))[0] == 200
    await until(lambda: len(standin.to(asker)) >= 1)

    openid = new_openid()
    standin.down = True  # WeChat's API is down: the messages stay pending
    texts = ["重启前的第一条消息", "重启前的第二条消息"]
    await deliver(stack, openid, *texts)
    await until(lambda: len(standin.tried(openid)) >= 2)

    async def meanwhile():  # Rasa is stopped; WeChat's API comes back
        assert statuses(outbox, openid) == [(t, PENDING) for t in texts]
        standin.down = False
        await asyncio.sleep(1.5)
        assert standin.to(openid) == []  # nobody else sends them

    await restart(stack, "rasa", meanwhile)
    assert standin.wait_for(openid, 2, timeout=60) == texts
    await until(lambda: statuses(outbox, openid) == [(t, SENT) for t in texts])
    # The replay: the key is remembered in SQL for the whole timestamp window, not in the old process's memory.
    assert await wechat.text(asker, "公积金提取要带什么", msg_id=msg_id) == (200, "success")
    assert await rasa_user_texts(stack.settings.rasa_url, asker) == ["公积金提取要带什么"]


@pytest.mark.asyncio
async def test_a_helpers_message_survives_a_customer_service_outage(stack, standin, outbox, database_url):
    helper = add_helper(database_url, ["zonghe", "minsheng"], supervisor=True, name="王五", staff_no="C011")
    console = Console(stack.settings.web_url)
    wechat = WeChatServer(stack.settings.rasa_url, aes=False)
    openid = new_openid()
    try:
        assert await console.login(helper) == 200
        board = await console.connect()
        assert await wechat.text(openid, "转人工") == (200, "success")
        queued = standin.wait_for(openid, 1)
        ticket = (await board.wait_for(lambda f: f["type"] == "ticket" and f["ticket"]["new"]
                                       and f["ticket"]["channel"] == "wechat"))["ticket"]
        standin.down = True  # 客服消息 fail from now on
        status, claimed = await console.post_json(f"/console/tickets/{ticket['id']}/claim")
        assert status == 200 and claimed["won"]
        status, _ = await console.post_json(f"/console/tickets/{ticket['id']}/messages", {"text": "您好，我是王五"})
        assert status == 200
        await until(lambda: ("您好，我是王五", PENDING) in statuses(outbox, openid))
        await until(lambda: len(standin.tried(openid)) >= len(queued) + 2)  # the "已接入" notice, retried
        assert standin.to(openid) == queued
        standin.down = False
        claimed_text = response_text("utter_handoff_claimed").format(helper_name="王五", staff_no="C011")
        assert standin.wait_for(openid, 3) == queued + [claimed_text, "您好，我是王五"]
    finally:
        await console.close()


@pytest.mark.asyncio
async def test_a_message_older_than_wechats_48_hours_is_given_up_not_retried_forever(stack, standin, outbox):
    openid = new_openid()
    standin.down = True
    stale = datetime.utcnow() - timedelta(hours=49)  # e.g. left pending by a server that was off for two days
    with outbox.engine.begin() as conn:
        conn.execute(insert(outbox_table).values(openid=openid, content="两天前的消息", status=PENDING, attempts=3,
                                                 due_at=stale, created_at=stale))
    await until(lambda: statuses(outbox, openid) == [("两天前的消息", FAILED)])
    assert len(standin.tried(openid)) == 1 and "older than" in stack.service("rasa").log_path.read_text(
        encoding="utf-8", errors="replace")


def test_retry_delays_are_configured_and_checked():
    config = WeChatConfig.from_env({"WECHAT_TOKEN": "t", "WECHAT_RETRY_FIRST": "0.5", "WECHAT_RETRY_MAX": "60"})
    assert (config.retry_first, config.retry_max) == (0.5, 60.0)
    assert (WeChatConfig().retry_first, WeChatConfig().retry_max) == (2.0, 300.0)
    for bad in ("soon", "0", "-1"):
        with pytest.raises(WeChatConfigError, match="WECHAT_RETRY_FIRST"):
            WeChatConfig.from_env({"WECHAT_TOKEN": "t", "WECHAT_RETRY_FIRST": bad})
