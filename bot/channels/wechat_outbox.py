"""The durable outbox for 客服消息: every message is stored in SQL before it is sent, so none is lost.

Per person, messages go out strictly in the order they were stored: only the oldest unsent one is tried, and a
later one waits while it is retried. Transient failures (network, HTTP 5xx, errcode -1, token errors) are
retried with doubling delays; permanent ones (see wechat_api.PERMANENT_ERRORS) and messages older than WeChat's
48-hour window are given up with status "failed". A background task, started with the Rasa server, sends what is
due, including what a previous run left pending. A short lease on the message being sent keeps two Rasa
processes on one database from sending it twice. Delivery is at least once: a crash between WeChat's "ok" and
our "sent" repeats that one message.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Awaitable, Callable, List, Optional, Set

from sqlalchemy import (Column, DateTime, Index, Integer, MetaData, String, Table, Text, and_, func, insert, or_,
                        select, update)
from sqlalchemy.engine import Engine, Row

from bot.privacy import mask_openid

from .wechat_api import WeChatSendError

logger = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"
MAX_AGE = timedelta(hours=48)  # WeChat refuses 客服消息 48 h after the person's last message anyway
LEASE = timedelta(seconds=30)  # longer than one HTTP attempt (10 s timeout, one token refresh)
IDLE_POLL = 5.0  # seconds: also picks up messages stored by another Rasa process

metadata = MetaData()
outbox_table = Table(
    "wechat_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the order of sending, per person
    Column("openid", String(128), nullable=False),
    Column("content", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("due_at", DateTime, nullable=False),
    Column("lease_until", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("done_at", DateTime, nullable=True),
    Column("last_error", String(200), nullable=True),
    Index("ix_wechat_outbox_status_openid", "status", "openid", "id"),
)


class OutboxStore:
    """The table; one short transaction per call (called from worker threads)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        metadata.create_all(engine)

    def add(self, openid: str, texts: List[str], delay: float = 0.0) -> None:
        now = datetime.utcnow()
        rows = [{"openid": openid, "content": t, "status": PENDING, "attempts": 0,
                 "due_at": now + timedelta(seconds=delay), "created_at": now} for t in texts]
        with self.engine.begin() as conn:
            conn.execute(insert(outbox_table), rows)

    def heads(self) -> List[Row]:
        """Each person's oldest pending message: the only one of theirs that may be sent now."""
        first = (select(func.min(outbox_table.c.id)).where(outbox_table.c.status == PENDING)
                 .group_by(outbox_table.c.openid))
        with self.engine.connect() as conn:
            return list(conn.execute(select(outbox_table).where(outbox_table.c.id.in_(first))))

    def head(self, openid: str) -> Optional[Row]:
        with self.engine.connect() as conn:
            return conn.execute(select(outbox_table).where(and_(outbox_table.c.openid == openid,
                                                                outbox_table.c.status == PENDING))
                                .order_by(outbox_table.c.id).limit(1)).first()

    def claim(self, message_id: int, now: datetime) -> bool:
        """Take the lease on a due message; False if it is not due or another process holds it."""
        t = outbox_table.c
        with self.engine.begin() as conn:
            return conn.execute(
                update(outbox_table)
                .where(and_(t.id == message_id, t.status == PENDING, t.due_at <= now,
                            or_(t.lease_until.is_(None), t.lease_until < now)))
                .values(lease_until=now + LEASE, attempts=t.attempts + 1)).rowcount == 1

    def finish(self, message_id: int, status: str, error: Optional[str] = None) -> None:
        self._set(message_id, status=status, done_at=datetime.utcnow(), lease_until=None,
                  last_error=error[:200] if error else None)

    def retry(self, message_id: int, due_at: datetime, error: str) -> None:
        self._set(message_id, due_at=due_at, lease_until=None, last_error=error[:200])

    def _set(self, message_id: int, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox_table).where(outbox_table.c.id == message_id).values(**values))

    def messages(self, openid: str) -> List[Row]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(outbox_table).where(outbox_table.c.openid == openid)
                                     .order_by(outbox_table.c.id)))


class Outbox:
    """Stores messages and sends them in the background, one person's messages in order."""

    def __init__(self, store: Callable[[], OutboxStore], send: Callable[[str, str], Awaitable[None]],
                 retry_first: float, retry_max: float):
        self._store = store  # a factory: the engine is made on first use, not at import time
        self._send = send
        self.retry_first = retry_first
        self.retry_max = retry_max
        self._wake: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None
        self._busy: Set[str] = set()  # people whose messages are being sent by this process
        self._drains: Set[asyncio.Task] = set()

    async def _sql(self, call: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(None, call, *args)

    async def put(self, openid: str, texts: List[str], delay: float = 0.0) -> None:
        """Stored (durable) when this returns; sent as soon as the person's earlier messages are out."""
        if texts:
            await self._sql(self._store().add, openid, texts, delay)
            self._poke()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        for task in [self._task, *self._drains]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._task, *self._drains] if t is not None), return_exceptions=True)
        self._task = None

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = await self._dispatch()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down, say: try again later, keep the task alive
                logger.exception("WeChat outbox: cannot read pending 客服消息")
                wait = IDLE_POLL
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except asyncio.TimeoutError:
                pass

    async def _dispatch(self) -> float:
        """Start sending for every person with a due message; seconds until the next one is due."""
        wait = IDLE_POLL
        now = datetime.utcnow()
        for head in await self._sql(self._store().heads):
            if head.openid in self._busy:
                continue
            if head.due_at <= now:
                self._busy.add(head.openid)
                task = asyncio.ensure_future(self._drain(head.openid))
                self._drains.add(task)
                task.add_done_callback(self._drains.discard)
            else:
                wait = min(wait, (head.due_at - now).total_seconds())
        return max(wait, 0.01)

    async def _drain(self, openid: str) -> None:
        """Send this person's due messages, oldest first; stop at one that must wait for a retry."""
        store = self._store()
        try:
            while True:
                head = await self._sql(store.head, openid)
                if head is None or not await self._sql(store.claim, head.id, datetime.utcnow()):
                    return
                if not await self._attempt(store, head):
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("WeChat outbox: sending to %s stopped", mask_openid(openid))
        finally:
            self._busy.discard(openid)
            self._poke()

    async def _attempt(self, store: OutboxStore, message: Row) -> bool:
        """One try; True if the next message may follow now (sent, or given up)."""
        who, attempts = mask_openid(message.openid), message.attempts + 1
        try:
            await self._send(message.openid, message.content)
        except WeChatSendError as exc:
            too_old = datetime.utcnow() - message.created_at > MAX_AGE
            if exc.permanent or too_old:
                logger.error("客服消息 #%s to %s given up after %s attempt(s): %s", message.id, who, attempts,
                             exc if exc.permanent else f"older than {MAX_AGE}, last error {exc}")
                await self._sql(store.finish, message.id, FAILED, str(exc))
                return True
            delay = min(self.retry_max, self.retry_first * 2 ** (attempts - 1))
            logger.warning("客服消息 #%s to %s failed (attempt %s: %s); retry in %.1f s", message.id, who, attempts,
                           exc, delay)
            await self._sql(store.retry, message.id, datetime.utcnow() + timedelta(seconds=delay), str(exc))
            return False
        await self._sql(store.finish, message.id, SENT)
        if attempts > 1:
            logger.info("客服消息 #%s to %s sent after %s attempts", message.id, who, attempts)
        return True
