"""What the WeChat channel remembers: each person's last numbered options (SQL) and turns in flight (memory).

Options are in SQL so that "1" still means the same after a retry, a Rasa restart or on another Rasa process.
Turns are deduplicated in memory: WeChat retries a message (same MsgId) within about 15 s to the same server.
Message keys are also remembered in SQL for as long as a signed request's timestamp is accepted, so a replay of a
captured request is refused on any Rasa process and after a restart.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Dict, List, Optional, Tuple

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Engine

metadata = MetaData()
options_table = Table(
    "wechat_options", metadata,
    Column("openid", String(128), primary_key=True),
    Column("options", Text, nullable=False),  # JSON list of {"title", "payload"}
    Column("updated_at", DateTime, nullable=False),
)

seen_table = Table(
    "wechat_seen", metadata,
    Column("key", String(200), primary_key=True),  # MsgId, or openid + CreateTime + event for events
    Column("seen_at", DateTime, nullable=False),
    Index("ix_wechat_seen_at", "seen_at"),
)


class SeenStore:
    """Message keys seen within `keep_seconds` (the whole accepted timestamp window), shared through SQL."""

    PURGE_EVERY = 100  # inserts between deletions of expired keys

    def __init__(self, engine: Engine, keep_seconds: float, clock: Callable[[], datetime] = datetime.utcnow):
        self.engine = engine
        self.keep = timedelta(seconds=keep_seconds)
        self.clock = clock
        self._inserts = 0
        metadata.create_all(engine)

    def first_time(self, key: str) -> bool:
        """Records the key; False when it was already recorded within the window (a replay)."""
        now = self.clock()
        self._inserts += 1
        with self.engine.begin() as conn:
            if self._inserts % self.PURGE_EVERY == 1:
                conn.execute(delete(seen_table).where(seen_table.c.seen_at < now - self.keep))
            seen_at = conn.execute(select(seen_table.c.seen_at).where(seen_table.c.key == key)).scalar()
            if seen_at is not None:
                if now - seen_at <= self.keep:
                    return False
                conn.execute(update(seen_table).where(seen_table.c.key == key).values(seen_at=now))
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(seen_table).values(key=key, seen_at=now))
        except IntegrityError:  # another process recorded it between our read and our write
            return False
        return True


class OptionStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        metadata.create_all(engine)

    def save(self, openid: str, options: List[dict]) -> None:
        if not options:
            with self.engine.connect() as conn:  # most answers have no buttons: a read, not a write, then
                stored = conn.execute(select(options_table.c.openid).where(options_table.c.openid == openid)).first()
            if stored is None:
                return
        with self.engine.begin() as conn:
            if not options:
                conn.execute(delete(options_table).where(options_table.c.openid == openid))
                return
            values = {"options": json.dumps(options, ensure_ascii=False), "updated_at": datetime.utcnow()}
            if conn.execute(update(options_table).where(options_table.c.openid == openid).values(**values)).rowcount:
                return
            conn.execute(insert(options_table).values(openid=openid, **values))

    def pick(self, openid: str, number: int) -> Optional[dict]:
        with self.engine.connect() as conn:
            raw = conn.execute(select(options_table.c.options).where(options_table.c.openid == openid)).scalar()
        options = json.loads(raw) if raw else []
        return options[number - 1] if 1 <= number <= len(options) else None


PASSIVE, ASYNC, PENDING = "passive", "async", "pending"


@dataclass
class Turn:
    """One incoming message being answered; retries of it share this."""

    task: "asyncio.Task[List[str]]"
    started: float
    delivery: str = PENDING  # passive: returned in the HTTP reply; async: sent as 客服消息


class TurnRegistry:
    """Message key -> its Turn, kept long enough to cover WeChat's three retries."""

    def __init__(self, keep_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.keep_seconds = keep_seconds
        self.clock = clock
        self._turns: Dict[str, Turn] = {}

    def known(self, key: str) -> bool:
        """A turn for this key is remembered here (WeChat's own retry of a message)."""
        return key in self._turns

    def start(self, key: str, work: Callable[[], Awaitable[List[str]]]) -> Tuple[Turn, bool]:
        """The turn for this key, and whether this call started it (False: a retry)."""
        now = self.clock()
        for old in [k for k, t in self._turns.items() if now - t.started > self.keep_seconds and t.task.done()]:
            del self._turns[old]
        turn = self._turns.get(key)
        if turn is not None:
            return turn, False
        turn = Turn(task=asyncio.ensure_future(work()), started=now)
        self._turns[key] = turn
        return turn, True
