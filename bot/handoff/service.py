"""The handoff service: tickets, queues, helpers and console sessions in SQL.

Synchronous and stateless: every method is one short unit of work (its own session and transaction) and
returns detached dataclasses. Races between processes or coroutines are settled by the database: one open
ticket per person (a partial unique index) and claims by a conditional UPDATE.
"""
from __future__ import annotations

import hashlib
import logging
import math
import secrets
import statistics
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from . import models as m
from .cleaning import clean_text
from .config import HandoffConfig
from .feedback import FeedbackError, FeedbackStore
from .passwords import DUMMY_HASH, hash_password, verify_password
from .routing import QueueRouter

logger = logging.getLogger(__name__)

MAX_TRANSCRIPT = 200
SUPERVISOR, HELPER_ROLE, TRAINER = "supervisor", "helper", "trainer"
# Trainers work on the bot's understanding (/console/train); they take no tickets unless given queues.
ROLES = (HELPER_ROLE, SUPERVISOR, TRAINER)
REASONS = ("request_human", "complain", "fallback", "assisted", "low_rating")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def mask_sender(sender: str) -> str:
    """A person id as helpers see it: enough to tell two apart, not enough to impersonate."""
    if len(sender) <= 6:
        return "*" * len(sender)
    return f"{sender[:4]}****{sender[-2:]}"


class HandoffError(Exception):
    """An operation that is not allowed in the ticket's current state or for this helper."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# -- detached views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HelperInfo:
    id: int
    username: str
    display_name: str
    staff_no: str
    role: str
    active: bool
    queues: FrozenSet[str]

    @property
    def supervisor(self) -> bool:
        return self.role == SUPERVISOR

    @property
    def can_train(self) -> bool:
        """May open the trainer's workbench (/console/train): trainers and supervisors, not helpers."""
        return self.role in (TRAINER, SUPERVISOR)

    def can_see(self, queue_code: str, helper_id: Optional[int]) -> bool:
        return self.supervisor or queue_code in self.queues or helper_id == self.id


@dataclass(frozen=True)
class TicketInfo:
    id: int
    channel: str
    sender: str
    status: str
    mode: str
    reason: str
    offline_reason: Optional[str]
    queue_code: str
    queue_name: str
    priority: int
    priority_label: str
    matter_code: Optional[str]
    matter_name: Optional[str]
    situation: Optional[dict]
    summary: Optional[str]
    problem: Optional[str]
    left_message: Optional[str]
    callback_phone: Optional[str]
    helper_id: Optional[int]
    helper_name: Optional[str]
    helper_staff_no: Optional[str]
    created_at: datetime
    queued_at: Optional[datetime]
    claimed_at: Optional[datetime]
    closed_at: Optional[datetime]
    resolution: Optional[str]
    bot_paused: bool
    resume_pending: bool
    resume_intent: Optional[str]
    position: Optional[int] = None
    minutes: Optional[int] = None

    @property
    def is_open(self) -> bool:
        return self.status in m.OPEN_STATUSES

    @property
    def routed(self) -> bool:
        """The person's messages go to the helper (not to the bot)."""
        return self.status == m.ACTIVE or (self.status == m.WAITING and self.mode == m.LIVE)


@dataclass(frozen=True)
class MessageInfo:
    id: int
    ticket_id: int
    author: str
    text: str
    helper_name: Optional[str]
    helper_staff_no: Optional[str]
    extra: Optional[dict]
    created_at: datetime


@dataclass(frozen=True)
class NoteInfo:
    id: int
    ticket_id: int
    helper_name: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class ClaimResult:
    won: bool
    ticket: Optional[TicketInfo]


