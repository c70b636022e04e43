"""Our real web app (bot.web.create_app) served from a thread of the test process: the fast layer for what the
web server does by itself (input validation, 4xx answers, headers, the page, its log), in front of the Rasa
stand-in (tests/support/rasa_standin.py) or of a port where nothing listens. Synchronous tests (requests,
Playwright) can use it; no model, no subprocess."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Optional

from aiohttp import web

from bot.settings import Settings
from bot.supervisor import free_ports
from support.handoff import HANDOFF_CONFIG
from support.stack import WEB_SECRET
from support.threaded_server import ThreadedServer


class WebApp(ThreadedServer):
    def __init__(self, env: dict) -> None:
        super().__init__("web-app")
        self.settings = Settings.from_env({**env, "HOST": "127.0.0.1", "WEB_PORT": str(self.port)})
        self.url = self.settings.web_url

    def make_app(self) -> web.Application:
        from bot.web import create_app

        return create_app(self.settings)


@contextmanager
def running_web_app(database_url: str, rasa_url: Optional[str] = None):
    """The web app on a free port with this catalog database; Rasa at `rasa_url`, or nowhere (a dead port)."""
    env = {"DATABASE_URL": database_url, "WEB_SECRET": WEB_SECRET, "RASA_TOKEN": "test-rasa",
           "HANDOFF_CONFIG": str(HANDOFF_CONFIG)}
    if rasa_url is None:
        env["RASA_PORT"] = str(free_ports(1)[0])  # nothing listens there
    else:
        env["RASA_URL"] = rasa_url
    server = WebApp(env).start()
    try:
        yield server
    finally:
        server.stop()
