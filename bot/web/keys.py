"""Application keys and limits shared by the factory and the views."""
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.settings import Settings

from .domain_texts import response_text
from .rasa_client import RasaClient

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 64 * 1024

SETTINGS = web.AppKey("settings", Settings)
RASA = web.AppKey("rasa", RasaClient)
TEXTS = web.AppKey("texts", dict)
SESSION = web.AppKey("session", aiohttp.ClientSession)
# The handoff (帮办代办) inside this process: bot.handoff.runtime.HandoffRuntime.
HANDOFF = web.AppKey("handoff", object)
HANDOFF_SITE = web.AppKey("handoff_site", object)


def domain_messages(texts: dict, response: str) -> list:
    """A domain response as the page's message list (for replies the web server gives itself)."""
    return [{"text": response_text(texts, response), "buttons": [], "image": None}]


def unavailable_messages(texts: dict) -> list:
    """The apology a citizen sees when Rasa cannot answer."""
    return domain_messages(texts, "utter_service_unavailable")
