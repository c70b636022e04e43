"""The WeChat channel's pieces without servers: splitting, numbered options, configuration, the start-up line."""
from __future__ import annotations

import asyncio

import pytest

from bot.settings import WeChatConfig, WeChatConfigError
from bot.channels.wechat_state import TurnRegistry
from bot.channels.wechat_text import MAX_TEXT_BYTES, WeChatTexts, option_number, split_text
from bot.run import Stack, wechat_status
from bot.settings import REPO_ROOT, Settings
from support.handoff import response_text

TEXTS = WeChatTexts(REPO_ROOT / "domain.yml")


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def test_a_short_answer_stays_one_message():
    assert split_text("第一行\n第二行") == ["第一行\n第二行"]


def test_long_answers_split_at_line_breaks_under_the_byte_limit():
    lines = [f"{i}. 材料{i}：身份证原件1份，复印件1份（本人签字确认）。" for i in range(1, 120)]
    chunks = split_text("\n".join(lines))
    assert len(chunks) > 1
    assert all(size(c) <= MAX_TEXT_BYTES for c in chunks)
    assert [line for c in chunks for line in c.split("\n")] == lines  # no line cut, none lost, order kept


def test_a_line_too_long_for_one_message_splits_at_sentence_ends_then_characters():
    sentence = "申请人应当提交营业执照复印件并加盖公章。"
    chunks = split_text(sentence * 200)
    assert all(size(c) <= MAX_TEXT_BYTES for c in chunks) and "".join(chunks) == sentence * 200
    assert all(c.endswith("。") for c in chunks)  # cut between sentences
    no_stop = "字" * 3000
    chunks = split_text(no_stop)
    assert "".join(chunks) == no_stop and all(size(c) <= MAX_TEXT_BYTES for c in chunks)


def test_emoji_and_markup_split_without_breaking_characters():
    text = "😀<b>办事</b>" * 600
    chunks = split_text(text)
    assert "".join(chunks) == text and all(size(c) <= MAX_TEXT_BYTES for c in chunks)


def test_buttons_become_numbered_options_worded_by_the_domain():
    text, options = TEXTS.render([
        {"text": "您问的是下面哪一项？", "buttons": [{"title": "个体户", "payload": "/choose_matter{\"matter\":\"A\"}"},
                                              {"title": "公司", "payload": "/choose_matter{\"matter\":\"B\"}"}]},
        {"text": "也可以：", "buttons": [{"title": "转人工", "payload": "/request_human"}]},
        {"image": "javascript:alert(1)"},
    ])
    option = response_text("utter_fragment_wechat_option")
    assert option.format(index=1, title="个体户") in text and option.format(index=3, title="转人工") in text
    numbers = response_text("utter_fragment_wechat_number_separator").join("123")
    assert text.endswith(response_text("utter_fragment_wechat_options_hint").format(numbers=numbers))
    assert [o["payload"] for o in options] == ['/choose_matter{"matter":"A"}', '/choose_matter{"matter":"B"}',
                                               "/request_human"]
    assert "javascript" not in text


def test_links_stay_plain_urls():
    text, options = TEXTS.render([{"text": "网上办理：https://zwfw.example.gov.cn/a?b=1"},
                                  {"image": "https://example.gov.cn/map.png"}])
    assert "https://zwfw.example.gov.cn/a?b=1" in text and "https://example.gov.cn/map.png" in text
    assert options == []


@pytest.mark.parametrize("reply,number", [("1", 1), ("２", 2), (" 3 。", 3), ("12", 12), ("1个", None),
                                          ("", None), ("一", None), ("123", None), ("1; DROP TABLE", None)])
def test_which_replies_pick_an_option(reply, number):
    assert option_number(reply) == number


def test_configuration_from_the_environment():
    assert not WeChatConfig.from_env({}).enabled
    config = WeChatConfig.from_env({"WECHAT_TOKEN": "tok-123", "WECHAT_APPID": "wx1", "WECHAT_SECRET": "sec-456",
                                    "WECHAT_AES_KEY": "a" * 43, "WECHAT_REPLY_BUDGET": "2.5"})
    assert config.enabled and config.can_send and config.reply_budget == 2.5
    assert "tok-123" not in repr(config) and "sec-456" not in repr(config) and "a" * 43 not in repr(config)
    assert config.menu()["MENU_HUMAN"] == "/request_human"
    for bad in ({"WECHAT_AES_KEY": "short"}, {"WECHAT_AES_KEY": "a" * 43},  # the second: no app id
                {"WECHAT_REPLY_BUDGET": "-1"}, {"WECHAT_API_BASE_URL": "ftp://x"}):
        with pytest.raises(WeChatConfigError):
            WeChatConfig.from_env({"WECHAT_TOKEN": "t", **bad})


def test_secrets_are_not_in_the_settings_repr():
    settings = Settings.from_env({"WECHAT_TOKEN": "tok-123", "WECHAT_SECRET": "sec-456"})
    assert "tok-123" not in repr(settings) and "sec-456" not in repr(settings)
    assert settings.child_env({})["WECHAT_TOKEN"] == "tok-123"


def test_make_run_says_whether_wechat_is_on():
    off = Settings.from_env({})
    assert "off" in wechat_status(off, Stack(off).urls()) and "WECHAT_TOKEN" in wechat_status(off, Stack(off).urls())
    on = Settings.from_env({"WECHAT_TOKEN": "t", "WECHAT_APPID": "wx1", "WECHAT_SECRET": "s", "RASA_PORT": "5999"})
    line = wechat_status(on, Stack(on).urls())
    assert "http://127.0.0.1:5999/webhooks/wechat/webhook" in line and "plain-text mode" in line
    assert on.wechat_deliver_url == "http://127.0.0.1:5999/webhooks/wechat/deliver"
    assert off.wechat_deliver_url is None


def test_a_retry_shares_the_first_delivery_turn():
    async def scenario():
        registry = TurnRegistry(keep_seconds=0.0)
        calls = []

        async def work():
            calls.append(1)
            await asyncio.sleep(0.05)
            return ["答复"]

        first, started = registry.start("msg:1", work)
        retry, again = registry.start("msg:1", work)
        assert started and not again and retry is first
        assert await first.task == ["答复"]
        other, new = registry.start("msg:2", work)  # finished turns older than keep_seconds are dropped
        await other.task
        assert new and len(calls) == 2 and "msg:1" not in registry._turns

    asyncio.run(scenario())


def test_a_wrong_wechat_variable_stops_bot_run_naming_it(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, WECHAT_TOKEN="t", WECHAT_AES_KEY="too-short", LOG_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "bot.run"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "WECHAT_AES_KEY" in result.stderr


def test_seen_store_refuses_a_key_within_the_window_on_any_process(tmp_path):
    from datetime import datetime, timedelta

    from sqlalchemy import create_engine

    from bot.channels.wechat_state import SeenStore

    now = [datetime(2026, 12, 7, 12, 0, 0)]
    engine = create_engine(f"sqlite:///{tmp_path / 'seen.sqlite3'}")
    first, second = (SeenStore(engine, keep_seconds=660, clock=lambda: now[0]) for _ in range(2))
    assert first.first_time("msg:1")
    now[0] += timedelta(seconds=70)  # past the in-memory retry window: still refused, by the other process too
    assert not second.first_time("msg:1")
    assert not first.first_time("msg:1")
    assert second.first_time("msg:2")
    now[0] += timedelta(seconds=700)  # outside the accepted timestamp window a key may come again
    assert first.first_time("msg:1")
