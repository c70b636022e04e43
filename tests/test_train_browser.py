"""The workbench in headless Chromium, by keyboard only, on a laptop screen: log in, open the inbox, the
model's guess is preselected in the first row's form, change it with the arrow keys, save with Enter; the
example lands in (a temporary copy of) data/nlu and the inbox is empty; and a conversation reviewed, tagged and
turned into a test, keys only. The web application runs in a thread of this process, on temporary copies of the
files."""
from __future__ import annotations

import pytest

from bot.train.sample_trackers import SampleTurn as T
from bot.web.app import create_app
from support.workbench import laptop_page, log_in_by_keyboard, served, workbench_settings

CONVERSATIONS = {
    "p1": ("rest", [T("交社保的钱能退回来不", "nlu_fallback", 0.3,
                      ranking=[("nlu_fallback", 0.35), ("ask_fee", 0.31), ("ask_conditions", 0.2)],
                      actions=("action_not_understood",), utters=("utter_default",))]),
}


@pytest.fixture()
def web_url(tmp_path, catalog_database_url, free_ports):
    port = free_ports(1)[0]
    settings = workbench_settings(tmp_path, catalog_database_url, CONVERSATIONS, web_port=port)
    with served(create_app(settings), port) as url:
        yield url, settings.project_dir


def test_label_a_message_by_keyboard(browser, web_url):
    url, project = web_url
    with laptop_page(browser) as (page, problems):
        log_in_by_keyboard(page, url)
        page.goto(f"{url}/console/train")
        assert "交社保的钱能退回来不" in page.inner_text("table.inbox")
        # the first row's intent has the focus, preselected with the model's guess
        page.wait_for_function("() => document.activeElement && document.activeElement.name === 'intent'")
        assert page.evaluate("document.activeElement.value") == "ask_fee"
        page.keyboard.type("ask_co")  # a list is chosen from by typing the first letters
        assert page.evaluate("document.activeElement.value") == "ask_conditions"
        page.keyboard.press("Enter")
        page.wait_for_selector("p.notice.ok")
        assert "已保存" in page.inner_text("p.notice.ok")
        assert "收件箱是空的" in page.inner_text("table.inbox")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366  # fits a laptop screen
        assert "    - 交社保的钱能退回来不\n" in (project / "data" / "nlu" / "aspects.yml").read_text(encoding="utf-8")
        assert problems == []


def _focused(page, script: str) -> None:
    page.wait_for_function(f"() => document.activeElement && ({script})")


def test_review_a_conversation_by_keyboard(browser, web_url):
    """Open the newest conversation from the list, tag it, mark it reviewed and turn it into a test, keys only."""
    url, project = web_url
    with laptop_page(browser) as (page, problems):
        log_in_by_keyboard(page, url)
        page.goto(f"{url}/console/train/conversations?fallback=1")
        assert "交社保的钱能退回来不" in page.inner_text("table.conversations")
        _focused(page, "document.activeElement.tagName === 'A' && "
                       "document.activeElement.textContent.includes('交社保的钱能退回来不')")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{url}/console/train/conversations/*")
        assert "nlu_fallback" in page.inner_text("ol.turns") and "没听懂" in page.inner_text("ol.turns")
        _focused(page, "document.activeElement.name === 'tags'")
        page.keyboard.type("退费 社保")
        page.keyboard.press("Enter")
        page.wait_for_selector("p.notice.ok >> text=标签已保存")
        _focused(page, "document.activeElement.name === 'tags'")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        _focused(page, "document.activeElement.textContent === '标记为已审阅'")
        page.keyboard.press("Enter")
        page.wait_for_selector("p.notice.ok >> text=已标记为已审阅")
        _focused(page, "document.activeElement.name === 'tags'")
        for _ in range(3):
            page.keyboard.press("Tab")
        _focused(page, "document.activeElement.textContent === '转为对话测试'")
        page.keyboard.press("Enter")
        page.wait_for_selector("p.notice.ok >> text=已写入对话测试")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # fits a laptop screen
        written = (project / "tests" / "conversations" / "test_reviewed.yml").read_text(encoding="utf-8")
        assert "          交社保的钱能退回来不\n        intent: nlu_fallback\n      - action: action_not_understood\n" in written
        page.goto(f"{url}/console/train/conversations?reviewed=yes&tag=退费")
        row = page.inner_text("table.conversations")
        assert "交社保的钱能退回来不" in row and "已审阅" in row and "已转测试" in row
        page.goto(f"{url}/console/train/analytics")
        assert page.locator("svg.chart").count() == 4  # no matter asked, no gap listed: said in words instead
        assert "还没有标为“目录里没有这个事项”的消息" in page.inner_text("main")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        assert problems == []
