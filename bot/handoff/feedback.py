"""好差评 and 办不成事 in SQL: ratings (of the bot or of a helper) and complaints with reference numbers.

Synchronous, one short unit of work per call, like the handoff service. Used by the web server (internal API)
and, for complaints, by the action server itself, so a complaint is stored even when the web server is down.
"""
from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Callable, List, Optional

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from . import models as m
from bot.limits import clean_text

REFERENCE_PREFIX = "BBCS"
KINDS = (m.BOT_KIND, m.HUMAN_KIND)
MAX_COMMENT = 1000
MAX_DETAIL = 4000
COMPLAINT_ATTEMPTS = 64


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def person_ref(channel: str, sender: str) -> str:
    """An opaque, stable reference: the same person gets the same value, which does not reveal the id."""
    return hashlib.sha256(f"{channel}\x00{sender}".encode("utf-8")).hexdigest()[:24]


def _clean(text: Optional[str], limit: int) -> Optional[str]:
    return clean_text(text, limit) or None if text else None


class FeedbackError(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class RatingInfo:
    id: int
    kind: str
    channel: str
    person: str
    ticket_id: Optional[int]
    matter_code: Optional[str]
    score: int
    comment: Optional[str]
    created_at: datetime


@dataclass(frozen=True)
class ComplaintInfo:
    id: int
    reference: str
    channel: str
    sender: str
    matter_code: Optional[str]
    matter_text: Optional[str]
    detail: str
    phone: str
    ticket_id: Optional[int]
    created_at: datetime


def _rating_info(r: m.Rating) -> RatingInfo:
    return RatingInfo(id=r.id, kind=r.kind, channel=r.channel, person=r.person, ticket_id=r.ticket_id,
                      matter_code=r.matter_code, score=r.score, comment=r.comment, created_at=r.created_at)


def _complaint_info(c: m.Complaint) -> ComplaintInfo:
    return ComplaintInfo(id=c.id, reference=c.reference, channel=c.channel, sender=c.sender,
                         matter_code=c.matter_code, matter_text=c.matter_text, detail=c.detail, phone=c.phone,
                         ticket_id=c.ticket_id, created_at=c.created_at)


class FeedbackStore:
    def __init__(self, engine: Engine, tz: tzinfo, clock: Callable[[], datetime] = _utcnow):
        self.engine = engine
        self.tz = tz
        self.clock = clock

    def setup(self) -> None:
        """Create the handoff tables if missing (complaints and ratings refer to tickets)."""
        try:
            m.Base.metadata.create_all(self.engine)
        except OperationalError:  # created by another process at the same moment
            m.Base.metadata.create_all(self.engine)

    # -- ratings -------------------------------------------------------------------------------------

    def add_rating(self, kind: str, channel: str, sender: str, score: int, comment: Optional[str] = None,
                   matter_code: Optional[str] = None, ticket_id: Optional[int] = None) -> RatingInfo:
        if kind not in KINDS:
            raise FeedbackError("bad_kind")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise FeedbackError("bad_score")
        with Session(self.engine) as session, session.begin():
            row = m.Rating(kind=kind, channel=channel, person=person_ref(channel, sender), ticket_id=ticket_id,
                           matter_code=(matter_code or None) and matter_code[:40], score=score,
                           comment=_clean(comment, MAX_COMMENT), created_at=self.clock())
            session.add(row)
            session.flush()
            return _rating_info(row)

    def rate_human_help(self, channel: str, sender: str, score: int, comment: Optional[str] = None,
                        window_hours: int = 24) -> RatingInfo:
        """A rating of a helper: kept on the person's latest ticket a helper handled recently (if any)."""
        since = self.clock() - timedelta(hours=window_hours)
        with Session(self.engine) as session:
            ticket = session.scalars(select(m.Ticket).where(
                m.Ticket.channel == channel, m.Ticket.sender == sender, m.Ticket.claimed_at.is_not(None),
                or_(m.Ticket.status == m.ACTIVE, m.Ticket.closed_at >= since))
                .order_by(m.Ticket.id.desc())).first()
            ticket_id, matter = (ticket.id, ticket.matter_code) if ticket else (None, None)
        return self.add_rating(m.HUMAN_KIND, channel, sender, score, comment, matter, ticket_id)

    def set_comment(self, rating_id: int, channel: str, sender: str, comment: str) -> bool:
        """The optional comment, given after the score; only the person who rated may add it."""
        text = _clean(comment, MAX_COMMENT)
        if not text:
            raise FeedbackError("empty")
        with Session(self.engine) as session, session.begin():
            result = session.execute(update(m.Rating).where(
                m.Rating.id == rating_id, m.Rating.person == person_ref(channel, sender))
                .values(comment=text).execution_options(synchronize_session=False))
            return result.rowcount == 1

    def ratings(self, since: Optional[datetime] = None, limit: int = 200) -> List[RatingInfo]:
        with Session(self.engine) as session:
            query = select(m.Rating).order_by(m.Rating.id.desc()).limit(limit)
            if since is not None:
                query = query.where(m.Rating.created_at >= since)
            return [_rating_info(r) for r in session.scalars(query)]

    # -- complaints ----------------------------------------------------------------------------------

    def add_complaint(self, channel: str, sender: str, detail: str, phone: str, matter_code: Optional[str] = None,
                      matter_text: Optional[str] = None) -> ComplaintInfo:
        """Store a complaint under the next reference of the local day (BBCS-20261207-0007)."""
        detail = _clean(detail, MAX_DETAIL)
        phone = _clean(phone, 40)
        if not detail or not phone:
            raise FeedbackError("incomplete")
        now = self.clock()
        day = now.replace(tzinfo=timezone.utc).astimezone(self.tz).strftime("%Y%m%d")
        # Each round one of the writers racing for a number wins: enough rounds for that many at once (several
        # web and action processes on PostgreSQL), with a little jitter so that losers do not collide again.
        for attempt in range(COMPLAINT_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.005 * min(attempt, 10)))
            try:
                with Session(self.engine) as session, session.begin():
                    seq = int(session.scalar(select(func.max(m.Complaint.seq)).where(m.Complaint.day == day)) or 0) + 1
                    row = m.Complaint(day=day, seq=seq, reference=f"{REFERENCE_PREFIX}-{day}-{seq:04d}",
                                      channel=channel, sender=sender, matter_code=matter_code or None,
                                      matter_text=_clean(matter_text, 200), detail=detail, phone=phone,
                                      created_at=now)
                    session.add(row)
                    session.flush()
                    return _complaint_info(row)
            except IntegrityError:
                continue  # another complaint took this number at the same moment: take the next one
        raise FeedbackError("conflict")

    def attach_ticket(self, complaint_id: int, ticket_id: int) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(update(m.Complaint).where(m.Complaint.id == complaint_id).values(ticket_id=ticket_id)
                            .execution_options(synchronize_session=False))

    def complaints(self, since: Optional[datetime] = None, limit: int = 200,
                   without_ticket: bool = False) -> List[ComplaintInfo]:
        with Session(self.engine) as session:
            query = select(m.Complaint).order_by(m.Complaint.id.desc()).limit(limit)
            if since is not None:
                query = query.where(m.Complaint.created_at >= since)
            if without_ticket:
                query = query.where(m.Complaint.ticket_id.is_(None))
            return [_complaint_info(c) for c in session.scalars(query)]

    def complaint(self, reference: str) -> Optional[ComplaintInfo]:
        with Session(self.engine) as session:
            row = session.scalars(select(m.Complaint).where(m.Complaint.reference == reference)).first()
            return _complaint_info(row) if row else None
