"""The inbox of misunderstandings: user messages from Rasa's tracker store (the `events` table, all senders,
every channel) where the bot was unsure or wrong, masked, grouped by what they say, most frequent first.

A message is in the inbox for one or more of these reasons (REASONS holds the Chinese labels):
low intent confidence; a fallback (nlu_fallback, action_default_fallback, action_not_understood, utter_default);
a clarifying question (utter_clarify_matter, "您问的是下面哪一项"); a correction right after the answer ("不对",
"不是这个" …) or a rephrase of the same question; a handoff asked for right after the answer; a low rating of the
conversation; an answer that the catalog does not hold (utter_out_of_scope, utter_unknown_fact).
Messages already labelled (an example in data/nlu, an alias in the catalog, a line of the gap list) are left out.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple, TypeVar, Union

from sqlalchemy import create_engine, text as sql

try:  # a rasa dependency; several times faster than json on the events' data
    import ujson as _json
except ImportError:  # pragma: no cover
    _json = json

from bot.privacy import mask_personal_data

from .texts import group_id, similarity, text_key

T = TypeVar("T")

REASONS = {
    "low_confidence": "置信度低",
    "fallback": "没听懂",
    "clarify": "反问了哪一项",
    "correction": "群众说不对",
    "rephrase": "群众换了说法再问",
    "handoff": "答后转人工",
    "low_rating": "差评",
    "out_of_catalog": "目录外回答",
}
LOW_CONFIDENCE = 0.6
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = {"action_default_fallback", "action_not_understood"}
FALLBACK_UTTERS = {"utter_default", "utter_handoff_offer"}
CLARIFY_UTTERS = {"utter_clarify_matter"}
CLARIFY_TEXT = "您问的是"
OUT_OF_CATALOG_UTTERS = {"utter_out_of_scope", "utter_unknown_fact"}
HANDOFF_INTENTS = {"request_human"}
# Not questions: what they say is not where the bot failed (a rating, yes/no, greetings, button payloads).
NOT_QUESTIONS = {"rate", "affirm", "deny", "greet", "thank", "goodbye", "request_human", "inform_have",
                 "inform_situation", "change_answer", "choose_matter"}
CORRECTION = re.compile(r"^[\W_]*(不对|不對|错了|錯了|答非所问|没问这个|我问的不是|我问的是|不是这个|不是問|不是问|不是我要"
                        r"|你理解错|你搞错|牛头不对马嘴)")
NOT_A_CORRECTION_INTENTS = {"change_answer", "inform_situation", "inform_have"}
REPHRASE_SECONDS = 180.0
REPHRASE_SIMILARITY = 0.5
_UTTER_ACTION = re.compile(r'"utter_action":\s*"([A-Za-z0-9_]+)"')


@dataclass
class Turn:
    sender: str
    channel: str
    raw: str
    timestamp: float
    intent: str
    confidence: float
    guess: str
    guess_confidence: float
    payload: bool
    reasons: Set[str] = field(default_factory=set)
    answered: bool = False
    _masked: Optional[Tuple[str, str]] = None

    def _mask(self) -> Tuple[str, str]:
        # Masked and normalised only when needed (most turns never are): the costly part of a large store.
        if self._masked is None:
            self._masked = _masked(self.raw)
        return self._masked

    @property
    def text(self) -> str:
        """What the person wrote, personal data masked."""
        return self._mask()[0]

    @property
    def key(self) -> str:
        return self._mask()[1]

    @property
    def question(self) -> bool:
        return not self.payload and self.intent not in NOT_QUESTIONS


_MASK_CACHE: Dict[str, Tuple[str, str]] = {}


def _masked(raw: str) -> Tuple[str, str]:
    found = _MASK_CACHE.get(raw)
    if found is None:
        masked = mask_personal_data(" ".join(raw.split()))
        found = (masked, text_key(masked))
        if len(_MASK_CACHE) > 50_000:
            _MASK_CACHE.clear()
        _MASK_CACHE[raw] = found
    return found


@dataclass
class Group:
    id: str
    key: str
    text: str
    count: int
    senders: int
    predicted_intent: str
    confidence: float
    reasons: Dict[str, int]
    channels: Dict[str, int]
    last_seen: float
    variants: List[str]
    labelled: Optional[str] = None
    merged_ids: List[str] = field(default_factory=list)  # groups merged into this one by meaning

    def as_json(self) -> dict:
        return {"id": self.id, "text": self.text, "count": self.count, "senders": self.senders,
                "predicted_intent": self.predicted_intent, "confidence": round(self.confidence, 3),
                "reasons": self.reasons, "channels": self.channels, "last_seen": self.last_seen,
                "variants": self.variants, "labelled": self.labelled, "merged_ids": self.merged_ids}


def tracker_url(source: Union[str, Path]) -> str:
    """A SQLAlchemy URL for the tracker store: given as a URL, or as the SQLite file (TRACKER_DB)."""
    text = str(source)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser().resolve()}"


def _sqlite(url: str):
    """A read-only connection to the SQLite tracker store; None while Rasa has not created it (no conversation
    yet), so the inbox is simply empty."""
    import sqlite3

    path = url[len("sqlite:///"):]
    if not os.path.exists(path):
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone() is None:
        conn.close()
        return None
    return conn


def query(url: str, statement: str, params: Dict[str, object]) -> Iterator[tuple]:
    """Rows of a read-only query on the tracker store, streamed; nothing while Rasa has not created it."""
    if url.startswith("sqlite:///"):  # the embedded store: sqlite3 directly, read-only, a lot faster
        conn = _sqlite(url)
        if conn is None:
            return
        try:
            yield from conn.execute(statement, params)
        finally:
            conn.close()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(sql(statement), params)
            for row in result:
                yield tuple(row)
    finally:
        engine.dispose()


def _rows(url: str, since: Optional[float], after_id: int = 0) -> Iterator[tuple]:
    """(id, sender, type, timestamp, action, data) of the events that matter, in the order they were stored."""
    statement = ("SELECT id, sender_id, type_name, timestamp, action_name, data FROM events "
                 "WHERE type_name IN ('user', 'bot', 'action', 'slot') AND id > :after")
    params: Dict[str, object] = {"after": after_id}
    if since is not None:
        statement += " AND timestamp >= :since"
        params["since"] = since
    yield from query(url, statement + " ORDER BY id", params)


def _user_turn(sender: str, timestamp: float, data: dict) -> Turn:
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    name, confidence = intent.get("name") or "", float(intent.get("confidence") or 0.0)
    guess, guess_confidence = name, confidence
    if name == FALLBACK_INTENT:  # the model's own best guess, to preselect for the trainer
        for ranked in parse.get("intent_ranking") or []:
            if ranked.get("name") and ranked.get("name") != FALLBACK_INTENT:
                guess, guess_confidence = ranked["name"], float(ranked.get("confidence") or 0.0)
                break
    raw = data.get("text") or ""
    return Turn(sender=sender, channel=data.get("input_channel") or "", raw=raw, timestamp=timestamp or 0.0,
                intent=name, confidence=confidence, guess=guess, guess_confidence=guess_confidence,
                payload=raw.lstrip().startswith("/"))


class _Scanner:
    """Walks the events in order, keeping per sender only the current and the last question turn."""

    def __init__(self, low_confidence: float) -> None:
        self.low_confidence = low_confidence
        self.flagged: List[Turn] = []
        self.current: Dict[str, Turn] = {}
        self.last_question: Dict[str, Turn] = {}

    def flag(self, turn: Optional[Turn], reason: str) -> None:
        if turn is None or turn.payload or not turn.key:
            return
        if not turn.reasons:
            self.flagged.append(turn)
        turn.reasons.add(reason)

    def user(self, sender: str, timestamp: float, data: dict) -> None:
        turn = _user_turn(sender, timestamp, data)
        if turn.intent.startswith("EXTERNAL_"):
            return
        before = self.last_question.get(sender)
        if not turn.payload and before is not None and before.answered:
            if CORRECTION.match(turn.raw) and turn.intent not in NOT_A_CORRECTION_INTENTS:
                self.flag(before, "correction")
            elif (turn.question and turn.timestamp - before.timestamp <= REPHRASE_SECONDS
                  and similarity(turn.raw, before.raw) >= REPHRASE_SIMILARITY / 2  # cheap first look
                  and similarity(turn.key, before.key) >= REPHRASE_SIMILARITY):
                self.flag(before, "rephrase")
            if turn.intent in HANDOFF_INTENTS:
                self.flag(before, "handoff")
        if not turn.payload and turn.intent not in NOT_QUESTIONS:
            if turn.intent == FALLBACK_INTENT:
                self.flag(turn, "fallback")
            elif turn.confidence < self.low_confidence:
                self.flag(turn, "low_confidence")
        self.current[sender] = turn
        if turn.question or turn.intent == FALLBACK_INTENT:
            self.last_question[sender] = turn

    def action(self, sender: str, name: str) -> None:
        turn = self.current.get(sender)
        if name in FALLBACK_ACTIONS and turn is not None and turn.intent not in NOT_QUESTIONS:
            self.flag(turn, "fallback")
        elif name == "action_handoff" and turn is not None and turn.intent not in HANDOFF_INTENTS:
            # An accepted offer ("好的" after "要不要转人工"): the question before it was not understood.
            self.flag(self.last_question.get(sender), "handoff")

    def bot(self, sender: str, data: str) -> None:
        turn = self.current.get(sender)
        if turn is None:
            return
        found = _UTTER_ACTION.search(data or "")
        utter = found.group(1) if found else ""
        if utter in CLARIFY_UTTERS or (not utter and CLARIFY_TEXT in (data or "")):
            self.flag(turn, "clarify")
        elif utter in FALLBACK_UTTERS and turn.intent not in NOT_QUESTIONS:
            self.flag(turn, "fallback")
        elif utter in OUT_OF_CATALOG_UTTERS and turn.intent not in NOT_QUESTIONS - {"greet"}:
            self.flag(turn, "out_of_catalog")
        if turn is self.last_question.get(sender):
            turn.answered = True

    def slot(self, sender: str, data: str) -> None:
        if '"rating_low"' not in (data or ""):
            return
        event = _json.loads(data)
        if event.get("name") == "rating_low" and event.get("value") is True:
            self.flag(self.last_question.get(sender), "low_rating")


def _feed(scanner: "_Scanner", rows: Iterable[tuple]) -> int:
    last = 0
    for last, sender, kind, timestamp, action, data in rows:
        if kind == "user":
            scanner.user(sender, timestamp, _json.loads(data) if data else {})
        elif kind == "action":
            scanner.action(sender, action or "")
        elif kind == "bot":
            scanner.bot(sender, data)
        else:
            scanner.slot(sender, data)
    return last


def scan(source: Union[str, Path], since: Optional[float] = None,
         low_confidence: float = LOW_CONFIDENCE) -> List[Turn]:
    """Every misunderstood user message of the tracker store, in the order they were sent."""
    scanner = _Scanner(low_confidence)
    _feed(scanner, _rows(tracker_url(source), since))
    return list(scanner.flagged)


class IncrementalRead:
    """A scanner kept between two readings: only events stored since the last reading are fed to it (events are
    only ever appended; a store that shrank — retention, a new database — is read again from the start)."""

    def __init__(self, source: Union[str, Path], make_scanner: Callable[[], object]) -> None:
        self.url = tracker_url(source)
        self._make = make_scanner
        self._lock = threading.Lock()
        self._scanner = make_scanner()
        self._last_id = 0
        self._seen = 0  # events with id <= _last_id when they were read

    def _stored(self, up_to: int) -> int:
        """How many events with id <= up_to the store holds now."""
        found = next(query(self.url, "SELECT COUNT(*) FROM events WHERE id <= :up_to", {"up_to": up_to}), None)
        return (found[0] or 0) if found else 0

    def read(self, result: Callable[[object], T]) -> T:
        """`result(scanner)` once the scanner has seen every event stored now."""
        with self._lock:
            if self._last_id and self._stored(self._last_id) != self._seen:
                # Conversations were deleted (retention) or the store replaced: nothing of them may stay here.
                self._scanner, self._last_id = self._make(), 0
            self._last_id = _feed(self._scanner, _rows(self.url, None, self._last_id)) or self._last_id
            self._seen = self._stored(self._last_id) if self._last_id else 0
            return result(self._scanner)


class IncrementalScan(IncrementalRead):
    def __init__(self, source: Union[str, Path], low_confidence: float = LOW_CONFIDENCE) -> None:
        super().__init__(source, lambda: _Scanner(low_confidence))
        self.low_confidence = low_confidence

    def turns(self) -> List[Turn]:
        return self.read(lambda scanner: list(scanner.flagged))


def group(turns: Iterable[Turn], labelled: Optional[Dict[str, str]] = None) -> List[Group]:
    """Messages that say the same (after normalising) in one group; the most frequent first.

    `labelled`: text key -> label already written into the repository's files (shown, not hidden, here)."""
    buckets: Dict[str, List[Turn]] = {}
    for turn in turns:
        buckets.setdefault(turn.key, []).append(turn)
    groups = []
    for key, members in buckets.items():
        texts = Counter(t.text for t in members)
        guesses = Counter(t.guess for t in members if t.guess)
        predicted = guesses.most_common(1)[0][0] if guesses else ""
        confidences = [t.guess_confidence for t in members if t.guess == predicted]
        reasons: Counter = Counter()
        for t in members:
            reasons.update(t.reasons)
        groups.append(Group(
            id=group_id(key), key=key, text=texts.most_common(1)[0][0], count=len(members),
            senders=len({t.sender for t in members}), predicted_intent=predicted,
            confidence=sum(confidences) / len(confidences) if confidences else 0.0,
            reasons=dict(reasons.most_common()), channels=dict(Counter(t.channel for t in members).most_common()),
            last_seen=max(t.timestamp for t in members), variants=[t for t, _ in texts.most_common(5)],
            labelled=(labelled or {}).get(key)))
    groups.sort(key=lambda g: (-g.count, -g.last_seen, g.key))
    return groups


