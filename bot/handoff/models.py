"""SQL tables of the handoff (帮办代办): tickets, their messages, assignments, helpers, queues, notes, ratings.

Own declarative Base, so the catalog loader (which clears only its own tables) never touches these.
All times are naive UTC.
"""
from __future__ import annotations

from sqlalchemy import (JSON, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text, text)
from sqlalchemy.orm import declarative_base

Base = declarative_base()

# Ticket status. "collecting": out of hours, the bot is still taking the message and the callback number;
# "waiting": in the queue; "active": a helper has it; "closed": done (resolution says how).
COLLECTING, WAITING, ACTIVE, CLOSED = "collecting", "waiting", "active", "closed"
OPEN_STATUSES = (COLLECTING, WAITING, ACTIVE)
# Ticket mode. "live": the person waits in the chat; "callback": they left a message and a phone number.
LIVE, CALLBACK = "live", "callback"

# Message authors. "notice": a sentence of the handoff itself (claimed, transferred, ...), shown to the person.
PERSON, HELPER, BOT, NOTICE = "person", "helper", "bot", "notice"
PERSON_VISIBLE = (HELPER, BOT, NOTICE)

_OPEN_SQL = "status IN ('collecting', 'waiting', 'active')"


class Queue(Base):
    __tablename__ = "handoff_queue"
    code = Column(String(40), primary_key=True)
    name = Column(String(100), nullable=False)
    priority = Column(Integer, nullable=False, default=0)
    position = Column(Integer, nullable=False, default=0)


class Helper(Base):
    __tablename__ = "handoff_helper"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(64), nullable=False)
    staff_no = Column(String(32), nullable=False)  # 工号
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False, default="helper")  # "helper" | "supervisor" | "trainer"
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False)
    # On duty while a console of theirs is connected (kept fresh by its WebSocket heartbeat).
    on_duty_until = Column(DateTime)


class HelperQueue(Base):
    __tablename__ = "handoff_helper_queue"
    helper_id = Column(Integer, ForeignKey("handoff_helper.id", ondelete="CASCADE"), primary_key=True)
    queue_code = Column(String(40), primary_key=True)


