"""The console and the citizen page in headless Chromium, in two browser contexts, against the real stack:
a new ticket shows up live with a notification, the helper claims it, both sides type and talk, markup stays
text, the materials list is inserted with one click, and the hand-back returns the person to the bot."""
from __future__ import annotations

import time

import pytest

from support.handoff import add_helper, response_text
from support.page import CITIZEN_BOT_ROWS, citizen_send, keep_screenshot, login, watch

@pytest.fixture(scope="module")
def helper_account(catalog_database_url):
    return add_helper(catalog_database_url, ["minsheng"], name="冯浏览", staff_no="B007")


def test_citizen_and_helper_talk_in_two_browsers(browser, live_stack, helper_account):
    web = live_stack.web_url
    helper_ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    citizen_ctx = browser.new_context(locale="zh-CN", viewport={"width": 420, "height": 800})
    try:
        console = helper_ctx.new_page()
        console.set_default_timeout(30_000)
        console_problems = watch(console)
        login(console, web, helper_account)

        citizen = citizen_ctx.new_page()
        citizen.set_default_timeout(60_000)
        citizen_problems = watch(citizen)
        citizen.goto(f"{web}/")
        citizen.wait_for_selector(f"{CITIZEN_BOT_ROWS} .bubble")
        citizen.wait_for_selector('body[data-live="up"]')
        assert "住房公积金提取" in citizen_send(citizen, "公积金提取要带什么").inner_text()

        # The request: the ticket is in the open console within a second of the citizen seeing the reply,
        # with a visual notification (and the sound, when the helper has switched it on).
        reply = citizen_send(citizen, "转人工").inner_text()
        shown_at = time.monotonic()
        assert "已为您转接，前面还有" in reply
        sender = citizen.evaluate("() => window.localStorage.getItem('sqfd.sender')")
        own_row = f'#list-waiting tr:has-text("{sender[:4]}****{sender[-2:]}")'
        console.wait_for_selector(own_row, timeout=5_000)
        latency = time.monotonic() - shown_at
        assert latency < 1.0, f"the ticket took {latency:.2f}s to appear in the console"
        assert console.evaluate("() => document.body.classList.contains('alert')")
        ticket_id = int(console.locator(own_row).get_attribute("data-ticket-id"))
        assert console.evaluate("() => window.lastNewTicket") == ticket_id
        assert console.locator(f'#list-waiting tr[data-ticket-id="{ticket_id}"]').count() == 1
        assert "住房公积金提取" in console.locator(f'tr[data-ticket-id="{ticket_id}"]').inner_text()
        banner = citizen.locator("#handoff-banner")
        banner.wait_for(state="visible")
        assert "前面还有" in banner.inner_text()
        keep_screenshot(console, "console-queue.png")

        # Claim from the list: the console opens the ticket, the citizen is told who serves them.
        console.click(f'tr[data-ticket-id="{ticket_id}"] button.claim')
        console.wait_for_url(f"{web}/console/tickets/{ticket_id}")
        console.wait_for_selector('body[data-live="up"]')
        notice = citizen.locator("#messages .msg.notice.handoff .bubble").last
        notice.wait_for()
        assert notice.inner_text() == response_text("utter_handoff_claimed").format(helper_name="冯浏览",
                                                                                   staff_no="B007")
        citizen.wait_for_function("() => document.getElementById('handoff-banner').textContent.includes('冯浏览')")
        assert "公积金提取要带什么" in console.locator("#transcript").inner_text()
        keep_screenshot(console, "console-ticket.png")

        # Typing, both ways.
        console.fill("#reply", "正在")
        console.type("#reply", "查")
        citizen.wait_for_selector("#typing:not([hidden])", timeout=5_000)
        citizen.type("#input", "我")
        console.wait_for_selector("#person-typing:not([hidden])", timeout=5_000)
        citizen.fill("#input", "")

        # Markup from the helper is text on the citizen's page; links stay plain http(s) links.
        attack = "<b>您好</b><script>alert(1)</script><img src=x onerror=alert(2)> 详见 https://www.example.gov.cn/x"
        console.fill("#reply", attack)
        console.press("#reply", "Enter")
        helper_bubble = citizen.locator("#messages .msg.helper .bubble").last
        helper_bubble.wait_for()
        assert helper_bubble.text_content() == attack
        assert helper_bubble.locator("b, script, img").count() == 0
        assert helper_bubble.locator("a").get_attribute("href") == "https://www.example.gov.cn/x"
        assert "冯浏览" in citizen.locator("#messages .msg.helper .caption").last.inner_text()

        # Markup from the citizen is text in the console.
        citizen_attack = "<img src=x onerror=alert(3)>谢谢<b>！</b>"
        citizen_send(citizen, citizen_attack, wait_reply=False)
        console.wait_for_function(
            "t => [...document.querySelectorAll('#chat li.person .text')].some(e => e.textContent === t)",
            arg=citizen_attack)
        assert console.locator("#chat img, #chat b").count() == 0

        # One click puts the matter's complete materials list into the reply; sending it reaches the citizen.
        console.click("#insert-materials")
        console.wait_for_function("() => document.getElementById('reply').value.includes('需要准备以下材料')")
        materials = console.input_value("#reply")
        assert materials.startswith("办理「住房公积金提取」需要准备以下材料")
        console.click("#send-reply")
        citizen.wait_for_function(
            "t => [...document.querySelectorAll('#messages .msg.helper .bubble')].some(e => e.textContent === t)",
            arg=materials)
        keep_screenshot(citizen, "citizen-with-helper.png")

        # Hand back: the bot tells the citizen and answers again.
        console.click("#handback")
        console.wait_for_url(f"{web}/console")
        returned = response_text("utter_handoff_returned")
        citizen.wait_for_function(
            "t => [...document.querySelectorAll('#messages .msg.bot .bubble')].some(e => e.textContent === t)",
            arg=returned)
        assert citizen.locator("#handoff-banner").is_hidden()
        assert "住房公积金提取" in citizen_send(citizen, "公积金提取要多久").inner_text()
        console.wait_for_function(
            "id => document.querySelector('#list-closed tr[data-ticket-id=\"' + id + '\"]') !== null", arg=ticket_id)

        assert console_problems == [] and citizen_problems == []
    finally:
        helper_ctx.close()
        citizen_ctx.close()


def test_unauthenticated_console_pages_send_the_browser_to_the_login(browser, live_stack):
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        for path in ("/console", "/console/dashboard", "/console/tickets/1"):
            page.goto(f"{live_stack.web_url}{path}")
            assert page.url.endswith("/console/login")
            assert page.locator('input[name="password"]').count() == 1
    finally:
        context.close()
