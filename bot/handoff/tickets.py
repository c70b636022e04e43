"""Tickets: opened by a person, claimed, transferred and closed by helpers."""
from __future__ import annotations

import logging
from typing import Callable, List, Optional

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import models as m
from bot.limits import clean_text
from .records import (
    MAX_TRANSCRIPT,
    REASONS,
    ClaimResult,
    HandoffError,
    HelperInfo,
    NoteInfo,
    TicketInfo,
)

logger = logging.getLogger(__name__)


class TicketsMixin:
    """Part of HandoffService (bot/handoff/service.py), which provides engine, config, clock and conversions."""

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