_LABELS_CACHE: Dict[tuple, Dict[str, str]] = {}


def _stamps(paths) -> tuple:
    files = sorted(paths.nlu_dir.glob("*.yml")) + sorted(paths.catalog_dir.glob("**/*.yml")) + [paths.gap_file]
    out = []
    for path in files:
        try:
            st = os.stat(path)
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            out.append((str(path), 0, 0))
    return tuple(out)


def labelled_keys(paths) -> Dict[str, str]:
    """text key -> what it is labelled as in the repository's files: an intent, "别名:CODE", or "目录缺项".
    Read again only when one of those files changed."""
    stamps = _stamps(paths)
    found = _LABELS_CACHE.get(stamps)
    if found is None:
        found = _read_labels(paths)
        _LABELS_CACHE.clear()
        _LABELS_CACHE[stamps] = found
    return found


def _read_labels(paths) -> Dict[str, str]:
    from .annotate import NluFiles, catalog_terms, gap_keys

    labels: Dict[str, str] = {key: "目录缺项" for key in gap_keys(paths)}
    labels.update({key: f"别名:{code}" for key, (code, _term) in catalog_terms(paths.catalog_dir).items()})
    labels.update({key: intent for key, (intent, _text) in NluFiles(paths.nlu_dir).by_key.items()})
    return labels


