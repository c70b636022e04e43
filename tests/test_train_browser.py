"""The workbench in headless Chromium, by keyboard only, on a laptop screen: log in, open the inbox, the
model's guess is preselected in the first row's form, change it with the arrow keys, save with Enter; the
example lands in (a temporary copy of) data/nlu and the inbox is empty. The web application runs in a thread
of this process, on temporary copies of the files."""
from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest
from aiohttp import web

from bot.handoff.config import HandoffConfig
from bot.handoff.service import HandoffService
from bot.settings import Settings
from bot.train.sample_trackers import SampleTurn as T
from bot.train.sample_trackers import write_conversations
from bot.web.app import create_app
from knowledge import make_engine

REPO = Path(__file__).resolve().parent.parent
HANDOFF_CONFIG = REPO / "tests" / "fixtures" / "handoff.yml"
PASSWORD = "Workbench-Pass-2026"


@pytest.fixture()
def web_url(tmp_path, catalog_database_url, free_ports):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copytree(REPO / "data" / "nlu", project / "data" / "nlu")
    (project / "knowledge").mkdir()
    shutil.copytree(REPO / "knowledge" / "catalog", project / "knowledge" / "catalog")
    db = tmp_path / "tracker.sqlite3"
    write_conversations(db, {"p1": ("rest", [T("交社保的钱能退回来不", "nlu_fallback", 0.3,
                                               ranking=[("nlu_fallback", 0.35), ("ask_fee", 0.31),
                                                        ("ask_conditions", 0.2)],
                                               actions=("action_not_understood",), utters=("utter_default",))])})
    (tmp_path / "models").mkdir()
    handoff_url = f"sqlite:///{tmp_path / 'handoff.sqlite3'}"
    service = HandoffService(make_engine(handoff_url), HandoffConfig.load(HANDOFF_CONFIG))
    service.setup()
    service.add_helper("trainer1", "王五", "T001", PASSWORD, role="trainer")
    port = free_ports(1)[0]
    settings = Settings(database_url=catalog_database_url, handoff_database_url=handoff_url,
                        handoff_config=HANDOFF_CONFIG, tracker_db=db, model_dir=tmp_path / "models",
                        project_dir=project, web_port=port, rasa_port=1)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(settings))
    ready = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(60)
    yield f"http://127.0.0.1:{port}", project
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)


def test_label_a_message_by_keyboard(browser, web_url):
    url, project = web_url
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        page.goto(f"{url}/console/train")
        assert page.url.endswith("/console/login")
        # autofocus is applied at a rendering step that may come after "load" on a busy machine
        page.wait_for_function("document.activeElement && document.activeElement.name === 'username'")
        page.keyboard.type("trainer1")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{url}/console")
        page.goto(f"{url}/console/train")
        assert "交社保的钱能退回来不" in page.inner_text("table.inbox")
        # the first row's intent has the focus, preselected with the model's guess
        page.wait_for_function("document.activeElement && document.activeElement.name === 'intent'")
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
    finally:
        context.close()
