"""Text from people and helpers made safe to store: one rule for tickets, ratings and complaints."""
from __future__ import annotations

MAX_TEXT = 2000


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """Control characters out (tab and newline stay), trimmed, cut to the limit."""
    cleaned = "".join(ch for ch in str(text) if ch in "\t\n" or (ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF))
    return cleaned.strip()[:limit]
