"""The citizen page in headless Chromium: against the real stack where the bot's real answers matter, on our
real web app in this process in front of the Rasa stand-in (`web_on_standin`, which echoes) where only the
page's own behaviour does (composer, markup shown as text)."""
from __future__ import annotations

import re

import pytest

from support.page import BOT_ROWS, USER_ROWS, count, keep_screenshot, open_chat, send, wait_for_reply, watch_errors

QUESTION = "我想开个饭店，要办哪些证，需要带什么材料"
def assert_links_are_safe(page):
    for link in page.locator("#messages a").all():
        assert re.match(r"https?://", link.get_attribute("href") or "")
        assert link.get_attribute("target") == "_blank"
        assert "noopener" in (link.get_attribute("rel") or "")


def test_conversation_in_the_page(page, live_stack):
    errors = watch_errors(page)
    open_chat(page, live_stack)

    sender = page.evaluate("() => localStorage.getItem('sqfd.sender')")
    assert re.fullmatch(r"[A-Za-z0-9_-]{44}", sender or "")

    reply = send(page, QUESTION)
    assert page.locator(f"{USER_ROWS} .bubble").last.inner_text() == QUESTION
    assert reply.inner_text().strip()
    assert page.locator("#input").input_value() == ""

    chips = page.locator(f"{BOT_ROWS} .chip:not([disabled])")
    if chips.count():
        first = chips.first.element_handle()  # pinned: the locator would move on to newer chips
        title = first.inner_text()
        before = count(page, BOT_ROWS)
        first.click()
        wait_for_reply(page, before)
        assert page.locator(f"{USER_ROWS} .bubble").last.inner_text() == title
        assert first.is_disabled()
        assert "chosen" in (first.get_attribute("class") or "")
        assert page.locator(BOT_ROWS).nth(before).inner_text().strip()

    # Typing a message retires every earlier button row.
    rows_before = count(page, BOT_ROWS)
    send(page, "谢谢")
    still_enabled = page.evaluate(
        """n => [...document.querySelectorAll('#messages .msg.bot')].slice(0, n)
                 .flatMap(row => [...row.querySelectorAll('.chip')]).filter(c => !c.disabled).length""",
        rows_before,
    )
    assert still_enabled == 0

    # The same sender id is kept across a reload.
    page.reload()
    wait_for_reply(page, 0)
    assert page.evaluate("() => localStorage.getItem('sqfd.sender')") == sender

    assert_links_are_safe(page)
    assert errors == []


def test_urls_in_bot_text_become_safe_links(page, live_stack):
    errors = watch_errors(page)
    open_chat(page, live_stack)
    reply = send(page, "个体户营业执照能网上办吗")
    text = reply.locator(".bubble").first.text_content()
    # Same stop characters as the page: whitespace, CJK text and CJK/full-width punctuation end a URL.
    urls = [u.rstrip(".,;:!?)]}") for u in re.findall(r"https?://[^\s<>\"'\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", text)]
    assert urls, f"expected the online-application answer to carry its entry URL: {text!r}"
    links = reply.locator("a")
    assert links.count() == len(urls), (text, urls)
    for link, url in zip(links.all(), urls):
        assert link.text_content() == url
        assert link.get_attribute("href").rstrip("/") == url.rstrip("/")
    assert reply.locator(".bubble").first.text_content() == text  # linkifying kept every character
    assert_links_are_safe(page)
    assert errors == []


@pytest.mark.parametrize(
    "attack",
    [
        "<script>window.__pwned=1</script><b>x</b>",
        '<img src=x onerror="window.__pwned=2"><b>x</b>',
        '<a href="javascript:window.__pwned=3">点我</a><b>x</b>',
    ],
)
def test_markup_typed_by_a_user_is_shown_as_text(page, web_on_standin, attack):
    errors = watch_errors(page)
    open_chat(page, web_on_standin)  # the stand-in's echo puts the markup in a bot bubble too
    send(page, attack)
    assert page.locator(f"{USER_ROWS} .bubble").last.text_content() == attack
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    for tag in ("b", "script", "img", "iframe"):
        assert page.locator(f"#messages {tag}").count() == 0, f"a <{tag}> element was created"
    assert_links_are_safe(page)
    assert errors == []


