"""Sentences the handoff says to a person, from the domain's responses (never literals in Python)."""
from __future__ import annotations

import logging
import string
from typing import Dict

logger = logging.getLogger(__name__)

# Responses the web server renders itself (the bot is paused while they are needed).
REQUIRED = (
    "utter_handoff_position",
    "utter_handoff_claimed",
    "utter_handoff_serving",
    "utter_handoff_transferred_queue",
    "utter_handoff_transferred_helper",
    "utter_handoff_returned",
    "utter_handoff_closed_notice",
)


class _Missing(dict):
    def __missing__(self, key):
        logger.error("handoff text variable %r missing", key)
        return ""


class HandoffTexts:
    def __init__(self, responses: Dict[str, str]):
        self._responses = responses
        for name in REQUIRED:
            if name not in responses:
                logger.error("domain response %s is missing: the person would see an empty line", name)

    def render(self, name: str, **values) -> str:
        template = self._responses.get(name)
        if template is None:
            logger.error("domain response %s is missing", name)
            return ""
        return string.Formatter().vformat(template, (), _Missing(values))
