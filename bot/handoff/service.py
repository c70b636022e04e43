"""The handoff service: tickets, queues, helpers and console sessions in SQL.

Synchronous and stateless: every method is one short unit of work (its own session and transaction) and
returns detached records (bot/handoff/records.py). Races between processes or coroutines are settled by the
database: one open ticket per person (a partial unique index) and claims by a conditional UPDATE. The methods
live by concern in tickets.py, messages.py, lists.py and accounts.py; this class joins them over one engine.
In the web process, call them through `bot.handoff.sql.run_sql` (never on the event loop).
"""
from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import datetime
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from . import models as m
from .accounts import AccountsMixin
from .config import HandoffConfig
from .feedback import FeedbackStore
from .lists import ListsMixin
from .messages import MessagesMixin
from .records import SUPERVISOR, HelperInfo, TicketInfo, utcnow
from .routing import QueueRouter
from .tickets import TicketsMixin

logger = logging.getLogger(__name__)


class HandoffService(TicketsMixin, MessagesMixin, ListsMixin, AccountsMixin):
    def __init__(self, engine: Engine, config: HandoffConfig, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.config = config
        self.clock = clock
        self.router = QueueRouter(engine, config)
        self.feedback = FeedbackStore(engine, config.tz, clock)

    # -- set-up --------------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the handoff tables (never the catalog's) and store the configured queues."""
        try:
            m.Base.metadata.create_all(self.engine)
        except OperationalError:
            # Another process created them at the same moment ("table already exists"): check again.
            m.Base.metadata.create_all(self.engine)
        with Session(self.engine) as session, session.begin():
            existing = {q.code: q for q in session.scalars(select(m.Queue))}
            for position, queue in enumerate(self.config.queues):
                row = existing.get(queue.code) or m.Queue(code=queue.code)
                row.name, row.priority, row.position = queue.name, queue.priority, position
                session.add(row)

    # -- conversions ---------------------------------------------------------------------------------

    def _helpers_by_id(self, session: Session, ids: Iterable[Optional[int]]) -> Dict[int, m.Helper]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        return {h.id: h for h in session.scalars(select(m.Helper).where(m.Helper.id.in_(wanted)))}

    def _info(self, t: m.Ticket, helper: Optional[m.Helper] = None, position: Optional[int] = None,
              minutes: Optional[int] = None) -> TicketInfo:
        queue = self.config.queue(t.queue_code)
        return TicketInfo(
            id=t.id, channel=t.channel, sender=t.sender, status=t.status, mode=t.mode, reason=t.reason,
            offline_reason=t.offline_reason, queue_code=t.queue_code, queue_name=self.config.queue_name(t.queue_code),
            priority=t.priority, priority_label=queue.priority_label if queue and t.priority >= queue.priority > 0
            else "", matter_code=t.matter_code, matter_name=t.matter_name, situation=t.situation, summary=t.summary,
            problem=t.problem, left_message=t.left_message, callback_phone=t.callback_phone, helper_id=t.helper_id,
            helper_name=helper.display_name if helper else None, helper_staff_no=helper.staff_no if helper else None,
            created_at=t.created_at, queued_at=t.queued_at, claimed_at=t.claimed_at, closed_at=t.closed_at,
            resolution=t.resolution, bot_paused=bool(t.bot_paused), resume_pending=bool(t.resume_pending),
            resume_intent=t.resume_intent, position=position, minutes=minutes)

    def _infos(self, session: Session, tickets: Sequence[m.Ticket]) -> List[TicketInfo]:
        helpers = self._helpers_by_id(session, (t.helper_id for t in tickets))
        return [self._info(t, helpers.get(t.helper_id)) for t in tickets]

    @staticmethod
    def _helper_info(session: Session, helper: m.Helper) -> HelperInfo:
        queues = frozenset(session.scalars(select(m.HelperQueue.queue_code)
                                           .where(m.HelperQueue.helper_id == helper.id)))
        return HelperInfo(id=helper.id, username=helper.username, display_name=helper.display_name,
                          staff_no=helper.staff_no, role=helper.role, active=bool(helper.active), queues=queues)

    def _with_position(self, session: Session, info: TicketInfo, now: datetime) -> TicketInfo:
        if info.status != m.WAITING or info.mode != m.LIVE:
            return info
        positions = self._positions(session, info.queue_code)
        position = positions.get(info.id, 0)
        return replace(info, position=position, minutes=self._estimate(session, position, info.queue_code, now))

    # -- queue order, positions, wait ----------------------------------------------------------------

    @staticmethod
    def _positions(session: Session, queue_code: str) -> Dict[int, int]:
        ids = session.scalars(
            select(m.Ticket.id).where(m.Ticket.queue_code == queue_code, m.Ticket.status == m.WAITING,
                                      m.Ticket.mode == m.LIVE)
            .order_by(m.Ticket.priority.desc(), m.Ticket.queued_at, m.Ticket.id)).all()
        return {ticket_id: index for index, ticket_id in enumerate(ids)}

    def positions(self, queue_code: str) -> Dict[int, int]:
        with Session(self.engine) as session:
            return self._positions(session, queue_code)

    def _on_duty(self, session: Session, queue_code: str, now: datetime) -> int:
        query = select(func.count(func.distinct(m.Helper.id))).where(
            m.Helper.active.is_(True), m.Helper.on_duty_until > now)
        member = m.Helper.id.in_(select(m.HelperQueue.helper_id).where(m.HelperQueue.queue_code == queue_code))
        if self.config.supervisors_on_duty_for_all:
            query = query.where(or_(member, m.Helper.role == SUPERVISOR))
        else:
            query = query.where(member)
        return int(session.scalar(query) or 0)


    def _estimate(self, session: Session, position: int, queue_code: str, now: datetime) -> int:
        helpers = max(1, self._on_duty(session, queue_code, now))
        return max(1, math.ceil((position + 1) * self.config.minutes_per_ticket / helpers))

    def waiting_positions(self, queue_code: str) -> List[TicketInfo]:
        """The live waiting tickets of a queue with their position and estimated wait (for updates)."""
        now = self.clock()
        with Session(self.engine) as session:
            positions = self._positions(session, queue_code)
            if not positions:
                return []
            tickets = session.scalars(select(m.Ticket).where(m.Ticket.id.in_(positions))).all()
            helpers = max(1, self._on_duty(session, queue_code, now))
            out = []
            for t in tickets:
                position = positions[t.id]
                minutes = max(1, math.ceil((position + 1) * self.config.minutes_per_ticket / helpers))
                out.append(self._info(t, position=position, minutes=minutes))
            return sorted(out, key=lambda i: i.position)

    def is_open(self, queue_code: str) -> Optional[str]:
        """None when helpers answer live now, else why not: "out_of_hours" or "no_helper"."""
        now = self.clock()
        if not self.config.is_open(queue_code, now):
            return "out_of_hours"
        with Session(self.engine) as session:
            if self._on_duty(session, queue_code, now) == 0:
                return "no_helper"
        return None
