"""The trainer's workbench on temporary copies of the project's files: a project folder (training data,
catalog, domain), a tracker store written by Rasa's SQLTrackerStore, console accounts (a helper, a trainer, a
supervisor), Settings pointing at all of it; logging in from an aiohttp test client; the web application served
in a thread of the test process for Chromium, and a laptop-sized page in it."""
from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import threading
from pathlib import Path
from typing import Dict, Iterator, Sequence, Tuple

from aiohttp import web

from bot.handoff.config import HandoffConfig
from bot.handoff.service import HandoffService
from bot.settings import Settings
from bot.train.sample_trackers import SampleTurn, write_conversations
from knowledge import make_engine

REPO = Path(__file__).resolve().parents[2]
HANDOFF_CONFIG = REPO / "tests" / "fixtures" / "handoff.yml"
PASSWORD = "Workbench-Pass-2026"
Conversations = Dict[str, Tuple[str, Sequence[SampleTurn]]]


def copy_project(root: Path) -> Path:
    project = root / "project"
    (project / "data").mkdir(parents=True)
    shutil.copytree(REPO / "data" / "nlu", project / "data" / "nlu")
    (project / "knowledge").mkdir()
    shutil.copytree(REPO / "knowledge" / "catalog", project / "knowledge" / "catalog")
    shutil.copy(REPO / "domain.yml", project / "domain.yml")
    return project


def workbench_settings(root: Path, catalog_database_url: str, conversations: Conversations,
                       **overrides) -> Settings:
    """Settings for a web application whose workbench reads `conversations` (no Rasa behind it)."""
    project = copy_project(root)
    db = root / "tracker.sqlite3"
    write_conversations(db, conversations)
    (root / "models").mkdir()
    values = dict(tracker_db=db, model_dir=root / "models", project_dir=project, rasa_port=1)  # no Rasa on port 1
    values.update(overrides)
    return console_settings(root, catalog_database_url, **values)


def console_settings(root: Path, catalog_database_url: str, **values) -> Settings:
    """Settings with a handoff database in `root` holding the console's accounts (a helper, a trainer, a
    supervisor); `values` name the project, models, tracker store and Rasa the workbench uses."""
    handoff_url = f"sqlite:///{root / 'handoff.sqlite3'}"
    service = HandoffService(make_engine(handoff_url), HandoffConfig.load(HANDOFF_CONFIG))
    service.setup()
    service.add_helper("helper1", "钱七", "H001", PASSWORD, [service.config.queues[0].code])
    service.add_helper("trainer1", "王五", "T001", PASSWORD, role="trainer")
    service.add_helper("boss1", "李主任", "S001", PASSWORD, role="supervisor")
    return Settings(database_url=catalog_database_url, handoff_database_url=handoff_url,
                    handoff_config=HANDOFF_CONFIG, **values)


async def login(client, username: str) -> str:
    """Logs `username` in; returns the session's CSRF token."""
    page = await (await client.get("/console/login")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)
    resp = await client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                     "login_token": token}, allow_redirects=False)
    assert resp.status in (302, 303), await resp.text()
    home = await (await client.get("/console")).text()  # the console's own page names the session's token
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', home).group(1)


@contextlib.contextmanager
def served(app: web.Application, port: int) -> Iterator[str]:
    """The application on 127.0.0.1:port in a thread of its own (Playwright's sync API owns this thread)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
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
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


@contextlib.contextmanager
def laptop_page(browser):
    """A page on a laptop-sized screen and the script errors it reports."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        yield page, problems
    finally:
        context.close()


def log_in_by_keyboard(page, url: str, username: str = "trainer1") -> None:
    """Open the workbench, get the login page, log in with keys only; ends on the console's page."""
    page.goto(f"{url}/console/train")
    assert page.url.endswith("/console/login")
    # autofocus is applied at a rendering step that may come after "load" on a busy machine
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'username'")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/console")
