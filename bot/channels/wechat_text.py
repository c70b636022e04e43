"""What the WeChat channel shows: bot messages as plain text, buttons as numbered options, split to size.

All words come from domain.yml responses (utter_wechat_*, utter_fragment_wechat_*); this module only arranges.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from bot.texts import DomainTexts

# WeChat's limit for a text message (passive reply and 客服消息 alike), in UTF-8 bytes.
MAX_TEXT_BYTES = 2048
# Sentence ends where a too-long line may be cut (the mark stays with its sentence).
_SENTENCE_END = re.compile(r"(?<=[。！？；;!?])")
_OPTION_REPLY = re.compile(r"\d{1,2}")
Option = Dict[str, str]  # {"title", "payload"}


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _hard_cut(text: str, limit: int) -> List[str]:
    """Cut by characters (never inside a UTF-8 sequence) when a sentence alone is too long."""
    parts, current = [], ""
    for char in text:
        if _size(current + char) > limit:
            parts.append(current)
            current = ""
        current += char
    if current:
        parts.append(current)
    return parts


def _pieces(line: str, limit: int) -> List[str]:
    if _size(line) <= limit:
        return [line]
    out: List[str] = []
    for sentence in filter(None, _SENTENCE_END.split(line)):
        out.extend([sentence] if _size(sentence) <= limit else _hard_cut(sentence, limit))
    return out


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> List[str]:
    """Chunks of at most `limit` bytes: whole lines where possible, then whole sentences, then characters."""
    chunks: List[str] = []
    current = ""
    for line in text.split("\n"):
        for piece, joiner in ((p, "\n" if i == 0 else "") for i, p in enumerate(_pieces(line, limit))):
            candidate = f"{current}{joiner}{piece}" if current else piece
            if _size(candidate) <= limit:
                current = candidate
            else:
                if current.strip():
                    chunks.append(current)
                current = piece
    if current.strip():
        chunks.append(current)
    return [c.strip("\n") for c in chunks]


def option_number(text: str) -> Optional[int]:
    """The option a reply like "1", "２" or " 3 。" picks, if it is only a number."""
    cleaned = unicodedata.normalize("NFKC", text or "").strip().rstrip("。.！!").strip()
    return int(cleaned) if _OPTION_REPLY.fullmatch(cleaned) else None


class WeChatTexts:
    def __init__(self, domain_path: Path):
        self._texts = DomainTexts.load(domain_path)

    def response(self, name: str, **values: Any) -> str:
        return self._texts.render(name, **values)

    def _fragment(self, name: str, **values: Any) -> str:
        return self.response(f"utter_fragment_{name}", **values)

    def render(self, messages: Iterable[Dict[str, Any]]) -> Tuple[str, List[Option]]:
        """One text for a turn's messages, and the options its buttons became (numbered across the turn)."""
        blocks: List[str] = []
        options: List[Option] = []
        for message in messages:
            lines = []
            text = message.get("text")
            if isinstance(text, str) and text.strip():
                lines.append(text.strip())
            image = message.get("image")
            if isinstance(image, str) and image.lower().startswith(("https://", "http://")):
                lines.append(image)  # a plain URL is clickable in WeChat
            for button in message.get("buttons") or []:
                if not isinstance(button, dict) or not isinstance(button.get("title"), str):
                    continue
                payload = button.get("payload")
                options.append({"title": button["title"],
                                "payload": payload if isinstance(payload, str) and payload else button["title"]})
                lines.append(self._fragment("wechat_option", index=len(options), title=button["title"]))
            if lines:
                blocks.append("\n".join(lines))
        if options:
            numbers = self._fragment("wechat_number_separator").join(str(i) for i in range(1, len(options) + 1))
            blocks.append(self._fragment("wechat_options_hint", numbers=numbers))
        return "\n\n".join(blocks), options
