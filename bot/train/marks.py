"""Review marks of conversations (tags, reviewed by whom and when, the test story written from it), in the
handoff's SQL database next to the console's accounts. Not training data: the repository's files stay the only
source of that. A conversation is named by its hash (conversations.conversation_id), never by its sender id.
"""
from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional

from sqlalchemy import Column, DateTime, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, declarative_base

from knowledge import make_engine

Base = declarative_base()  # own metadata: neither the catalog's nor the handoff's create_all touches it
MAX_TAGS = 10
MAX_TAG = 20


class ReviewMark(Base):
    __tablename__ = "train_review"
    conversation = Column(String(16), primary_key=True)
    tags = Column(String(400), nullable=False, default="")  # "、"-joined
    reviewed_at = Column(DateTime)  # naive UTC
    reviewed_by = Column(String(64))  # the trainer's username
    story = Column(String(200))  # the name of the conversation test written from it
    updated_at = Column(DateTime, nullable=False)


@dataclass(frozen=True)
class Mark:
    conversation: str
    tags: List[str]
    reviewed_at: Optional[dt.datetime]
    reviewed_by: Optional[str]
    story: Optional[str]


def clean_tags(text: str) -> List[str]:
    """Tags as the trainer typed them, separated by commas, 、 or spaces; short and without duplicates."""
    out: List[str] = []
    for tag in re.split(r"[,，、;；\s]+", text or ""):
        tag = tag.strip()[:MAX_TAG]
        if tag and tag not in out:
            out.append(tag)
    return out[:MAX_TAGS]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Marks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            Base.metadata.create_all(engine)
        except OperationalError:  # created by another process at the same moment
            Base.metadata.create_all(engine)

    @staticmethod
    def _mark(row: ReviewMark) -> Mark:
        return Mark(row.conversation, [t for t in (row.tags or "").split("、") if t], row.reviewed_at,
                    row.reviewed_by, row.story)

    def all(self) -> Dict[str, Mark]:
        with Session(self.engine) as session:
            return {row.conversation: self._mark(row) for row in session.scalars(select(ReviewMark))}

    def get(self, conversation: str) -> Optional[Mark]:
        with Session(self.engine) as session:
            row = session.get(ReviewMark, conversation)
            return self._mark(row) if row else None

    def _update(self, conversation: str, change) -> Mark:
        with Session(self.engine) as session, session.begin():
            row = session.get(ReviewMark, conversation)
            if row is None:
                row = ReviewMark(conversation=conversation, tags="")
                session.add(row)
            change(row)
            row.updated_at = _utcnow()
            session.flush()
            return self._mark(row)

    def set_tags(self, conversation: str, tags: List[str]) -> Mark:
        return self._update(conversation, lambda row: setattr(row, "tags", "、".join(tags)))

    def set_reviewed(self, conversation: str, by: Optional[str]) -> Mark:
        """Marked reviewed by `by`, or the mark taken back (None)."""

        def change(row: ReviewMark) -> None:
            row.reviewed_at, row.reviewed_by = (_utcnow(), by) if by else (None, None)

        return self._update(conversation, change)

    def set_story(self, conversation: str, story: str, by: str) -> Mark:
        def change(row: ReviewMark) -> None:
            row.story = story
            if row.reviewed_at is None:  # turning it into a test is reviewing it
                row.reviewed_at, row.reviewed_by = _utcnow(), by

        return self._update(conversation, change)


_OPEN: Dict[str, Marks] = {}
_OPEN_LOCK = threading.Lock()


def open_marks(url: str) -> Marks:
    """One Marks (one engine, tables created once) per database URL in this process."""
    with _OPEN_LOCK:
        found = _OPEN.get(url)
        if found is None:
            found = _OPEN[url] = Marks(make_engine(url))
        return found
