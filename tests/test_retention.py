"""Retention: personal data older than RETENTION_DAYS goes, from Rasa's tracker store and our own tables."""
from __future__ import annotations

import asyncio

from datetime import datetime, timedelta

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, insert, select

from bot.channels.wechat_state import SeenStore, seen_table
from bot.handoff import models as m
from bot.retention import EXPIRED, purge
from bot.settings import Settings

NOW = datetime(2026, 12, 7, 12, 0, 0)


def save_conversation(store: SQLTrackerStore, sender: str, when: datetime, text: str) -> None:
    stamp = when.timestamp()
    tracker = DialogueStateTracker.from_events(sender, [
        ActionExecuted("action_listen", timestamp=stamp),
        UserUttered(text, {"name": "ask_materials", "confidence": 1.0}, timestamp=stamp),
    ])
    asyncio.run(store.save(tracker))


def test_old_personal_data_is_deleted_or_anonymised_and_recent_data_kept(tmp_path):
    settings = Settings.from_env({"TRACKER_DB": str(tmp_path / "tracker.sqlite3"),
                                  "DATABASE_URL": f"sqlite:///{tmp_path / 'records.sqlite3'}",
                                  "RETENTION_DAYS": "30"})
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(settings.tracker_db))
    save_conversation(store, "old-person", NOW - timedelta(days=40), "我叫欧阳娜娜，电话13812345678")
    save_conversation(store, "new-person", NOW - timedelta(days=2), "公积金提取要带什么")

    engine = create_engine(settings.database_url)
    m.Base.metadata.create_all(engine)
    SeenStore(engine, keep_seconds=600)  # creates the WeChat tables too
    old, new = NOW - timedelta(days=40), NOW - timedelta(days=2)
    with engine.begin() as conn:
        for ticket_id, when, status in ((1, old, m.CLOSED), (2, new, m.CLOSED), (3, old, m.WAITING)):
            conn.execute(insert(m.Ticket.__table__).values(
                id=ticket_id, channel="web", sender=f"person-{ticket_id}", status=status, reason="request_human",
                queue_code="zonghe", transcript=[{"text": "我的身份证号130102199001011234"}], summary="摘要",
                left_message="请回电", callback_phone="13812345678", created_at=when,
                closed_at=when if status == m.CLOSED else None))
            conn.execute(insert(m.Message.__table__).values(ticket_id=ticket_id, author="person", text="我叫张三",
                                                            created_at=when))
        for number, when in ((1, old), (2, new)):
            conn.execute(insert(m.Complaint.__table__).values(
                day="20261001", seq=number, reference=f"BBCS-20261001-000{number}", channel="web",
                sender=f"person-{number}", detail="跑了三趟", phone="13812345678", created_at=when))
            conn.execute(insert(m.Rating.__table__).values(kind="bot", channel="web", person=f"p{number}", score=2,
                                                           comment="王五的事没办好", created_at=when))
        conn.execute(insert(seen_table).values(key="msg:1", seen_at=old))

    counts = purge(settings, now=NOW)
    assert counts["conversations"] == 1 and counts["tickets"] == 1 and counts["complaints"] == 1

    assert asyncio.run(store.retrieve("old-person")) is None
    kept = asyncio.run(store.retrieve("new-person"))
    assert [e.text for e in kept.events if isinstance(e, UserUttered)] == ["公积金提取要带什么"]
    with engine.connect() as conn:
        tickets = {row.id: row for row in conn.execute(select(m.Ticket.__table__))}
        assert tickets[1].sender == EXPIRED and tickets[1].transcript is None and tickets[1].callback_phone is None
        assert tickets[2].transcript and tickets[3].transcript  # recent, or still open: kept
        assert {row.ticket_id for row in conn.execute(select(m.Message.__table__))} == {2, 3}
        complaints = {row.seq: row for row in conn.execute(select(m.Complaint.__table__))}
        assert complaints[1].detail == "" and complaints[1].phone == "" and complaints[1].reference
        assert complaints[2].detail == "跑了三趟"
        comments = sorted((row.created_at, row.comment) for row in conn.execute(select(m.Rating.__table__)))
        assert [c for _, c in comments] == [None, "王五的事没办好"]
        assert conn.execute(select(seen_table)).fetchall() == []
    # Idempotent: a second run finds nothing more.
    again = purge(settings, now=NOW)
    assert again["conversations"] == 0 and again["tickets"] == 0 and again["complaints"] == 0