class ConsoleSession(Base):
    __tablename__ = "handoff_session"
    token_hash = Column(String(64), primary_key=True)  # sha256 of the cookie value; the value itself is not stored
    helper_id = Column(Integer, ForeignKey("handoff_helper.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)


class Ticket(Base):
    __tablename__ = "handoff_ticket"
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    sender = Column(String(128), nullable=False)
    status = Column(String(16), nullable=False)
    mode = Column(String(16), nullable=False, default=LIVE)
    reason = Column(String(32), nullable=False)
    offline_reason = Column(String(32))  # "out_of_hours" | "no_helper" when the ticket became a callback
    queue_code = Column(String(40), nullable=False)
    priority = Column(Integer, nullable=False, default=0)
    matter_code = Column(String(40))
    matter_name = Column(String(200))
    situation = Column(JSON)
    summary = Column(Text)
    transcript = Column(JSON)
    problem = Column(Text)  # 办不成事: what the person reported
    left_message = Column(Text)
    callback_phone = Column(String(40))
    helper_id = Column(Integer, ForeignKey("handoff_helper.id"))
    created_at = Column(DateTime, nullable=False)
    queued_at = Column(DateTime)
    claimed_at = Column(DateTime)
    closed_at = Column(DateTime)
    resolution = Column(String(40))
    # Rasa is paused for this person while a helper talks; resuming it is retried until Rasa confirms.
    bot_paused = Column(Boolean, nullable=False, default=False)
    resume_pending = Column(Boolean, nullable=False, default=False)
    resume_intent = Column(String(64))

    __table_args__ = (
        # At most one open ticket per person and channel, whatever the races.
        Index("uq_handoff_ticket_open", "channel", "sender", unique=True,
              sqlite_where=text(_OPEN_SQL), postgresql_where=text(_OPEN_SQL)),
        Index("ix_handoff_ticket_queue_status", "queue_code", "status"),
        Index("ix_handoff_ticket_sender", "channel", "sender"),
        Index("ix_handoff_ticket_created", "created_at"),
    )


class Message(Base):
    __tablename__ = "handoff_message"
    id = Column(Integer, primary_key=True)  # also the catch-up cursor of the person's page
    ticket_id = Column(Integer, ForeignKey("handoff_ticket.id", ondelete="CASCADE"), nullable=False, index=True)
    author = Column(String(16), nullable=False)
    helper_id = Column(Integer, ForeignKey("handoff_helper.id"))
    text = Column(Text, nullable=False)
    extra = Column(JSON)  # buttons of a bot message
    created_at = Column(DateTime, nullable=False)


class Assignment(Base):
    """Every change of who or which queue has a ticket, in order."""

    __tablename__ = "handoff_assignment"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("handoff_ticket.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = Column(String(24), nullable=False)  # queued | claim | transfer_queue | transfer_helper | close | ...
    queue_code = Column(String(40))
    helper_id = Column(Integer, ForeignKey("handoff_helper.id"))
    by_helper_id = Column(Integer, ForeignKey("handoff_helper.id"))
    at = Column(DateTime, nullable=False)


class Note(Base):
    __tablename__ = "handoff_note"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("handoff_ticket.id", ondelete="CASCADE"), nullable=False, index=True)
    helper_id = Column(Integer, ForeignKey("handoff_helper.id"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)


# ---- 好差评 and 办不成事 (ratings, complaints) ----
# Ratings of both kinds in one table: "bot" (the assistant's answers) and "human" (a helper's help, on the ticket).
BOT_KIND, HUMAN_KIND = "bot", "human"


class Rating(Base):
    __tablename__ = "service_rating"
    id = Column(Integer, primary_key=True)
    kind = Column(String(8), nullable=False)
    channel = Column(String(32), nullable=False)
    person = Column(String(32), nullable=False)  # opaque reference (a hash of channel and sender)
    ticket_id = Column(Integer, ForeignKey("handoff_ticket.id", ondelete="SET NULL"), index=True)
    matter_code = Column(String(40))
    score = Column(Integer, nullable=False)  # 1 (非常不满意) .. 5 (非常满意)
    comment = Column(Text)
    created_at = Column(DateTime, nullable=False)

    __table_args__ = (Index("ix_service_rating_created", "created_at"),)


class Complaint(Base):
    """办不成事: what the person reported, with a reference number that is unique per local day."""

    __tablename__ = "complaint"
    id = Column(Integer, primary_key=True)
    day = Column(String(8), nullable=False)  # local date YYYYMMDD of the reference
    seq = Column(Integer, nullable=False)
    reference = Column(String(32), nullable=False, unique=True)  # BBCS-YYYYMMDD-NNNN
    channel = Column(String(32), nullable=False)
    sender = Column(String(128), nullable=False)  # to reach the person's chat; shown masked
    matter_code = Column(String(40))
    matter_text = Column(String(200))  # the matter as the person named it, when the catalog had no match
    detail = Column(Text, nullable=False)
    phone = Column(String(40), nullable=False)  # full for the staff who call back; masked in lists and logs
    ticket_id = Column(Integer, ForeignKey("handoff_ticket.id", ondelete="SET NULL"))
    created_at = Column(DateTime, nullable=False)

    __table_args__ = (Index("uq_complaint_day_seq", "day", "seq", unique=True),)


class IdleTimer(Base):
    """When to ask a quiet person for a 好差评 rating: in SQL, so a web process restart forgets nothing and
    exactly one of several web processes asks (it claims the row: UPDATE ... WHERE fired_at IS NULL)."""

    __tablename__ = "rating_idle_timer"
    channel = Column(String(32), primary_key=True)
    sender = Column(String(128), primary_key=True)
    due_at = Column(DateTime, nullable=False, index=True)
    fired_at = Column(DateTime)  # set by the process that asks; the row goes when the person writes again