@dataclass
class QueueStats:
    queue_code: str
    queue_name: str
    tickets: int = 0
    waiting: int = 0
    active: int = 0
    closed: int = 0
    median_wait_s: Optional[float] = None
    median_handle_s: Optional[float] = None
    ratings: int = 0
    rating_avg: Optional[float] = None
    waits: List[float] = field(default_factory=list, repr=False)
    handles: List[float] = field(default_factory=list, repr=False)
    scores: List[int] = field(default_factory=list, repr=False)

    def finish(self) -> "QueueStats":
        self.median_wait_s = statistics.median(self.waits) if self.waits else None
        self.median_handle_s = statistics.median(self.handles) if self.handles else None
        self.ratings = len(self.scores)
        self.rating_avg = sum(self.scores) / len(self.scores) if self.scores else None
        return self


class HandoffService:
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

    def on_duty(self, queue_code: str) -> int:
        with Session(self.engine) as session:
            return self._on_duty(session, queue_code, self.clock())

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

    # -- tickets: the person's side ------------------------------------------------------------------

    def request(self, channel: str, sender: str, reason: str, matter_code: Optional[str] = None,
                situation: Optional[dict] = None, summary: str = "", transcript: Optional[list] = None,
                problem: Optional[str] = None, callback_phone: Optional[str] = None) -> TicketInfo:
        """Open a ticket for a person, or return the one they already have (idempotent)."""
        if reason not in REASONS:
            reason = "request_human"
        now = self.clock()
        facts = self.router.matter(matter_code)
        queue_code = self.router.queue_for(facts)
        queue = self.config.queue(queue_code)
        priority = (queue.priority if queue else 0) + self.config.reason_priority.get(reason, 0)
        offline = self.is_open(queue_code)
        transcript = list(transcript or [])[-MAX_TRANSCRIPT:]
        for attempt in range(3):
            try:
                with Session(self.engine) as session, session.begin():
                    existing = session.scalars(select(m.Ticket).where(
                        m.Ticket.channel == channel, m.Ticket.sender == sender,
                        m.Ticket.status.in_(m.OPEN_STATUSES))).first()
                    if existing is not None:
                        self._refresh_context(existing, reason, facts, situation, summary, transcript, problem)
                        if callback_phone:
                            existing.callback_phone = clean_text(callback_phone, 40)
                        if offline is None and existing.mode == m.CALLBACK and existing.status != m.ACTIVE:
                            # Helpers are back: the person who asks again now waits live.
                            existing.mode, existing.status, existing.offline_reason = m.LIVE, m.WAITING, None
                            existing.bot_paused = True
                            existing.queued_at = existing.queued_at or now
                        session.flush()
                        ticket = existing
                    else:
                        ticket = m.Ticket(
                            channel=channel, sender=sender, reason=reason, queue_code=queue_code, priority=priority,
                            status=m.WAITING if offline is None else m.COLLECTING,
                            mode=m.LIVE if offline is None else m.CALLBACK, offline_reason=offline,
                            matter_code=facts.code if facts else None, matter_name=facts.name if facts else None,
                            situation=situation or None, summary=clean_text(summary or "", 4000),
                            transcript=transcript, problem=clean_text(problem, 4000) if problem else None,
                            callback_phone=clean_text(callback_phone, 40) if callback_phone else None,
                            created_at=now, queued_at=now if offline is None else None,
                            bot_paused=offline is None)
                        session.add(ticket)
                        session.flush()
                        session.add(m.Assignment(ticket_id=ticket.id, kind="queued", queue_code=queue_code, at=now))
                    helper = session.get(m.Helper, ticket.helper_id) if ticket.helper_id else None
                    info = self._info(ticket, helper)
                    return self._with_position(session, info, now)
            except IntegrityError:
                # Another request for the same person won the race; the next attempt returns its ticket.
                logger.info("concurrent handoff request for the same person; using the existing ticket")
        raise HandoffError("conflict")

    @staticmethod
    def _refresh_context(ticket: m.Ticket, reason, facts, situation, summary, transcript, problem) -> None:
        if facts and not ticket.matter_code:
            ticket.matter_code, ticket.matter_name = facts.code, facts.name
        if situation:
            ticket.situation = situation
        if summary:
            ticket.summary = clean_text(summary, 4000)
        if transcript:
            ticket.transcript = transcript
        if problem:
            ticket.problem = clean_text(problem, 4000)
        if reason == "complain":
            ticket.reason = reason

    def leave_message(self, ticket_id: int, message: str, phone: str) -> TicketInfo:
        """The out-of-hours form is done: the ticket waits for the next helper as a callback."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            ticket = session.get(m.Ticket, ticket_id)
            if ticket is None or ticket.status not in m.OPEN_STATUSES:
                raise HandoffError("not_found")
            ticket.left_message = clean_text(message, 4000)
            ticket.callback_phone = clean_text(phone, 40)
            if ticket.status == m.COLLECTING:
                ticket.status, ticket.queued_at = m.WAITING, now
            return self._info(ticket)

    def routed_ticket(self, channel: str, sender: str) -> Optional[TicketInfo]:
        """The person's open ticket when their messages go to a helper, with position if waiting."""
        with Session(self.engine) as session:
            ticket = session.scalars(select(m.Ticket).where(
                m.Ticket.channel == channel, m.Ticket.sender == sender,
                or_(m.Ticket.status == m.ACTIVE, and_(m.Ticket.status == m.WAITING, m.Ticket.mode == m.LIVE)))).first()
            if ticket is None:
                return None
            helper = session.get(m.Helper, ticket.helper_id) if ticket.helper_id else None
            return self._with_position(session, self._info(ticket, helper), self.clock())

    def open_ticket(self, channel: str, sender: str) -> Optional[TicketInfo]:
        with Session(self.engine) as session:
            ticket = session.scalars(select(m.Ticket).where(
                m.Ticket.channel == channel, m.Ticket.sender == sender,
                m.Ticket.status.in_(m.OPEN_STATUSES))).first()
            return self._info(ticket) if ticket else None

    def cancel_by_person(self, channel: str, sender: str) -> Optional[TicketInfo]:
        """The person restarted the conversation: their open ticket is closed, the bot must be resumed."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            ticket = session.scalars(select(m.Ticket).where(
                m.Ticket.channel == channel, m.Ticket.sender == sender,
                m.Ticket.status.in_(m.OPEN_STATUSES))).first()
            if ticket is None:
                return None
            ticket.status, ticket.closed_at, ticket.resolution = m.CLOSED, now, "cancelled"
            ticket.resume_pending, ticket.resume_intent = bool(ticket.bot_paused), None
            session.add(m.Assignment(ticket_id=ticket.id, kind="cancel", queue_code=ticket.queue_code, at=now))
            return self._info(ticket)

    # -- messages ------------------------------------------------------------------------------------

    def _message(self, session: Session, ticket_id: int, author: str, text: str,
                 helper: Optional[m.Helper] = None, extra: Optional[dict] = None) -> MessageInfo:
        row = m.Message(ticket_id=ticket_id, author=author, helper_id=helper.id if helper else None,
                        text=text, extra=extra, created_at=self.clock())
        session.add(row)
        session.flush()
        return MessageInfo(id=row.id, ticket_id=ticket_id, author=author, text=text,
                           helper_name=helper.display_name if helper else None,
                           helper_staff_no=helper.staff_no if helper else None, extra=extra,
                           created_at=row.created_at)

    def add_person_message(self, ticket_id: int, text: str) -> MessageInfo:
        text = clean_text(text)
        if not text:
            raise HandoffError("empty")
        with Session(self.engine) as session, session.begin():
            ticket = session.get(m.Ticket, ticket_id)
            if ticket is None or ticket.status not in m.OPEN_STATUSES:
                raise HandoffError("not_open")
            return self._message(session, ticket_id, m.PERSON, text)

    def add_helper_message(self, ticket_id: int, helper: HelperInfo, text: str) -> tuple:
        """(MessageInfo, TicketInfo): only the helper who has the ticket writes to the person."""
        text = clean_text(text)
        if not text:
            raise HandoffError("empty")
        with Session(self.engine) as session, session.begin():
            ticket = session.get(m.Ticket, ticket_id)
            if ticket is None or not helper.can_see(ticket.queue_code, ticket.helper_id):
                raise HandoffError("not_found")
            if ticket.status != m.ACTIVE or ticket.helper_id != helper.id:
                raise HandoffError("not_yours")
            row = session.get(m.Helper, helper.id)
            return self._message(session, ticket_id, m.HELPER, text, row), self._info(ticket, row)

    def add_notice(self, ticket_id: int, text: str, author: str = m.NOTICE,
                   extra: Optional[dict] = None) -> MessageInfo:
        with Session(self.engine) as session, session.begin():
            return self._message(session, ticket_id, author, text, extra=extra)

    def _message_infos(self, session: Session, rows: Sequence[m.Message]) -> List[MessageInfo]:
        helpers = self._helpers_by_id(session, (r.helper_id for r in rows))
        out = []
        for r in rows:
            h = helpers.get(r.helper_id)
            out.append(MessageInfo(id=r.id, ticket_id=r.ticket_id, author=r.author, text=r.text,
                                   helper_name=h.display_name if h else None, helper_staff_no=h.staff_no if h else None,
                                   extra=r.extra, created_at=r.created_at))
        return out

    def messages(self, ticket_id: int, after_id: int = 0) -> List[MessageInfo]:
        with Session(self.engine) as session:
            rows = session.scalars(select(m.Message).where(m.Message.ticket_id == ticket_id, m.Message.id > after_id)
                                   .order_by(m.Message.id)).all()
            return self._message_infos(session, rows)

    def person_messages_after(self, channel: str, sender: str, after_id: int, limit: int = 500) -> List[MessageInfo]:
        """What the person should see (helper messages, notices, the bot after hand-back) since a cursor."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(m.Message).join(m.Ticket, m.Ticket.id == m.Message.ticket_id)
                .where(m.Ticket.channel == channel, m.Ticket.sender == sender, m.Message.id > after_id,
                       m.Message.author.in_(m.PERSON_VISIBLE))
                .order_by(m.Message.id).limit(limit)).all()
            return self._message_infos(session, rows)

    def transcript(self, ticket_id: int) -> list:
        with Session(self.engine) as session:
            ticket = session.get(m.Ticket, ticket_id)
            return list(ticket.transcript or []) if ticket else []

    # -- tickets: the helper's side ------------------------------------------------------------------

    def ticket(self, ticket_id: int, helper: Optional[HelperInfo] = None) -> Optional[TicketInfo]:
        """The ticket, or None when it does not exist or this helper may not see it."""
        with Session(self.engine) as session:
            t = session.get(m.Ticket, ticket_id)
            if t is None or (helper is not None and not helper.can_see(t.queue_code, t.helper_id)):
                return None
            h = session.get(m.Helper, t.helper_id) if t.helper_id else None
            return self._with_position(session, self._info(t, h), self.clock())

    def claim(self, ticket_id: int, helper: HelperInfo) -> ClaimResult:
        """Atomic: of two helpers claiming the same waiting ticket, exactly one wins."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            t = session.get(m.Ticket, ticket_id)
            if t is None or not helper.can_see(t.queue_code, t.helper_id):
                raise HandoffError("not_found")
            result = session.execute(
                update(m.Ticket)
                .where(m.Ticket.id == ticket_id, m.Ticket.status == m.WAITING)
                .values(status=m.ACTIVE, helper_id=helper.id, claimed_at=func.coalesce(m.Ticket.claimed_at, now),
                        bot_paused=True)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                return ClaimResult(False, None)
            session.add(m.Assignment(ticket_id=ticket_id, kind="claim", queue_code=t.queue_code, helper_id=helper.id,
                                     by_helper_id=helper.id, at=now))
        return ClaimResult(True, self.ticket(ticket_id))

    def _guarded_update(self, ticket_id: int, helper: HelperInfo, allowed: Callable[[m.Ticket], bool],
                        values: dict, kind: str, target_helper: Optional[int] = None) -> TicketInfo:
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            t = session.get(m.Ticket, ticket_id)
            if t is None or not helper.can_see(t.queue_code, t.helper_id):
                raise HandoffError("not_found")
            if not allowed(t):
                raise HandoffError("not_allowed")
            # Conditional on the state just read: a concurrent change makes this a no-op, reported as a conflict.
            result = session.execute(
                update(m.Ticket)
                .where(m.Ticket.id == ticket_id, m.Ticket.status == t.status,
                       m.Ticket.helper_id.is_(None) if t.helper_id is None else m.Ticket.helper_id == t.helper_id,
                       m.Ticket.queue_code == t.queue_code)
                .values(**values).execution_options(synchronize_session=False))
            if result.rowcount != 1:
                raise HandoffError("conflict")
            session.add(m.Assignment(ticket_id=ticket_id, kind=kind, queue_code=values.get("queue_code", t.queue_code),
                                     helper_id=target_helper, by_helper_id=helper.id, at=now))
        return self.ticket(ticket_id)

    def _may_manage(self, helper: HelperInfo, t: m.Ticket) -> bool:
        """The assigned helper and supervisors manage an active ticket; anyone who sees a waiting one may."""
        if t.status == m.ACTIVE:
            return helper.supervisor or t.helper_id == helper.id
        return t.status in (m.WAITING, m.COLLECTING)

    def transfer_to_queue(self, ticket_id: int, helper: HelperInfo, queue_code: str) -> TicketInfo:
        if self.config.queue(queue_code) is None:
            raise HandoffError("unknown_queue")
        queue = self.config.queue(queue_code)
        with Session(self.engine) as session:
            current = session.get(m.Ticket, ticket_id)
            extra = 0
            if current is not None:
                old = self.config.queue(current.queue_code)
                extra = max(0, current.priority - (old.priority if old else 0))
        # A transferred callback stays a callback; a live one waits live in the new queue.
        return self._guarded_update(
            ticket_id, helper, lambda t: self._may_manage(helper, t) and t.status != m.COLLECTING,
            {"status": m.WAITING, "helper_id": None, "queue_code": queue_code, "priority": queue.priority + extra},
            "transfer_queue")

    def transfer_to_helper(self, ticket_id: int, helper: HelperInfo, target_id: int) -> TicketInfo:
        with Session(self.engine) as session:
            target = session.get(m.Helper, target_id)
            if target is None or not target.active:
                raise HandoffError("unknown_helper")
        now = self.clock()
        return self._guarded_update(
            ticket_id, helper, lambda t: self._may_manage(helper, t) and t.status != m.COLLECTING,
            {"status": m.ACTIVE, "helper_id": target_id, "claimed_at": func.coalesce(m.Ticket.claimed_at, now),
             "bot_paused": True},
            "transfer_helper", target_helper=target_id)

    def close(self, ticket_id: int, helper: HelperInfo, resolution: str, handback: bool = False) -> TicketInfo:
        """Close with a resolution. If the bot was paused for the person, resuming it becomes pending."""
        if not any(r.code == resolution for r in self.config.resolutions):
            raise HandoffError("unknown_resolution")
        with Session(self.engine) as session:
            t = session.get(m.Ticket, ticket_id)
            paused = bool(t.bot_paused) if t else False
        intent = ("EXTERNAL_handoff_returned" if handback else "EXTERNAL_handoff_closed") if paused else None
        return self._guarded_update(
            ticket_id, helper, lambda t: self._may_manage(helper, t),
            {"status": m.CLOSED, "closed_at": self.clock(), "resolution": resolution,
             "resume_pending": paused, "resume_intent": intent},
            "handback" if handback else "close")

    def add_note(self, ticket_id: int, helper: HelperInfo, text: str) -> NoteInfo:
        text = clean_text(text)
        if not text:
            raise HandoffError("empty")
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            t = session.get(m.Ticket, ticket_id)
            if t is None or not helper.can_see(t.queue_code, t.helper_id):
                raise HandoffError("not_found")
            note = m.Note(ticket_id=ticket_id, helper_id=helper.id, text=text, created_at=now)
            session.add(note)
            session.flush()
            return NoteInfo(id=note.id, ticket_id=ticket_id, helper_name=helper.display_name, text=text,
                            created_at=now)

    def notes(self, ticket_id: int) -> List[NoteInfo]:
        with Session(self.engine) as session:
            rows = session.scalars(select(m.Note).where(m.Note.ticket_id == ticket_id).order_by(m.Note.id)).all()
            helpers = self._helpers_by_id(session, (r.helper_id for r in rows))
            return [NoteInfo(id=r.id, ticket_id=r.ticket_id, helper_name=helpers[r.helper_id].display_name,
                             text=r.text, created_at=r.created_at) for r in rows]

    # -- resuming the bot ----------------------------------------------------------------------------

    def pending_resumes(self, limit: int = 50) -> List[TicketInfo]:
        with Session(self.engine) as session:
            rows = session.scalars(select(m.Ticket).where(m.Ticket.resume_pending.is_(True))
                                   .order_by(m.Ticket.closed_at).limit(limit)).all()
            return [self._info(t) for t in rows]

    def pending_resume_for(self, channel: str, sender: str) -> Optional[TicketInfo]:
        with Session(self.engine) as session:
            t = session.scalars(select(m.Ticket).where(m.Ticket.channel == channel, m.Ticket.sender == sender,
                                                       m.Ticket.resume_pending.is_(True))).first()
            return self._info(t) if t else None

    def clear_resume_intent(self, ticket_id: int) -> None:
        """The person was told another way; resuming later must not make the bot say it again."""
        with Session(self.engine) as session, session.begin():
            session.execute(update(m.Ticket).where(m.Ticket.id == ticket_id).values(resume_intent=None)
                            .execution_options(synchronize_session=False))

    def mark_resumed(self, ticket_id: int) -> bool:
        """True for the one caller that flips the flag (so the bot's message is sent once)."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(update(m.Ticket).where(m.Ticket.id == ticket_id, m.Ticket.resume_pending.is_(True))
                                     .values(resume_pending=False, bot_paused=False)
                                     .execution_options(synchronize_session=False))
            return result.rowcount == 1

    # -- lists and the dashboard ---------------------------------------------------------------------

    def _visible(self, helper: HelperInfo):
        if helper.supervisor:
            return True
        return or_(m.Ticket.queue_code.in_(sorted(helper.queues)), m.Ticket.helper_id == helper.id)

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

    def record_rating(self, channel: str, sender: str, score: int, comment: Optional[str] = None) -> Optional[int]:
        """A 好差评 rating of the human help: kept on the person's latest ticket a helper handled recently."""
        return self.rate(m.HUMAN_KIND, channel, sender, score, comment).ticket_id

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

    # -- helpers -------------------------------------------------------------------------------------

    def add_helper(self, username: str, display_name: str, staff_no: str, password: str,
                   queues: Iterable[str] = (), role: str = HELPER_ROLE) -> HelperInfo:
        username = username.strip()
        if not username or len(username) > 64 or not username.isprintable() or " " in username:
            raise HandoffError("bad_username")
        if role not in ROLES:
            raise HandoffError("bad_role")
        queues = self._check_queues(queues)
        password_hash = hash_password(password)
        with Session(self.engine) as session, session.begin():
            if session.scalars(select(m.Helper).where(m.Helper.username == username)).first():
                raise HandoffError("username_taken")
            helper = m.Helper(username=username, display_name=display_name.strip() or username,
                              staff_no=staff_no.strip(), password_hash=password_hash, role=role, active=True,
                              created_at=self.clock())
            session.add(helper)
            session.flush()
            for code in queues:
                session.add(m.HelperQueue(helper_id=helper.id, queue_code=code))
            session.flush()
            return self._helper_info(session, helper)

    def _check_queues(self, queues: Iterable[str]) -> List[str]:
        codes = sorted({q.strip() for q in queues if q.strip()})
        unknown = [c for c in codes if self.config.queue(c) is None]
        if unknown:
            raise HandoffError("unknown_queue:" + ",".join(unknown))
        return codes

    def _helper_row(self, session: Session, username: str) -> m.Helper:
        helper = session.scalars(select(m.Helper).where(m.Helper.username == username)).first()
        if helper is None:
            raise HandoffError("unknown_helper")
        return helper

    def set_password(self, username: str, password: str) -> None:
        password_hash = hash_password(password)
        with Session(self.engine) as session, session.begin():
            helper = self._helper_row(session, username)
            helper.password_hash = password_hash
            # A new password ends every session of the old one.
            session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.helper_id == helper.id))

    def set_queues(self, username: str, queues: Iterable[str]) -> HelperInfo:
        codes = self._check_queues(queues)
        with Session(self.engine) as session, session.begin():
            helper = self._helper_row(session, username)
            session.execute(delete(m.HelperQueue).where(m.HelperQueue.helper_id == helper.id))
            for code in codes:
                session.add(m.HelperQueue(helper_id=helper.id, queue_code=code))
            session.flush()
            return self._helper_info(session, helper)

    def set_active(self, username: str, active: bool) -> None:
        with Session(self.engine) as session, session.begin():
            helper = self._helper_row(session, username)
            helper.active = active
            if not active:
                session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.helper_id == helper.id))

    def helpers(self) -> List[HelperInfo]:
        with Session(self.engine) as session:
            rows = session.scalars(select(m.Helper).order_by(m.Helper.username)).all()
            return [self._helper_info(session, h) for h in rows]

    def helper(self, helper_id: int) -> Optional[HelperInfo]:
        with Session(self.engine) as session:
            h = session.get(m.Helper, helper_id)
            return self._helper_info(session, h) if h else None

    def authenticate(self, username: str, password: str) -> Optional[HelperInfo]:
        with Session(self.engine) as session:
            helper = session.scalars(select(m.Helper).where(m.Helper.username == username.strip())).first()
            stored = helper.password_hash if helper is not None else DUMMY_HASH
            # Always hash, so an unknown name takes as long as a wrong password.
            ok = verify_password(password, stored)
            if helper is None or not ok or not helper.active:
                return None
            return self._helper_info(session, helper)

    def set_on_duty(self, helper_id: int, seconds: Optional[float]) -> None:
        """On duty for this many seconds from now; None: off duty now."""
        now = self.clock()
        until = now + timedelta(seconds=seconds) if seconds else now
        with Session(self.engine) as session, session.begin():
            session.execute(update(m.Helper).where(m.Helper.id == helper_id).values(on_duty_until=until)
                            .execution_options(synchronize_session=False))

    # -- console sessions ----------------------------------------------------------------------------

    @staticmethod
    def _token_hash(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def create_session(self, helper_id: int, minutes: int) -> tuple:
        """A new session: (cookie token, CSRF token). Only a hash of the cookie token is stored."""
        now = self.clock()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with Session(self.engine) as session, session.begin():
            session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.expires_at < now))
            session.add(m.ConsoleSession(token_hash=self._token_hash(token), helper_id=helper_id, csrf_token=csrf,
                                         created_at=now, expires_at=now + timedelta(minutes=minutes)))
        return token, csrf

    def session(self, token: str, minutes: int) -> Optional[tuple]:
        """(HelperInfo, CSRF token) for a valid session; the session is extended (sliding expiry)."""
        if not token or len(token) > 100:
            return None
        now = self.clock()
        token_hash = self._token_hash(token)
        with Session(self.engine) as session:
            row = session.get(m.ConsoleSession, token_hash)
            if row is None or row.expires_at <= now:
                return None
            helper = session.get(m.Helper, row.helper_id)
            if helper is None or not helper.active:
                return None
            found = self._helper_info(session, helper), row.csrf_token
            new_expiry = now + timedelta(minutes=minutes)
            if (new_expiry - row.expires_at).total_seconds() > 60:  # sliding expiry, written at most once a minute
                session.execute(update(m.ConsoleSession).where(m.ConsoleSession.token_hash == token_hash)
                                .values(expires_at=new_expiry).execution_options(synchronize_session=False))
                session.commit()
            return found

    def end_session(self, token: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.token_hash == self._token_hash(token)))
