"""Conversation review: every conversation of Rasa's tracker store (one per sender id, all channels) summed up
for browsing and filtering, and one conversation read back as a chat with the model's intent and confidence per
user turn. Personal data is masked in everything shown; conversations are named by a hash of the sender id.

The summaries are kept per process and continued from the last event read (inbox.IncrementalRead), so a page
over a large store costs only the events stored since the previous page.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Union

from bot.handoff.records import mask_sender

from .inbox import (CLARIFY_TEXT, CLARIFY_UTTERS, FALLBACK_ACTIONS, FALLBACK_INTENT, FALLBACK_UTTERS, LOW_CONFIDENCE,
                    NOT_QUESTIONS, IncrementalRead, _json, _masked, _UTTER_ACTION, query, tracker_url)

HANDOFF_ACTIONS = {"action_handoff"}
COMPLAINT_INTENTS = {"complain"}
COMPLAINT_ACTIONS = {"action_complaint_start", "action_complaint_submit"}
LOW_RATING = 2  # 1 非常不满意, 2 不满意


def conversation_id(sender: str) -> str:
    """What pages and the review marks call a conversation: the sender id itself is never shown or stored."""
    return hashlib.sha1(sender.encode("utf-8")).hexdigest()[:12]


@dataclass
class Summary:
    id: str
    sender: str
    channel: str = ""
    started: float = 0.0
    last: float = 0.0
    turns: int = 0
    first_raw: str = ""
    intents: Counter = field(default_factory=Counter)
    matters: Set[str] = field(default_factory=set)
    fallbacks: int = 0
    clarifies: int = 0
    low_confidence: int = 0
    handoff: bool = False
    complaint: bool = False
    rating: Optional[int] = None
    turn_days: Counter = field(default_factory=Counter)  # local day -> user turns

    @property
    def person(self) -> str:
        return mask_sender(self.sender)

    @property
    def first_text(self) -> str:
        return _masked(self.first_raw)[0] if self.first_raw else ""


def _rating(value) -> Optional[int]:
    try:
        score = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return score if 1 <= score <= 5 else None


class _Summaries:
    """Fed the events in order (inbox._feed), keeps one Summary per sender."""

    def __init__(self, tz) -> None:
        self.tz = tz
        self.by_sender: Dict[str, Summary] = {}
        self._last_user: Dict[str, bool] = {}

    def _get(self, sender: str) -> Summary:
        found = self.by_sender.get(sender)
        if found is None:
            found = self.by_sender[sender] = Summary(id=conversation_id(sender), sender=sender)
        return found

    def day(self, ts: float) -> str:
        return dt.datetime.fromtimestamp(ts or 0.0, self.tz).strftime("%Y-%m-%d")

    def user(self, sender: str, timestamp: float, data: dict) -> None:
        parse = data.get("parse_data") or {}
        intent = parse.get("intent") or {}
        name, confidence = intent.get("name") or "", float(intent.get("confidence") or 0.0)
        if name.startswith("EXTERNAL_"):
            return
        s = self._get(sender)
        raw = data.get("text") or ""
        if not s.turns:
            s.started, s.channel = timestamp or 0.0, data.get("input_channel") or ""
        s.last = max(s.last, timestamp or 0.0)
        s.turns += 1
        s.turn_days[self.day(timestamp)] += 1
        s.intents[name] += 1
        question = not raw.lstrip().startswith("/") and name not in NOT_QUESTIONS
        if question and not s.first_raw:
            s.first_raw = raw
        if name in COMPLAINT_INTENTS:
            s.complaint = True
        if question:
            if name == FALLBACK_INTENT:
                s.fallbacks += 1
            elif confidence < LOW_CONFIDENCE:
                s.low_confidence += 1
        # A question whose fallback is not counted yet: a fallback action or reply after it counts once.
        self._last_user[sender] = question and name != FALLBACK_INTENT

    def action(self, sender: str, name: str) -> None:
        if name in HANDOFF_ACTIONS:
            self._get(sender).handoff = True
        elif name in COMPLAINT_ACTIONS:
            self._get(sender).complaint = True
        elif name in FALLBACK_ACTIONS and self._last_user.get(sender):
            self._get(sender).fallbacks += 1
            self._last_user[sender] = False  # one fallback per turn, whatever follows

    def bot(self, sender: str, data: str) -> None:
        found = _UTTER_ACTION.search(data or "")
        utter = found.group(1) if found else ""
        if utter in CLARIFY_UTTERS or (not utter and CLARIFY_TEXT in (data or "")):
            self._get(sender).clarifies += 1
        elif utter in FALLBACK_UTTERS and self._last_user.get(sender):
            self._get(sender).fallbacks += 1
            self._last_user[sender] = False

    def slot(self, sender: str, data: str) -> None:
        if '"matter"' not in (data or "") and '"rating_score"' not in (data or ""):
            return
        event = _json.loads(data)
        value = event.get("value")
        if event.get("name") == "matter" and isinstance(value, str) and value:
            self._get(sender).matters.add(value)
        elif event.get("name") == "rating_score" and _rating(value) is not None:
            self._get(sender).rating = _rating(value)


_READERS: Dict[tuple, IncrementalRead] = {}
_READERS_LOCK = threading.Lock()


def summaries(source: Union[str, Path], tz) -> List[Summary]:
    """Every conversation with at least one user turn, the most recent first."""
    with _READERS_LOCK:
        reader = _READERS.setdefault((tracker_url(source), str(tz)), IncrementalRead(source, lambda: _Summaries(tz)))
    found = reader.read(lambda scanner: [s for s in scanner.by_sender.values() if s.turns])
    found.sort(key=lambda s: (-s.last, s.id))
    return found


# ---------------------------------------------------------------- filters


@dataclass
class Filters:
    date_from: str = ""
    date_to: str = ""
    channel: str = ""
    matter: str = ""  # a code, or words of a matter's name
    intent: str = ""
    fallback: bool = False
    handoff: bool = False
    complaint: bool = False
    rating: str = ""  # "", "low" (1–2), "high" (4–5), "any", "none"
    reviewed: str = ""  # "", "yes", "no"
    tag: str = ""

    @classmethod
    def from_query(cls, q) -> "Filters":
        flag = lambda name: q.get(name) == "1"  # noqa: E731
        text = lambda name: str(q.get(name) or "").strip()[:100]  # noqa: E731
        return cls(date_from=text("from"), date_to=text("to"), channel=text("channel"), matter=text("matter"),
                   intent=text("intent"), fallback=flag("fallback"), handoff=flag("handoff"),
                   complaint=flag("complaint"), rating=text("rating"), reviewed=text("reviewed"), tag=text("tag"))

    def as_query(self) -> Dict[str, str]:
        out = {"from": self.date_from, "to": self.date_to, "channel": self.channel, "matter": self.matter,
               "intent": self.intent, "rating": self.rating, "reviewed": self.reviewed, "tag": self.tag,
               "fallback": "1" if self.fallback else "", "handoff": "1" if self.handoff else "",
               "complaint": "1" if self.complaint else ""}
        return {k: v for k, v in out.items() if v}


def _rating_matches(wanted: str, rating: Optional[int]) -> bool:
    if wanted == "low":
        return rating is not None and rating <= LOW_RATING
    if wanted == "high":
        return rating is not None and rating >= 4
    if wanted == "any":
        return rating is not None
    if wanted == "none":
        return rating is None
    return True


def select(found: Iterable[Summary], f: Filters, day, marks: Dict[str, "object"],
           matter_names: Dict[str, str]) -> List[Summary]:
    """The conversations that pass every filter given. `day(ts)` gives the local date; `marks`: id -> review."""
    codes: Optional[Set[str]] = None
    if f.matter:
        codes = {code for code, name in matter_names.items() if f.matter == code or f.matter in name}
        codes.add(f.matter)
    out = []
    for s in found:
        if (f.date_from and day(s.started) < f.date_from) or (f.date_to and day(s.started) > f.date_to):
            continue
        if (f.channel and s.channel != f.channel) or (f.intent and f.intent not in s.intents):
            continue
        if codes is not None and not (s.matters & codes):
            continue
        if (f.fallback and not s.fallbacks) or (f.handoff and not s.handoff) or (f.complaint and not s.complaint):
            continue
        if not _rating_matches(f.rating, s.rating):
            continue
        mark = marks.get(s.id)
        reviewed = bool(mark and mark.reviewed_at)
        if (f.reviewed == "yes" and not reviewed) or (f.reviewed == "no" and reviewed):
            continue
        if f.tag and not (mark and f.tag in mark.tags):
            continue
        out.append(s)
    return out


# ---------------------------------------------------------------- one conversation as a chat


@dataclass
class Entry:
    kind: str  # user | bot | action | slot | loop | pause | resume | session
    timestamp: float
    text: str = ""
    name: str = ""  # intent, action, utterance, slot or loop name
    confidence: Optional[float] = None
    ranking: List[tuple] = field(default_factory=list)
    entities: List[dict] = field(default_factory=list)
    value: object = None
    flags: List[str] = field(default_factory=list)


def events(source: Union[str, Path], sender: str) -> List[dict]:
    """Rasa's stored events of one conversation, in order (the `data` column holds each event as Rasa wrote it)."""
    rows = query(tracker_url(source), "SELECT data FROM events WHERE sender_id = :sender ORDER BY id",
                 {"sender": sender})
    return [json.loads(data) for (data,) in rows if data]


