"""Finds which matter (or bundle) a message is about: button payload, the verdict and ranking the NLU component
CatalogMatterExtractor put in the message (a matter the catalog lacks comes out as "not_in_catalog", never as
its neighbour), then the matter of the conversation."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from rasa_sdk import Tracker

from knowledge import Candidate, Catalog
from knowledge.verdict import NOT_IN_CATALOG, close_candidates


@dataclass
class Resolution:
    kind: str  # "matter" | "bundle" | "ambiguous" | "none" | "not_in_catalog" (candidates: related matters)
    code: Optional[str] = None
    candidates: List[Candidate] = field(default_factory=list)
    from_context: bool = False
    missing: Optional[str] = None  # not_in_catalog: the name of the matter asked about, when known


PAYLOAD_EXTRACTORS = (None, "RegexMessageHandler")  # how Rasa marks entities parsed from "/intent{...}"


def _payload_codes(tracker: Tracker) -> List[str]:
    """Matter codes a button payload carried (not what the NLU recognised in free text)."""
    return [entity["value"].strip() for entity in tracker.latest_message.get("entities", [])
            if entity.get("entity") == "matter" and isinstance(entity.get("value"), str)
            and entity.get("extractor") in PAYLOAD_EXTRACTORS]


def _as_candidates(rows: List[dict]) -> List[Candidate]:
    return [Candidate(kind=c["kind"], code=c["code"], name=c["name"], score=float(c.get("score", 0.0)),
                      lexical=c.get("lexical"), dense=c.get("dense")) for c in rows]


def _ranked_candidates(tracker: Tracker) -> List[Candidate]:
    return _as_candidates(tracker.latest_message.get("matter_candidates") or [])


def _first_known(codes: List[str], catalog: Catalog) -> Optional[Resolution]:
    for code in codes:
        if catalog.matter(code) is not None:
            return Resolution("matter", code)
        if catalog.bundle(code) is not None:
            return Resolution("bundle", code)
    return None


def resolve(tracker: Tracker, catalog: Catalog) -> Resolution:
    explicit = _first_known(_payload_codes(tracker), catalog)
    if explicit:
        return explicit
    verdict = tracker.latest_message.get("matter_verdict") or {}
    if verdict.get("kind") == NOT_IN_CATALOG:
        # Not the conversation's matter either: the person asks about something else.
        related = [c for c in _as_candidates(verdict.get("related") or [])
                   if catalog.matter(c.code) is not None or catalog.bundle(c.code) is not None]
        return Resolution(NOT_IN_CATALOG, None, related, missing=verdict.get("missing"))
    candidates = _ranked_candidates(tracker)
    if candidates:
        return _pick(candidates, catalog)
    current = tracker.get_slot("matter")
    if current and catalog.matter(current) is not None:
        return Resolution("matter", current, from_context=True)
    return Resolution("none")


def _pick(candidates: List[Candidate], catalog: Catalog) -> Resolution:
    best = candidates[0]
    close = close_candidates(candidates)
    for candidate in close:
        if candidate.kind == "bundle":
            members = {m.code for m in catalog.bundle(candidate.code).members}
            # A bundle that covers the other close matters is the answer, not a question.
            if all(c.code in members for c in close if c is not candidate):
                return Resolution("bundle", candidate.code, close)
    if len(close) > 1:
        return Resolution("ambiguous", None, close)
    return Resolution(best.kind, best.code, candidates)
