"""Shared fixtures: the real stack (action server, Rasa, web) on free ports, and headless Chromium."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `pytest tests` from anywhere still imports bot/

from bot.settings import Settings  # noqa: E402
from bot.supervisor import free_ports  # noqa: E402
from support.rasa_standin import RasaStandIn  # noqa: E402
from support.stack import WEB_SECRET, LiveStack, load_catalog  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(name="free_ports", scope="session")
def free_ports_fixture():
    """free_ports(n) -> n distinct free TCP ports on 127.0.0.1."""
    return free_ports


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The model `make test` trained into models/; its absence is a failure, never a skip."""
    model_dir = REPO_ROOT / "models"
    if not any(model_dir.glob("*.tar.gz")):
        pytest.fail(f"No trained model in {model_dir}: run `make test` (it trains first) or `make model`.")
    return model_dir


@pytest.fixture(scope="session")
def catalog_database_url(tmp_path_factory) -> str:
    """A fresh SQLite database loaded from the catalog files, for this test session only."""
    path = tmp_path_factory.mktemp("db") / "catalog.sqlite3"
    url = f"sqlite:///{path}"
    load_catalog(url)
    if not path.exists():
        pytest.fail(f"`python -m knowledge load` did not create {path}: is DATABASE_URL honoured?")
    return url


@pytest.fixture(scope="session")
def live_wechat_standin():
    """WeChat's API as the shared stack reaches it. Its own, not the session's `standin`: tests count its token
    fetches, and the asynchronous WeChat stack would take the token the shared stack holds."""
    from support.wechat import WeChatStandIn

    server = WeChatStandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory, catalog_database_url, trained_model, live_wechat_standin):
    """The shared stack: actions, Rasa, web; WeChat on in safe mode (AES) with the default reply budget
    (tests/test_wechat_channel.py; the channel switched off is tested in-process, tests/test_wechat_off.py)."""
    from support.wechat import wechat_stack

    log_dir = tmp_path_factory.mktemp("logs")
    with wechat_stack(catalog_database_url, log_dir, live_wechat_standin, aes=True) as stack:
        settings = stack.settings
        yield LiveStack(web_url=settings.web_url, rasa_url=settings.rasa_url, action_url=settings.action_url,
                        settings=settings, log_dir=log_dir, stack=stack)


@dataclass(frozen=True)
class WebAlone:
    web_url: str
    settings: Settings


@pytest_asyncio.fixture
async def web_alone(catalog_database_url):
    """Our real web app (page, console, internal handoff API) in this test's event loop, on free ports, with the
    session's catalog database and no Rasa: the fast layer for the console's access rules and handoff flows."""
    import secrets

    from aiohttp.test_utils import TestServer

    from bot.web import create_app

    handoff_port, web_port, dead_rasa = free_ports(3)
    settings = Settings.from_env({
        "DATABASE_URL": catalog_database_url, "HANDOFF_CONFIG": str(REPO_ROOT / "tests" / "fixtures" / "handoff.yml"),
        "HANDOFF_PORT": str(handoff_port), "HANDOFF_SECRET": secrets.token_urlsafe(24), "WEB_PORT": str(web_port),
        "RASA_PORT": str(dead_rasa), "WEB_SECRET": WEB_SECRET})
    server = TestServer(create_app(settings), host="127.0.0.1", port=web_port)
    await server.start_server()
    try:
        yield WebAlone(web_url=settings.web_url, settings=settings)
    finally:
        await server.close()


@pytest.fixture(scope="session")
def standin():
    """WeChat's API as the WeChat stacks reach it (tests/support/wechat.py), failing on demand."""
    from support.wechat import WeChatStandIn

    server = WeChatStandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def wechat_async_stack(tmp_path_factory, trained_model, standin):
    """The stack for WeChat's asynchronous path (plain mode): every answer takes the 客服消息 path (a reply
    budget of 1 ms) and retries come fast, so that the tests are short. Its own database (the outbox's rows)."""
    from support.wechat import wechat_stack

    url = f"sqlite:///{tmp_path_factory.mktemp('wechat-async-db') / 'catalog.sqlite3'}"
    load_catalog(url)
    with wechat_stack(url, tmp_path_factory.mktemp("wechat-async-logs"), standin, aes=False,
                      WECHAT_REPLY_BUDGET="0.001", WECHAT_RETRY_FIRST="0.2", WECHAT_RETRY_MAX="1") as running:
        yield running


@pytest.fixture(scope="session")
def catalog(catalog_database_url):
    """The session's catalog database, read as the bot reads it (expected texts come from it)."""
    from knowledge import Catalog, make_engine

    return Catalog(make_engine(catalog_database_url))


@pytest.fixture
def chat(live_stack):
    """A new conversation with the shared stack's Rasa."""
    from support.chat import Conversation

    return Conversation(live_stack.rasa_url)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for one test module at a time.

    Not session-wide: while Playwright's sync API is alive its event loop counts as running in this thread,
    and every pytest-asyncio / aiohttp test after it would fail with "cannot be called from a running event loop".
    """
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def web_without_rasa(catalog_database_url):
    """Our real web app alone (in a thread of this process), pointed at a port where no Rasa listens."""
    from support.web_app import running_web_app

    with running_web_app(catalog_database_url) as server:
        yield server.url


@dataclass(frozen=True)
class WebOnStandIn:
    web_url: str
    settings: Settings
    rasa: RasaStandIn  # what the web app forwarded (turns, triggers)


@pytest.fixture(scope="session")
def web_on_standin(catalog_database_url):
    """Our real web app (in a thread of this process) in front of the Rasa stand-in: the fast layer for the web
    server's own behaviour (validation, 4xx answers, sizes, headers, the page), no model needed."""
    from support.web_app import running_web_app

    rasa = RasaStandIn().start()
    try:
        with running_web_app(catalog_database_url, rasa.url) as server:
            yield WebOnStandIn(web_url=server.url, settings=server.settings, rasa=rasa)
    finally:
        rasa.stop()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """One real PostgreSQL server for the session (Debian's postgresql); the URL of its database `assistant`."""
    from support.engines import running_postgres

    with running_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """One real Redis server for the session (Debian's redis-server)."""
    from support.engines import running_redis

    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def pytest_configure(config):
    config.addinivalue_line("markers", "model: needs the trained model (set by the fixtures a test uses)")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    # A test needs the model when any fixture it uses, directly or not, is `trained_model`: `make test` runs the
    # others while the model trains.
    # With pytest-xdist's `--dist loadgroup` (make test-model) a worker takes a whole group: a module keeps its
    # module fixtures in one process, and the modules on WeChat's plain-mode stack share one start of it.
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "trained_model" in fixtures:
            item.add_marker(pytest.mark.model)
        group = "wechat_async_stack" if "wechat_async_stack" in fixtures else item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))