def test_composer_keys_and_send_button(page, web_on_standin):
    open_chat(page, web_on_standin)
    send_button = page.locator("#send")
    assert send_button.is_disabled()
    page.fill("#input", "   \n  ")
    assert send_button.is_disabled()
    page.press("#input", "Enter")
    assert count(page, USER_ROWS) == 0, "whitespace was sent"

    page.fill("#input", "")
    page.type("#input", "第一行")
    page.keyboard.press("Shift+Enter")
    page.type("#input", "第二行")
    assert page.locator("#input").input_value() == "第一行\n第二行"
    assert count(page, USER_ROWS) == 0, "Shift+Enter sent the message"
    assert send_button.is_enabled()

    before = count(page, BOT_ROWS)
    send_button.click()
    wait_for_reply(page, before)
    bubble = page.locator(f"{USER_ROWS} .bubble").last
    assert bubble.text_content() == "第一行\n第二行"
    assert bubble.evaluate("el => getComputedStyle(el).whiteSpace") == "pre-wrap"
    assert send_button.is_disabled()


def test_messages_are_not_lost_while_the_bot_is_busy(page, live_stack):
    open_chat(page, live_stack)
    before = count(page, BOT_ROWS)
    for text in ("你好", "开饭店要带什么材料", "谢谢"):
        page.fill("#input", text)
        page.press("#input", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#messages .msg.bot').length >= n + 3"
        " && document.getElementById('typing').hidden",
        arg=before,
        timeout=90_000,
    )
    users = [t for t in page.locator(f"{USER_ROWS} .bubble").all_text_contents()]
    assert users == ["你好", "开饭店要带什么材料", "谢谢"]
    assert page.locator("#messages .msg.failed").count() == 0


def test_layout_at_375px(browser, live_stack, tmp_path):
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors = watch_errors(page)
        open_chat(page, live_stack)
        send(page, QUESTION)
        send(page, "https://www.example.gov.cn/" + "a" * 200 + " 以及 " + "长" * 120 + "1" * 80)

        overflow = page.evaluate(
            """() => ({
                doc: document.documentElement.scrollWidth,
                body: document.body.scrollWidth,
                inner: window.innerWidth,
                widest: Math.max(...[...document.querySelectorAll('#messages *')]
                                   .map(e => e.getBoundingClientRect().right)),
            })"""
        )
        assert overflow["doc"] <= overflow["inner"], overflow
        assert overflow["body"] <= overflow["inner"], overflow
        assert overflow["widest"] <= overflow["inner"], overflow

        header = page.locator("header h1")
        assert header.inner_text() == "审前辅导助手"
        assert page.locator("#input").is_visible() and page.locator("#send").is_visible()
        composer = page.locator("#composer").bounding_box()
        assert composer["y"] + composer["height"] <= 740 + 1, "the input box is below the screen"

        shot = tmp_path / "chat-375.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 5_000
        keep_screenshot(page, "chat-375.png")
        assert errors == []
    finally:
        context.close()


def test_page_when_rasa_is_down(page, web_without_rasa):
    # The apology comes from the domain (utter_service_unavailable) and the message can be re-sent.
    page.goto(f"{web_without_rasa}/")
    page.wait_for_selector("#messages .msg.bot .bubble")
    apology = page.locator(f"{BOT_ROWS} .bubble").first.inner_text()
    assert apology.strip() and apology != "\u26a0", "the domain's utter_service_unavailable was not shown"

    before = count(page, BOT_ROWS)
    page.fill("#input", "开饭店要带什么材料")
    page.press("#input", "Enter")
    wait_for_reply(page, before)
    failed = page.locator("#messages .msg.user.failed")
    failed.wait_for()
    assert failed.locator(".bubble").inner_text() == "开饭店要带什么材料"
    retry = failed.locator("button.retry")
    assert retry.is_visible()
    before = count(page, BOT_ROWS)
    retry.click()
    wait_for_reply(page, before)
    assert page.locator("#messages .msg.user").count() == 1, "a retry must not duplicate the message"
    assert page.locator("#messages .msg.user.failed button.retry").count() == 1
