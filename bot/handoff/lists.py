"""The console's lists and dashboard, and 好差评 ratings stored through the handoff."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Dict, List, Optional

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from . import models as m
from .feedback import FeedbackError
from .records import HandoffError, HelperInfo, QueueStats, TicketInfo

logger = logging.getLogger(__name__)


class ListsMixin:
    """Part of HandoffService (bot/handoff/service.py), which provides engine, config, clock and conversions."""

    # -- lists and the dashboard ---------------------------------------------------------------------

    def _visible(self, helper: HelperInfo):
        if helper.supervisor:
            return True
        return or_(m.Ticket.queue_code.in_(sorted(helper.queues)), m.Ticket.helper_id == helper.id)

    def waiting_counts(self) -> Dict[str, int]:
        """Tickets waiting for a helper, per queue code (every configured queue, 0 included): for /metrics."""
        counts = {queue.code: 0 for queue in self.config.queues}
        with Session(self.engine) as session:
            rows = session.execute(select(m.Ticket.queue_code, func.count()).where(m.Ticket.status == m.WAITING)
                                   .group_by(m.Ticket.queue_code))
            counts.update({code: int(n) for code, n in rows})
        return counts

    def lists(self, helper: HelperInfo) -> Dict[str, List[TicketInfo]]:
        now = self.clock()
        day_start = self.config.local_day_start_utc(now)
        visible = self._visible(helper)
        with Session(self.engine) as session:
            waiting = session.scalars(select(m.Ticket).where(visible, m.Ticket.status == m.WAITING)
                                      .order_by(m.Ticket.priority.desc(), m.Ticket.queued_at, m.Ticket.id)).all()
            active = session.scalars(select(m.Ticket).where(visible, m.Ticket.status == m.ACTIVE)
                                     .order_by(m.Ticket.claimed_at, m.Ticket.id)).all()
            closed = session.scalars(select(m.Ticket).where(visible, m.Ticket.status == m.CLOSED,
                                                            m.Ticket.closed_at >= day_start)
                                     .order_by(m.Ticket.closed_at.desc()).limit(200)).all()
            positions: Dict[str, Dict[int, int]] = {}
            waiting_infos = []
            for info in self._infos(session, waiting):
                if info.mode == m.LIVE:
                    if info.queue_code not in positions:
                        positions[info.queue_code] = self._positions(session, info.queue_code)
                    position = positions[info.queue_code].get(info.id)
                    info = replace(info, position=position)
                waiting_infos.append(info)
            actives = self._infos(session, active)
            return {
                "waiting": waiting_infos,
                "mine": [t for t in actives if t.helper_id == helper.id],
                "others": [t for t in actives if t.helper_id != helper.id],
                "closed": self._infos(session, closed),
            }

    def dashboard(self, helper: HelperInfo) -> List[QueueStats]:
        """Today's figures per queue the helper sees, plus a total row (queue_code "")."""
        now = self.clock()
        day_start = self.config.local_day_start_utc(now)
        codes = [q.code for q in self.config.queues if helper.supervisor or q.code in helper.queues]
        stats = {code: QueueStats(code, self.config.queue_name(code)) for code in codes}
        total = QueueStats("", "")
        with Session(self.engine) as session:
            tickets = session.scalars(select(m.Ticket).where(
                m.Ticket.queue_code.in_(codes), m.Ticket.status != m.COLLECTING,
                or_(m.Ticket.created_at >= day_start, m.Ticket.closed_at >= day_start,
                    m.Ticket.status.in_((m.WAITING, m.ACTIVE))))).all()
            scores: Dict[int, List[int]] = {}
            ids = [t.id for t in tickets]
            if ids:
                for ticket_id, score in session.execute(select(m.Rating.ticket_id, m.Rating.score)
                                                        .where(m.Rating.ticket_id.in_(ids),
                                                               m.Rating.kind == m.HUMAN_KIND)):
                    scores.setdefault(ticket_id, []).append(score)
        for t in tickets:
            for row in (stats[t.queue_code], total):
                if t.created_at >= day_start:
                    row.tickets += 1
                row.waiting += t.status == m.WAITING
                row.active += t.status == m.ACTIVE
                if t.status == m.CLOSED and t.closed_at and t.closed_at >= day_start:
                    row.closed += 1
                    if t.claimed_at:
                        row.handles.append((t.closed_at - t.claimed_at).total_seconds())
                if t.claimed_at and t.queued_at and t.claimed_at >= day_start and t.mode == m.LIVE:
                    row.waits.append(max(0.0, (t.claimed_at - t.queued_at).total_seconds()))
                row.scores.extend(scores.get(t.id, []))
        return [stats[c].finish() for c in codes] + [total.finish()]

    def rate(self, kind: str, channel: str, sender: str, score: int, comment: Optional[str] = None,
             matter_code: Optional[str] = None):
        """A 好差评 rating of the bot ("bot", with the matter talked about) or of a helper ("human", on the ticket)."""
        try:
            if kind == m.HUMAN_KIND:
                return self.feedback.rate_human_help(channel, sender, int(score), comment,
                                                     self.config.rating_window_hours)
            return self.feedback.add_rating(kind, channel, sender, int(score), comment, matter_code)
        except (FeedbackError, TypeError, ValueError):
            raise HandoffError("bad_score") from None
