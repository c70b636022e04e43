"""The rating question when the person goes quiet, on the real page in headless Chromium.

A second web server (RATING_IDLE_MINUTES=0.05, i.e. 3 s) runs in front of the test stack's Rasa, so the
other tests keep the default of 5 minutes. Sync module: Playwright's sync API must not share a module with
asyncio tests (see conftest.browser)."""
from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handoff import models as m
from bot.handoff.feedback import person_ref
from bot.handoff.idle import CHANNEL
from support.page import BOT_ROWS, count, wait_for_reply
from support.stack import running_web_server
from support.handoff import HANDOFF_CONFIG, response_text
from support.waiting import wait_until
from knowledge import make_engine

IDLE_SECONDS = 3.0


@pytest.fixture(scope="module")
def quick_web(live_stack, free_ports, tmp_path_factory):
    (port,) = free_ports(1)
    log = tmp_path_factory.mktemp("idle-web") / "web.log"
    env = dict(os.environ, WEB_PORT=str(port), HOST="127.0.0.1", RASA_PORT=str(live_stack.settings.rasa_port),
               DATABASE_URL=live_stack.settings.database_url, HANDOFF_CONFIG=str(HANDOFF_CONFIG),
               RATING_IDLE_MINUTES=str(IDLE_SECONDS / 60), RASA_TOKEN=live_stack.settings.rasa_token)
    for name in ("RASA_URL", "HANDOFF_PORT", "HANDOFF_SECRET", "HANDOFF_DATABASE_URL"):
        env.pop(name, None)
    with running_web_server(env, log, "the second web server") as url:
        yield url


def _ask(page, text):
    page.fill("#input", text)
    page.press("#input", "Enter")


def _bot_texts(page):
    return page.locator("#messages .msg.bot .bubble").all_inner_texts()


def _timer(database_url: str, sender: str):
    """The person's idle timer row (rating_idle_timer), or None."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return session.get(m.IdleTimer, (CHANNEL, sender))
    finally:
        engine.dispose()


def test_a_quiet_person_is_asked_once_on_the_page_and_the_tap_is_stored(quick_web, page, live_stack):
    page.goto(quick_web)
    page.wait_for_selector(".msg.bot .bubble")  # the greeting
    _ask(page, "公积金提取要带什么")
    page.wait_for_selector(".msg.bot .bubble:has-text('住房公积金提取')")  # first why (情形引导): no rating mid-form
    _ask(page, "租房")
    page.wait_for_selector(".msg.bot .bubble:has-text('需要准备以下材料')")
    question = response_text("utter_ask_rating_idle")
    started = time.monotonic()
    page.wait_for_selector(f".msg.bot .bubble:has-text('{question[:12]}')", timeout=30_000)
    assert time.monotonic() - started >= IDLE_SECONDS - 0.5  # not before the person went quiet
    chips = page.locator(".msg.bot:last-child .chip")
    assert chips.all_inner_texts() == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    page.click(".msg.bot:last-child .chip:text-is('满意')")
    page.wait_for_selector(f".msg.bot .bubble:has-text('{response_text('utter_ask_rating_comment')[:10]}')")
    page.click(".msg.bot:last-child .chip:text-is('不写了')")
    page.wait_for_selector(f".msg.bot .bubble:has-text('{response_text('utter_rating_thanks_no_comment')[:8]}')")

    sender = page.evaluate("window.localStorage.getItem('sqfd.sender')")
    with Session(make_engine(live_stack.settings.database_url)) as session:
        rows = session.scalars(select(m.Rating).where(m.Rating.person == person_ref("web", sender))).all()
    assert [(r.kind, r.channel, r.matter_code, r.score) for r in rows] == [("bot", "web", "GJJ-TQ", 4)]

    # Once per session: another answer and another quiet spell ask nothing. The answer arms the timer again;
    # once a web process has claimed it (the quiet spell is over and the check runs), one more turn on the page
    # gives a wrong question time to arrive before it is counted.
    _ask(page, "那要多久")
    page.wait_for_selector(".msg.bot .bubble:has-text('的办理时限')")
    database_url = live_stack.settings.database_url
    wait_until(lambda: (_timer(database_url, sender) or m.IdleTimer()).fired_at, 30, "the idle timer claimed")
    before = count(page, BOT_ROWS)
    _ask(page, "那要多久")
    wait_for_reply(page, before)
    assert sum(question in text for text in _bot_texts(page)) == 1


def test_never_before_the_bot_answered_anything(quick_web, page, live_stack):
    # The watcher asks only when a timer is due, and the greeting's turn ends after it would have armed one.
    page.goto(quick_web)
    wait_for_reply(page, 0)  # the greeting's turn has ended
    sender = page.evaluate("window.localStorage.getItem('sqfd.sender')")
    assert sender and _timer(live_stack.settings.database_url, sender) is None
    texts = _bot_texts(page)
    assert len(texts) == 1 and response_text("utter_ask_rating_idle") not in texts[0]
