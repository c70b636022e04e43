"""The web process's typed application keys, in one place, and the shared resources they hold.

One of each per process: the settings, the domain texts, the catalog (opened on first use), one Jinja
environment for every server-rendered page (the citizen page, the notice, the console).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import aiohttp
import jinja2
from aiohttp import web

from bot.settings import Settings
from bot.texts import DomainTexts
from knowledge import Catalog, open_catalog

from bot.clients.rasa import RasaClient
from bot.handoff.sql import SqlThread

STATIC_DIR = Path(__file__).resolve().parent / "static"
TEMPLATE_DIRS = (Path(__file__).resolve().parent / "templates",
                 Path(__file__).resolve().parent.parent / "console" / "templates")
MAX_BODY_BYTES = 64 * 1024


class SharedCatalog:
    """The catalog for every page of this process, opened on first use (not at start-up) and kept in memory."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._lock = threading.Lock()
        self._catalog: Optional[Catalog] = None

    def get(self) -> Catalog:
        with self._lock:
            if self._catalog is None:
                self._catalog = open_catalog(self._settings.database_url, cache=True,
                                             city=self._settings.catalog_city)
            return self._catalog


def make_jinja() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
                              autoescape=jinja2.select_autoescape(["html"], default=True),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


SETTINGS = web.AppKey("settings", Settings)
SENDER_SECRET = web.AppKey("sender_secret", str)  # signs the page's sender ids (bot/web/senders.py)
TEXTS = web.AppKey("texts", DomainTexts)
CATALOG = web.AppKey("catalog", SharedCatalog)
JINJA = web.AppKey("jinja", jinja2.Environment)
# Every blocking call (SQL, catalog loads) of this process runs on it, never on the event loop.
SQL = web.AppKey("sql", SqlThread)
RASA = web.AppKey("rasa", RasaClient)
SESSION = web.AppKey("session", aiohttp.ClientSession)
# The handoff (帮办代办) inside this process: bot.handoff.runtime.HandoffRuntime.
HANDOFF = web.AppKey("handoff", object)
HANDOFF_SITE = web.AppKey("handoff_site", object)
# This process's number among WEB_WORKERS, and its counters (bot/metrics.py) for GET /metrics.
WORKER = web.AppKey("worker", int)
METRICS = web.AppKey("metrics", object)


def domain_messages(texts: DomainTexts, response: str, **values) -> list:
    """A domain response as the page's message list (for replies the web server gives itself)."""
    return [{"text": texts.render(response, **values), "buttons": [], "image": None}]


def unavailable_messages(texts: DomainTexts) -> list:
    """The apology a citizen sees when Rasa cannot answer."""
    return domain_messages(texts, "utter_service_unavailable")
