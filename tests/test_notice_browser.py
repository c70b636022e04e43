"""The printable notice page in headless Chromium at a phone's size, on screen and as printed. The page needs no
Rasa: our real web app in this process (`web_on_standin`) serves it while the model trains."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from knowledge import Catalog, make_engine
from knowledge.notice import notice_path
from support.page import keep_screenshot, watch_errors

CODE = "SCJG-GT-SL"
ANSWERS = {"agent": "agent", "form": "individual"}
HAVE = {1, 2}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def catalog(catalog_database_url):
    return Catalog(make_engine(catalog_database_url))


@pytest.fixture
def phone(browser):
    context = browser.new_context(locale="zh-CN", **PHONE)
    # Headless Chromium has no print dialog: count the calls instead.
    context.add_init_script("window.__printed = 0; window.print = () => { window.__printed += 1; };")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


def test_notice_on_a_phone_shows_everything_and_prints_without_its_buttons(phone, web_on_standin, catalog, tmp_path):
    errors = watch_errors(phone)
    matter = catalog.matter(CODE)
    listed = matter.materials_for(ANSWERS)
    phone.goto(web_on_standin.web_url + notice_path(CODE, ANSWERS, HAVE))

    assert phone.locator("h1").inner_text() == "一次性告知单"
    assert phone.locator(".matter-name").inner_text() == matter.name
    situation = phone.locator("#situation").inner_text()
    for s in matter.situations:
        if s.code in ANSWERS:
            assert s.question in situation and s.label_of(ANSWERS[s.code]) in situation
    items = phone.locator(".materials li")
    assert items.count() == len(listed)
    for index, (material, _) in enumerate(listed, 1):
        assert material.name in items.nth(index - 1).inner_text()
    missing = phone.locator(".materials li.missing")
    assert missing.count() == len(listed) - len(HAVE)
    # Highlighted: the missing rows look different from the held ones.
    missing_bg = missing.first.evaluate("e => getComputedStyle(e).backgroundColor")
    have_bg = phone.locator(".materials li.have").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert missing_bg != have_bg
    box = phone.locator("#missing").inner_text()
    assert f"还缺以下{len(listed) - len(HAVE)}项材料" in box
    for index, (material, _) in enumerate(listed, 1):
        assert (material.name in box) == (index not in HAVE)
    where = phone.locator("#where").inner_text()
    assert matter.place.zone in where and matter.place.windows in where
    assert (matter.hours or catalog.hall().hours) in where
    assert f"{matter.legal_days}个工作日" in where
    assert matter.contact_phone in where
    today = datetime.now(ZoneInfo(web_on_standin.settings.hall_timezone)).date()  # the hall's day, not the machine's
    assert phone.locator("#generated").inner_text() == f"{today.year}年{today.month}月{today.day}日"

    # Readable on the phone: nothing wider than the screen, text not shrunk.
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    size = phone.locator(".materials li").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 14
    shot = tmp_path / "notice-phone.png"
    phone.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    keep_screenshot(phone, "notice-phone.png")

    assert phone.locator("#print-notice").is_visible()
    phone.locator("#print-notice").click()
    assert phone.evaluate("() => window.__printed") == 1
    download = phone.locator("#download-notice").get_attribute("href")
    assert download.endswith("&download=1")

    phone.emulate_media(media="print")
    assert not phone.locator(".toolbar").is_visible()
    assert not phone.locator("#print-notice").is_visible()
    assert phone.locator("#missing").is_visible() and phone.locator(".materials li").first.is_visible()
    printed = tmp_path / "notice-print.png"
    phone.screenshot(path=str(printed), full_page=True)
    assert printed.read_bytes().startswith(b"\x89PNG")
    keep_screenshot(phone, "notice-print.png")
    assert errors == []  # no script error, no CSP violation


def test_not_found_page_in_the_browser(phone, web_on_standin):
    response = phone.goto(web_on_standin.web_url + "/notice/NO-SUCH-MATTER")
    assert response.status == 404
    assert "没有找到这个事项的告知单" in phone.locator(".error").inner_text()
