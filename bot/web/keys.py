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


def unavailable_messages(texts: dict) -> list:
    """The apology a citizen sees when Rasa cannot answer, in the page's message shape."""
    return [{"text": response_text(texts, "utter_service_unavailable"), "buttons": [], "image": None}]
