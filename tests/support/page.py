"""The citizen page and the console in headless Chromium: selectors and small steps the browser tests share."""
from __future__ import annotations

import os


BOT_ROWS = "#messages .msg.bot"
USER_ROWS = "#messages .msg.user"


def watch_errors(page) -> list:
    """Collect script errors and console errors (a CSP violation is one)."""
    errors = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    return errors


def count(page, selector) -> int:
    return page.locator(selector).count()


def wait_for_reply(page, bot_rows_before: int):
    """Wait until a new bot row has arrived and the bot is no longer typing."""
    page.wait_for_function(
        """n => document.querySelectorAll('#messages .msg.bot').length > n
               && document.getElementById('typing').hidden""",
        arg=bot_rows_before,
        timeout=60_000,
    )


def open_chat(page, stack):
    """The page of `stack` (anything with a web_url: live_stack, web_on_standin), once the greeting is shown."""
    page.goto(f"{stack.web_url}/")
    wait_for_reply(page, 0)
    greeting = page.locator(f"{BOT_ROWS} .bubble").first.inner_text()
    assert greeting.strip(), "the greeting is empty"
    assert count(page, USER_ROWS) == 0, "the hidden /greet payload was shown"


def send(page, text: str):
    before = count(page, BOT_ROWS)
    page.fill("#input", text)
    page.press("#input", "Enter")
    wait_for_reply(page, before)
    return page.locator(BOT_ROWS).nth(before)


CITIZEN_BOT_ROWS = "#messages .msg.bot"


def watch(page) -> list:
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return problems


def citizen_send(page, text: str, wait_reply: bool = True):
    before = page.locator(CITIZEN_BOT_ROWS).count()
    page.fill("#input", text)
    page.press("#input", "Enter")
    if wait_reply:
        page.wait_for_function(
            "n => document.querySelectorAll('#messages .msg.bot').length > n && document.getElementById('typing').hidden",
            arg=before, timeout=60_000)
    return page.locator(CITIZEN_BOT_ROWS).nth(before)


def login(page, web_url: str, account: dict):
    page.goto(f"{web_url}/console")
    assert page.url.endswith("/console/login")
    page.fill('input[name="username"]', account["username"])
    page.fill('input[name="password"]', account["password"])
    page.click('button[type="submit"]')
    page.wait_for_url(f"{web_url}/console")
    page.wait_for_selector('body[data-live="up"]')


def keep_screenshot(page, name: str) -> None:
    """With SCREENSHOT_DIR set, keep a full-page picture for reading by eye (the issue notes name them)."""
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)