@dataclass
class Inbox:
    groups: List[Group]
    messages: int
    seconds: float

    def find(self, gid: str) -> Optional[Group]:
        return next((g for g in self.groups if g.id == gid or gid in g.merged_ids), None)


_SCANS: Dict[tuple, IncrementalScan] = {}
_SCANS_LOCK = threading.Lock()


def read_inbox(source: Union[str, Path], paths, include_labelled: bool = False, since: Optional[float] = None,
               low_confidence: float = LOW_CONFIDENCE, incremental: bool = True, encode="default") -> Inbox:
    """The inbox; by default the scan of the store is kept in this process and continued on the next reading
    (the web pages read it on every page and label). `encode`: a sentence encoder (texts -> vectors) to merge
    groups by meaning; by default knowledge.encoder when the project has it, None to group by text only."""
    started = time.perf_counter()
    if incremental and since is None:
        with _SCANS_LOCK:
            keeper = _SCANS.setdefault((tracker_url(source), low_confidence), IncrementalScan(source, low_confidence))
        turns = keeper.turns()
    else:
        turns = scan(source, since=since, low_confidence=low_confidence)
    groups = group(turns, labelled_keys(paths))
    from . import similar

    encoder = similar.default_encoder() if encode == "default" else encode
    if encoder is not None:  # grouped by meaning too, when the project has a sentence encoder
        groups = similar.merge(groups, encoder)
    if not include_labelled:
        groups = [g for g in groups if g.labelled is None]
    return Inbox(groups=groups, messages=len(turns), seconds=time.perf_counter() - started)
