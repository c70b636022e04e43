"""Shared fixtures: the real stack (action server, Rasa, web) on free ports, and headless Chromium."""
from __future__ import annotations

import os
from contextlib import contextmanager
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `pytest tests` from anywhere still imports bot/

from bot.run import Stack, StackError, free_ports  # noqa: E402
from bot.settings import Settings  # noqa: E402

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


def load_catalog(database_url: str) -> None:
    env = dict(os.environ, DATABASE_URL=database_url)
    result = subprocess.run(
        [sys.executable, "-m", "knowledge", "load"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"`python -m knowledge load` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def catalog_database_url(tmp_path_factory) -> str:
    """A fresh SQLite database loaded from the catalog files, for this test session only."""
    path = tmp_path_factory.mktemp("db") / "catalog.sqlite3"
    url = f"sqlite:///{path}"
    load_catalog(url)
    if not path.exists():
        pytest.fail(f"`python -m knowledge load` did not create {path}: is DATABASE_URL honoured?")
    return url


# Rasa's HTTP API token of every test stack: tests read trackers with it (rasa_api_params()).
RASA_TOKEN = "test-rasa-" + __import__("secrets").token_urlsafe(16)


def rasa_api_params() -> dict:
    return {"token": RASA_TOKEN}


def stack_env(database_url: str, log_dir: Path) -> dict:
    import secrets

    rasa_port, action_port, web_port, handoff_port = free_ports(4)
    return {
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(action_port),
        "WEB_PORT": str(web_port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": database_url,
        "MODEL_DIR": str(REPO_ROOT / "models"),
        "LOG_DIR": str(log_dir),
        "TRACKER_DB": str(log_dir / "tracker.sqlite3"),
        # Handoff: helpers answer around the clock in the test stacks (see the file).
        "HANDOFF_CONFIG": str(REPO_ROOT / "tests" / "fixtures" / "handoff.yml"),
        # Known to the tests, so they can open tickets through the internal API as the action server does.
        "HANDOFF_PORT": str(handoff_port),
        "HANDOFF_SECRET": secrets.token_urlsafe(24),
        "RASA_TOKEN": RASA_TOKEN,
    }


@dataclass(frozen=True)
class LiveStack:
    web_url: str
    rasa_url: str
    action_url: str
    settings: Settings
    log_dir: Path
    pids: dict  # service name -> process id, to watch a process's memory and addresses


def listening_addresses(port: int) -> set:
    """The local addresses (dotted IPv4) on which a TCP socket listens on this port (from /proc/net/tcp)."""
    found = set()
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


@contextmanager
def running_stack(database_url: str, log_dir: Path):
    """The real stack on free ports with this database; a start failure fails the test, never skips it."""
    stack = Stack(Settings.from_env(stack_env(database_url, log_dir)))
    try:
        stack.start()
    except StackError as exc:
        pytest.fail(f"The stack did not start: {exc}")
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory, catalog_database_url, trained_model):
    log_dir = tmp_path_factory.mktemp("logs")
    with running_stack(catalog_database_url, log_dir) as stack:
        settings = stack.settings
        yield LiveStack(web_url=settings.web_url, rasa_url=settings.rasa_url, action_url=settings.action_url,
                        settings=settings, log_dir=log_dir,
                        pids={svc.name: svc.proc.pid for svc in stack.services})


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


@contextmanager
def running_web_server(env: dict, log: Path, what: str = "bot.web"):
    """Our web server alone (`python -m bot.web`) with this environment, until /healthz answers."""
    import time
    import urllib.request

    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.web"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{env['WEB_PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not start:\n" + log.read_text(errors="replace"))
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture(scope="session")
def web_without_rasa(tmp_path_factory):
    """Our real web server alone, pointed at a port where no Rasa listens."""
    web_port, dead_rasa_port = free_ports(2)
    log = tmp_path_factory.mktemp("web-alone") / "web.log"
    env = dict(os.environ, WEB_PORT=str(web_port), RASA_PORT=str(dead_rasa_port), HOST="127.0.0.1")
    env.pop("RASA_URL", None)
    with running_web_server(env, log) as url:
        yield url
