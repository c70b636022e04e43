"""The standard Rasa web widget (rasa-webchat from npm, tests/widget/) in headless Chromium against the real stack.

A portal page served from its own origin embeds the widget, which connects to Rasa's socket.io channel
(bot.channels.socketio): ask a materials question, tap a button, see the list; reload and keep the conversation.
"""
from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import REPO_ROOT
from support.page import keep_screenshot

WIDGET_DIR = REPO_ROOT / "tests" / "widget"
WIDGET_JS = WIDGET_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
REPLIES = ".rw-messages-container .rw-response"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def portal():
    """The portal page and the widget's script, from tests/widget/ on a port of their own."""
    if not WIDGET_JS.exists():
        pytest.fail(f"{WIDGET_JS} is missing: run `npm ci` in tests/widget (make test does it).")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(WIDGET_DIR)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def replies(page) -> list:
    return page.locator(REPLIES).all_inner_texts()


def wait_for_reply_containing(page, text: str, timeout: int = 90_000):
    page.wait_for_function(
        """([sel, text]) => [...document.querySelectorAll(sel)].some(e => e.innerText.includes(text))""",
        arg=[REPLIES, text], timeout=timeout)


def ask(page, text: str):
    box = page.locator(".rw-new-message")
    box.wait_for(state="visible")
    page.wait_for_function("() => !document.querySelector('.rw-new-message').disabled")
    box.fill(text)
    box.press("Enter")


def test_widget_asks_taps_a_button_and_shows_the_list(page, portal, live_stack, tmp_path):
    errors = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.goto(f"{portal}/index.html?rasa={live_stack.rasa_url}")
    wait_for_reply_containing(page, "审前辅导助手")  # the portal's initPayload /greet
    assert page.locator(".rw-replies .rw-reply").count() >= 2  # the greeting's example questions

    ask(page, "结婚登记要带什么材料")
    wait_for_reply_containing(page, "双方中有现役军人吗")
    button = page.locator(".rw-replies .rw-reply", has_text="没有")
    button.wait_for(state="visible", timeout=60_000)
    button.click()

    wait_for_reply_containing(page, "需要准备以下材料")
    wait_for_reply_containing(page, "您已经准备好了哪些")
    text = "\n".join(replies(page))
    assert "按您的情况（没有），办理「内地居民结婚登记」需要准备以下材料（共3项" in text
    assert "本人居民身份证" in text and "双方近期2寸半身免冠合影照片" in text
    assert "军人婚姻登记证明" not in text  # the button's answer was understood
    listed = page.locator(REPLIES, has_text="需要准备以下材料").inner_text()
    assert "\n1. 本人居民身份证" in listed and "\n3. 双方近期2寸半身免冠合影照片" in listed  # one line each
    # The tapped button shows as the person's message, never its payload.
    said = page.locator(".rw-messages-container .rw-client").all_inner_texts()
    assert said[0].strip() == "结婚登记要带什么材料"
    assert all("/inform_situation" not in s for s in said)
    # The offers before the checklist question keep their buttons on screen (rasa-webchat drops quick replies
    # once a later message arrives; the channel sends persistent buttons).
    assert page.locator(".rw-replies .rw-reply", has_text="公民婚育一件事").first.is_visible()
    shot = tmp_path / "widget-list.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")
    keep_screenshot(page, "widget-list.png")

    # A reload keeps the widget's session id (session storage): the bot still knows the matter.
    page.reload()
    ask(page, "那要多久？")
    wait_for_reply_containing(page, "「内地居民结婚登记」的办理时限")
    keep_screenshot(page, "widget-after-reload.png")
    assert errors == []


class ConsoleThread:
    """A helper's console driven from its own event loop thread (Playwright's sync API holds this thread)."""

    def __init__(self, web_url: str):
        import asyncio

        from support.handoff import Console

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.console = self.call(self._make(Console, web_url))

    @staticmethod
    async def _make(factory, *args):
        return factory(*args)

    def call(self, coroutine, timeout: float = 90):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self):
        self.call(self.console.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_widget_user_is_handed_off_to_a_helper_and_back(page, portal, live_stack, catalog_database_url):
    from support.handoff import add_helper, response_text

    helper = add_helper(catalog_database_url, ["zonghe", "minsheng"], supervisor=True, name="吴九", staff_no="W009")
    desk = ConsoleThread(live_stack.web_url)
    try:
        assert desk.call(desk.console.login(helper)) == 200
        board = desk.call(desk.console.connect())  # on duty, the live board open
        page.goto(f"{portal}/index.html?rasa={live_stack.rasa_url}")
        wait_for_reply_containing(page, "审前辅导助手")
        ask(page, "转人工")
        wait_for_reply_containing(page, "已为您转接")
        frame = desk.call(board.wait_for(lambda f: f["type"] == "ticket" and f["ticket"]["new"]
                                         and f["ticket"]["channel"] == "socketio", timeout=60))
        ticket_id = frame["ticket"]["id"]
        status, claimed = desk.call(desk.console.post_json(f"/console/tickets/{ticket_id}/claim"))
        assert status == 200 and claimed["won"]
        wait_for_reply_containing(page, "吴九")  # 工作人员吴九（工号W009）已接入
        status, _ = desk.call(desk.console.post_json(f"/console/tickets/{ticket_id}/messages",
                                                     {"text": "您好，我是帮办人员，请说说您的情况。"}))
        assert status == 200
        wait_for_reply_containing(page, "我是帮办人员")

        ask(page, "我想给孩子办医保")  # goes to the helper, not the bot
        got = desk.call(board.wait_for(lambda f: f["type"] == "message" and f["ticket_id"] == ticket_id
                                       and f["message"]["author"] == "person", timeout=60))
        assert got["message"]["text"] == "我想给孩子办医保"
        keep_screenshot(page, "widget-handoff.png")

        resp = desk.call(desk.console.post_form(f"/console/tickets/{ticket_id}/handback", {"resolution": "answered"}))
        assert resp.status == 303
        wait_for_reply_containing(page, response_text("utter_handoff_returned")[:12])
        wait_for_reply_containing(page, response_text("utter_ask_rating_human")[:10])
        ask(page, "公积金提取要带什么")
        wait_for_reply_containing(page, "住房公积金")
        assert page.locator(".rw-replies .rw-reply", has_text="非常满意").first.is_visible()  # still tappable
        keep_screenshot(page, "widget-handed-back.png")
    finally:
        desk.close()
