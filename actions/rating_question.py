"""The 好差评 question and how an answer becomes a score (5 非常满意 .. 1 非常不满意).

Button titles and the words people type for each score are domain fragments (`utter_fragment_rating_N`,
`utter_fragment_rating_words_N`), so no Chinese lives here. Kept apart from feedback.py so that
action_handoff_returned (handoff.py) can ask without an import cycle.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from knowledge.text import normalize

from bot.texts.catalog import Fragments

SCORES = (5, 4, 3, 2, 1)
LOW = 2  # this score and below ask what went wrong and offer a helper
BOT, HUMAN = "bot", "human"


def rating_buttons(domain: Dict[str, Any]) -> List[Dict[str, str]]:
    fragments = Fragments(domain)
    return [{"title": fragments(f"rating_{score}"), "payload": f'/rate{{"rating_score":"{score}"}}'}
            for score in SCORES]


def ask_rating(dispatcher: CollectingDispatcher, domain: Dict[str, Any], response: str, kind: str) -> List[Dict]:
    """Ask in one tap; what the person taps is stored as this kind of rating."""
    dispatcher.utter_message(response=response, buttons=rating_buttons(domain))
    return [SlotSet("rating_asked", True), SlotSet("rating_kind", kind)]


def _plain(text: str) -> str:
    """As the NLU sees it (half-width, simplified), without spaces."""
    return "".join(normalize(text or "").split())


def score_from(value: Any, text: Optional[str], domain: Dict[str, Any]) -> Optional[int]:
    """A score from the button's entity value, or from the words typed (the longest matching word wins,
    so 非常不满意 is not read as 满意)."""
    if isinstance(value, (int, float, str)) and str(value).strip().isdigit():
        score = int(str(value).strip())
        return score if score in SCORES else None
    typed = _plain(text or "")
    if not typed or typed.startswith("/"):
        return None
    fragments = Fragments(domain)
    separator = fragments("list_separator")
    best, best_len = None, 0
    for score in SCORES:
        words = [fragments(f"rating_{score}")] + fragments(f"rating_words_{score}").split(separator)
        for word in (_plain(w) for w in words):
            if word and word in typed and len(word) > best_len:
                best, best_len = score, len(word)
    return best
