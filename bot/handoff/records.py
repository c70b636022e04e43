"""The handoff's detached records (what every service method returns) and its error."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import FrozenSet, List, Optional

from . import models as m

MAX_TRANSCRIPT = 200
SUPERVISOR, HELPER_ROLE = "supervisor", "helper"
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