def _mask_value(value):
    return _masked(value)[0] if isinstance(value, str) else value


def chat(stored: List[dict]) -> List[Entry]:
    """The conversation as a trainer reads it: user turns with the model's reading, the bot's replies, and the
    actions, slots and loops between them, personal data masked."""
    out: List[Entry] = []
    for e in stored:
        kind, ts = e.get("event"), e.get("timestamp") or 0.0
        if kind == "user":
            parse = e.get("parse_data") or {}
            intent = parse.get("intent") or {}
            name, confidence = intent.get("name") or "", float(intent.get("confidence") or 0.0)
            ranking = [(r.get("name"), float(r.get("confidence") or 0.0)) for r in parse.get("intent_ranking") or []
                       if r.get("name") != name][:2]
            entities = [{"entity": x.get("entity"), "value": _mask_value(x.get("value"))}
                        for x in parse.get("entities") or []]
            flags = []
            if name == FALLBACK_INTENT:
                flags.append("fallback")
            elif confidence < LOW_CONFIDENCE and name not in NOT_QUESTIONS and not name.startswith("EXTERNAL_"):
                flags.append("low_confidence")
            out.append(Entry("user", ts, text=_masked(e.get("text") or "")[0], name=name, confidence=confidence,
                             ranking=ranking, entities=entities, flags=flags))
        elif kind == "bot":
            meta = e.get("metadata") or {}
            out.append(Entry("bot", ts, text=_masked(e.get("text") or "")[0], name=meta.get("utter_action") or ""))
        elif kind == "action" and e.get("name") not in ("action_listen", "action_session_start", None):
            out.append(Entry("action", ts, name=e["name"]))
        elif kind == "slot" and e.get("name") not in ("session_started_metadata", "requested_slot"):
            out.append(Entry("slot", ts, name=e.get("name") or "", value=_mask_value(e.get("value"))))
        elif kind == "active_loop":
            out.append(Entry("loop", ts, name=e.get("name") or ""))
        elif kind in ("pause", "resume", "session_started"):
            out.append(Entry("session" if kind == "session_started" else kind, ts))
    return out
