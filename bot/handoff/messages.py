"""A ticket's messages and notes, and handing the conversation back to the bot."""
from __future__ import annotations

import logging
from typing import List, Optional, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import models as m
from bot.limits import clean_text
from .records import HandoffError, HelperInfo, MessageInfo, TicketInfo

logger = logging.getLogger(__name__)


class MessagesMixin:
    """Part of HandoffService (bot/handoff/service.py), which provides engine, config, clock and conversions."""

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
