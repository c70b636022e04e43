"""Limits every channel applies to what a person sends, in one place (no imports: every layer may use it)."""
from __future__ import annotations

from typing import Tuple

# DIET's attention is quadratic in the message length: 1,000 characters cost a few MB, 20,000 killed Rasa.
MESSAGE_MAX_CHARS = 1000


def cut_message(text: str, limit: int = MESSAGE_MAX_CHARS) -> Tuple[str, bool]:
    """The text as the bot may read it, and whether anything was cut off."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True
