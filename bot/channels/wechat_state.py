"""What the WeChat channel remembers: each person's last numbered options (SQL) and turns in flight (memory).

Options are in SQL so that "1" still means the same after a retry, a Rasa restart or on another Rasa process.
Turns are deduplicated in memory: WeChat retries a message (same MsgId) within about 15 s to the same server.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Awaitable, Callable, Dict, List, Optional, Tuple

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.engine import Engine

metadata = MetaData()
options_table = Table(
    "wechat_options", metadata,
    Column("openid", String(128), primary_key=True),
    Column("options", Text, nullable=False),  # JSON list of {"title", "payload"}
    Column("updated_at", DateTime, nullable=False),
)


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
