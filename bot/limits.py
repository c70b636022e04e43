"""Limits and the one cleaning rule every channel applies to what a person (or helper) sends, in one place
(no imports: every layer may use it)."""
from __future__ import annotations

from typing import Tuple

# DIET's attention is quadratic in the message length: 1,000 characters cost a few MB, 20,000 killed Rasa.
MESSAGE_MAX_CHARS = 1000


MAX_TEXT = 2000


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """Control characters and lone surrogates out (tab and newline stay), trimmed, cut to the limit: safe to store,
    log and show. For tickets, ratings, complaints and the messages our page sends to the bot."""
    cleaned = "".join(ch for ch in str(text) if ch in "\t\n" or (ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF))
    return cleaned.strip()[:limit]


def cut_message(text: str, limit: int = MESSAGE_MAX_CHARS) -> Tuple[str, bool]:
    """The text as the bot may read it, and whether anything was cut off."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True
