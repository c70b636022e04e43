"""The 好差评 question when a person goes quiet on the web page.

After the bot answered, the person's timer is set in SQL (table rating_idle_timer: a due time); any new message
from them removes it. Every web process looks for due timers about once a second and claims one only while the
person's page is open on that process (an atomic UPDATE ... WHERE fired_at IS NULL: of several processes, or
two tabs on two processes, exactly one wins). The winner asks when the person has no open ticket and Rasa is
neither paused nor inside a form nor has asked already (slot `rating_asked`): it triggers `EXTERNAL_idle`
through Rasa's HTTP API and pushes the bot's reply (the rating question) to the page. The action decides the
rest (once per session, only after a real answer). A web process restart forgets nothing: the page reconnects
to a live process, which finds the timer in SQL. A timer whose page stays closed past GRACE is dropped.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Callable, List, Optional, Tuple

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clients.rasa import RasaClient, RasaUnavailable, normalise_messages
from bot.privacy import mask_personal_data

from . import models as m
from .hub import PersonHub
from .sql import AsyncSQL

logger = logging.getLogger(__name__)

IDLE_INTENT = "EXTERNAL_idle"
CHANNEL = "web"  # the channel whose pages the web processes own
_NOT_A_QUESTION = ("/greet", "/session_start", "/restart")
POLL_SECONDS = 1.0
# A due timer waits this long for the person's page to be open on some process (a restart, a reconnect).
GRACE = timedelta(seconds=60)
BATCH = 200
# Longer than a turn takes (bot.clients.rasa.CHAT_TIMEOUT is 30 s) with some queueing before it.
TURN_HORIZON = 120.0

Key = Tuple[str, str]


class IdleTimers:
    """The timers' SQL, synchronous (run on the web process's SQL thread). Times are naive UTC."""

    def __init__(self, engine, clock: Callable[[], datetime] = datetime.utcnow):
        self.engine, self.clock = engine, clock

    def arm(self, channel: str, sender: str, seconds: float) -> None:
        due = self.clock() + timedelta(seconds=seconds)
        for _ in range(2):  # two processes arming the same person at once: the loser updates
            with Session(self.engine) as session, session.begin():
                done = session.execute(
                    update(m.IdleTimer).where(m.IdleTimer.channel == channel, m.IdleTimer.sender == sender)
                    .values(due_at=due, fired_at=None).execution_options(synchronize_session=False)).rowcount
            if done:
                return
            try:
                with Session(self.engine) as session, session.begin():
                    session.add(m.IdleTimer(channel=channel, sender=sender, due_at=due))
                return
            except IntegrityError:
                continue

    def disarm(self, channel: str, sender: str, within: Optional[float] = None) -> None:
        """Removes the timer; with `within`, only one due in that many seconds (one that could fire before the
        turn under way re-arms it): most turns then change nothing, and commit nothing to the disk."""
        query = delete(m.IdleTimer).where(m.IdleTimer.channel == channel, m.IdleTimer.sender == sender)
        if within is not None:
            query = query.where(m.IdleTimer.due_at <= self.clock() + timedelta(seconds=within))
        with Session(self.engine) as session, session.begin():
            session.execute(query)

    def due(self, channel: str) -> List[Tuple[str, datetime]]:
        """(sender, due time) of the timers that are due and not yet claimed, oldest first."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(m.IdleTimer.sender, m.IdleTimer.due_at)
                .where(m.IdleTimer.channel == channel, m.IdleTimer.fired_at.is_(None),
                       m.IdleTimer.due_at <= self.clock())
                .order_by(m.IdleTimer.due_at).limit(BATCH))
            return [(sender, due_at) for sender, due_at in rows]

    def claim(self, channel: str, sender: str) -> Optional[datetime]:
        """Atomic: the claim time when this caller won the due timer, None when another did (or it is gone)."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            won = session.execute(
                update(m.IdleTimer)
                .where(m.IdleTimer.channel == channel, m.IdleTimer.sender == sender,
                       m.IdleTimer.fired_at.is_(None), m.IdleTimer.due_at <= now)
                .values(fired_at=now).execution_options(synchronize_session=False)).rowcount
        return now if won == 1 else None

    def still_claimed(self, channel: str, sender: str, fired_at: datetime) -> bool:
        """False when the person wrote since the claim (their message removed or re-armed the timer)."""
        with Session(self.engine) as session:
            return session.scalar(select(m.IdleTimer.sender).where(
                m.IdleTimer.channel == channel, m.IdleTimer.sender == sender,
                m.IdleTimer.fired_at == fired_at)) is not None

    def sweep(self) -> int:
        """Drops timers fired long ago and due timers whose page stayed closed past GRACE."""
        limit = self.clock() - GRACE
        with Session(self.engine) as session, session.begin():
            return session.execute(delete(m.IdleTimer).where(or_(
                m.IdleTimer.fired_at < limit,
                and_(m.IdleTimer.fired_at.is_(None), m.IdleTimer.due_at < limit)))).rowcount


class IdleWatcher:
    def __init__(self, db: AsyncSQL, timers: AsyncSQL, rasa: Optional[RasaClient], hub: PersonHub,
                 send: Callable, seconds: float, poll: float = POLL_SECONDS):
        self.db, self.timers, self.rasa, self.hub = db, timers, rasa, hub
        self.send = send  # LiveEvents.to_person
        self.seconds, self.poll = seconds, poll
        self._task: Optional[asyncio.Task] = None

    @property
    def enabled(self) -> bool:
        return self.seconds > 0 and self.rasa is not None

    def start(self) -> None:
        if self.enabled:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def touch(self, sender: str) -> None:
        """The person wrote: they are not idle. A timer due later than any turn can take stays: the bot's answer
        re-arms it (answered), and one left after a failed turn asks about the earlier answer, as goodbye would."""
        if self.enabled:
            await self.timers.disarm(CHANNEL, sender, within=TURN_HORIZON)

    async def answered(self, sender: str, message: str) -> None:
        """The bot answered the person's message: start counting."""
        if self.enabled and message.strip().split("{", 1)[0] not in _NOT_A_QUESTION:
            await self.timers.arm(CHANNEL, sender, self.seconds)

    async def _loop(self) -> None:
        sweeps = 0
        while True:
            await asyncio.sleep(self.poll)
            try:
                fires = []
                for sender, _ in await self.timers.due(CHANNEL):
                    if self.hub.connected((CHANNEL, sender)):  # only where the page is open
                        claimed = await self.timers.claim(CHANNEL, sender)
                        if claimed is not None:
                            fires.append(self._fire(sender, claimed))
                await asyncio.gather(*fires)  # Rasa's calls side by side; its TurnGate bounds them
                sweeps += 1
                if sweeps * self.poll >= GRACE.total_seconds() / 4:
                    sweeps = 0
                    await self.timers.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("idle timers: a round failed")

    async def _fire(self, sender: str, claimed: datetime) -> None:
        key = (CHANNEL, sender)
        try:
            if await self.db.open_ticket(CHANNEL, sender) is not None:
                return
            state = await self.rasa.state(sender)
            slots = state.get("slots") or {}
            if state.get("paused") or (state.get("active_loop") or {}).get("name") or slots.get("rating_asked"):
                return
            if not await self.timers.still_claimed(CHANNEL, sender, claimed):  # the person wrote meanwhile
                return
            messages = normalise_messages(await self.rasa.trigger(sender, IDLE_INTENT))
            if messages:
                await self.send(key, {"type": "bot", "messages": messages})
                logger.info("idle rating question sent to %s", mask_personal_data(sender))
        except RasaUnavailable as exc:
            logger.warning("idle check for %s failed: %s", mask_personal_data(sender), exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("idle check for %s failed", mask_personal_data(sender))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
