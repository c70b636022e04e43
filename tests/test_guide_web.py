"""一次性告知单 on the citizen page (headless Chromium, real stack), the checklist passing through the web
server, and the PUBLIC_URL setting the notice links are built on."""
import pytest

from bot.settings import Settings, SettingsError
from bot.clients.rasa import normalise_messages

from support.page import BOT_ROWS, USER_ROWS, count, open_chat, send, wait_for_reply, watch_errors


def test_checklist_ticks_send_the_numbers_and_the_reply_links_the_notice(page, live_stack):
    errors = watch_errors(page)
    open_chat(page, live_stack)
    send(page, "公积金提取要带什么")
    rent = page.locator(f"{BOT_ROWS} .chip:not([disabled])", has_text="租房").first.element_handle()
    before = count(page, BOT_ROWS)
    rent.click()
    wait_for_reply(page, before)
    page.wait_for_selector(".checklist input[type=checkbox]")

    form = page.locator(".checklist").last
    boxes = form.locator("input[type=checkbox]")
    assert boxes.count() >= 3
    # Accessible: a fieldset with a legend, and every box has its own label with the position and name.
    assert form.locator("fieldset legend").inner_text().strip()
    for i in range(boxes.count()):
        box_id = boxes.nth(i).get_attribute("id")
        label = form.locator(f"label[for='{box_id}']")
        assert label.inner_text().startswith(f"{i + 1}. ")
    first_name = form.locator("label").first.inner_text()[3:]

    # Ticked by clicking the labels, as a person on a phone would.
    form.locator("label").nth(0).click()
    form.locator("label").nth(2).click()
    before = count(page, BOT_ROWS)
    form.locator("button[type=submit]").click()
    wait_for_reply(page, before)
    assert page.locator(f"{USER_ROWS} .bubble").last.inner_text() == "1、3"
    assert form.locator("fieldset").evaluate("f => f.disabled")  # answered: no second submit
    assert boxes.first.is_disabled() and form.locator("button[type=submit]").is_disabled()

    reply = page.locator(BOT_ROWS).nth(before).inner_text()
    assert "还缺以下" in reply and first_name in reply.split("还缺以下")[0]
    link = page.locator(BOT_ROWS).nth(before).locator("a").last
    href = link.get_attribute("href")
    assert href.startswith(f"{live_stack.settings.public_url}/notice/GJJ-TQ?s=reason:rent&have=1,3")
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    assert errors == []


def test_submitting_with_nothing_ticked_says_nothing_is_there(page, live_stack):
    open_chat(page, live_stack)
    send(page, "结婚登记要带什么")
    before = count(page, BOT_ROWS)
    page.locator(f"{BOT_ROWS} .chip:not([disabled])", has_text="没有").first.click()
    wait_for_reply(page, before)
    page.wait_for_selector(".checklist button[type=submit]")
    before = count(page, BOT_ROWS)
    page.locator(".checklist button[type=submit]").last.click()
    wait_for_reply(page, before)
    sent = page.locator(f"{USER_ROWS} .bubble").last.inner_text()
    assert sent and not sent[0].isdigit()
    assert "还缺以下" in page.locator(BOT_ROWS).nth(before).inner_text()


# ---- units --------------------------------------------------------------------------------------------

def test_the_checklist_reaches_the_page_only_well_formed_and_as_data():
    good = {"items": [{"index": 1, "name": "<b>身份证</b>"}], "label": "勾选", "submit": "核对", "none": "都没有"}
    raw = [
        {"recipient_id": "x", "text": "您已经准备好了哪些？"},
        {"recipient_id": "x", "custom": {"checklist": good}},
        {"recipient_id": "x", "custom": {"checklist": {"items": "1,2", "label": "x", "submit": "y", "none": "z"}}},
        {"recipient_id": "x", "custom": {"checklist": {**good, "submit": None}}},
        {"recipient_id": "x", "custom": {"checklist": {**good, "items": [{"index": "1", "name": "x"}]}}},
    ]
    assert normalise_messages(raw) == [
        {"text": "您已经准备好了哪些？", "buttons": [], "image": None},
        {"text": None, "buttons": [], "image": None, "checklist": good},
    ]


def test_public_url_setting():
    assert Settings.from_env({}).public_url == "http://localhost:8000"
    assert Settings.from_env({"WEB_PORT": "8123"}).public_url == "http://localhost:8123"
    settings = Settings.from_env({"PUBLIC_URL": " https://zwfw.example.gov.cn/ "})
    assert settings.public_url == "https://zwfw.example.gov.cn"
    assert settings.child_env({})["PUBLIC_URL"] == "https://zwfw.example.gov.cn"
    for bad in ("javascript:alert(1)", "zwfw.example.gov.cn", "https://a b"):
        with pytest.raises(SettingsError):
            Settings.from_env({"PUBLIC_URL": bad})
