"""Finds which matter (or bundle) a message is about: button payload, catalog search, then context."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from rasa_sdk import Tracker

from knowledge import Candidate, Catalog, MatterSearch

# Candidates scoring at least this share of the best one are too close to pick between: ask.
AMBIGUITY_RATIO = 0.85


@dataclass
class Resolution:
    kind: str  # "matter" | "bundle" | "ambiguous" | "none"
    code: Optional[str] = None
    candidates: List[Candidate] = field(default_factory=list)
    from_context: bool = False


def _matter_entities(tracker: Tracker, from_payload: bool) -> List[str]:
    """Button payloads carry entities without an extractor; NLU-extracted ones name theirs."""
    return [entity["value"].strip() for entity in tracker.latest_message.get("entities", [])
            if entity.get("entity") == "matter" and isinstance(entity.get("value"), str)
            and (entity.get("extractor") is None) == from_payload]


def _message_text(tracker: Tracker) -> str:
    text = tracker.latest_message.get("text") or ""
    return "" if text.startswith("/") else text


def _first_known(codes: List[str], catalog: Catalog) -> Optional[Resolution]:
    for code in codes:
        if catalog.matter(code) is not None:
            return Resolution("matter", code)
        if catalog.bundle(code) is not None:
            return Resolution("bundle", code)
    return None


def resolve(tracker: Tracker, catalog: Catalog, search: MatterSearch) -> Resolution:
    explicit = _first_known(_matter_entities(tracker, from_payload=True), catalog)
    if explicit:
        return explicit
    candidates = search.search(_message_text(tracker), top=3)
    if candidates:
        return _pick(candidates, catalog)
    # A catalog term the lookup table found but too weak for the search threshold (e.g. a bare short name).
    extracted = _first_known(_matter_entities(tracker, from_payload=False), catalog)
    if extracted:
        return extracted
    current = tracker.get_slot("matter")
    if current and catalog.matter(current) is not None:
        return Resolution("matter", current, from_context=True)
    return Resolution("none")


def _pick(candidates: List[Candidate], catalog: Catalog) -> Resolution:
    best = candidates[0]
    close = [c for c in candidates if c.score >= AMBIGUITY_RATIO * best.score]
    for candidate in close:
        if candidate.kind == "bundle":
            members = {m.code for m in catalog.bundle(candidate.code).members}
            # A bundle that covers the other close matters is the answer, not a question.
            if all(c.code in members for c in close if c is not candidate):
                return Resolution("bundle", candidate.code, close)
    if len(close) > 1:
        return Resolution("ambiguous", None, close)
    return Resolution(best.kind, best.code, candidates)
