"""python -m bot.retention [--days N]: personal data kept no longer than the retention setting.

Older than `RETENTION_DAYS` (180 by default): conversations in Rasa's tracker store are deleted (every event of
a person whose last event is older); closed tickets lose their transcript, messages, notes, left message and
callback number; complaints keep their reference, matter and date (for the hall's statistics) but lose what was
said and the phone; ratings keep their score but lose the comment; WeChat's outbox and numbered options go.
`python -m bot.run` runs it at start and once a day.
"""
from __future__ import annotations

import argparse
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, Optional

from sqlalchemy import bindparam, create_engine, delete, func, inspect, select, update
from sqlalchemy.engine import Engine

from bot.channels.wechat_outbox import outbox_table
from bot.channels.wechat_state import options_table, seen_table
from bot.handoff import models as m
from bot.settings import Settings

logger = logging.getLogger(__name__)

EXPIRED = "expired"  # what stays of a person's id on an anonymised record


def purge_tracker_store(engine: Engine, cutoff: datetime) -> int:
    """Deletes every event of the people whose last event is older than the cutoff; returns how many people."""
    if not inspect(engine).has_table("events"):
        return 0
    from sqlalchemy import MetaData, Table

    events = Table("events", MetaData(), autoload_with=engine)
    stale = (select(events.c.sender_id).group_by(events.c.sender_id)
             .having(func.max(events.c.timestamp) < cutoff.timestamp()))
    with engine.begin() as conn:
        senders = [row[0] for row in conn.execute(stale)]
        for start in range(0, len(senders), 500):
            conn.execute(delete(events).where(events.c.sender_id.in_(senders[start:start + 500])))
    return len(senders)


def purge_records(engine: Engine, cutoff: datetime) -> Dict[str, int]:
    """Anonymises our own tables' records older than the cutoff (naive UTC, as they are stored)."""
    tables = set(inspect(engine).get_table_names())
    counts: Dict[str, int] = {}
    with engine.begin() as conn:
        if m.Ticket.__tablename__ in tables:
            old = select(m.Ticket.id).where(m.Ticket.status == m.CLOSED, m.Ticket.closed_at < cutoff,
                                            m.Ticket.sender != EXPIRED)
            ids = [row[0] for row in conn.execute(old)]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                conn.execute(delete(m.Message.__table__).where(m.Message.ticket_id.in_(chunk)))
                conn.execute(delete(m.Note.__table__).where(m.Note.ticket_id.in_(chunk)))
                conn.execute(update(m.Ticket.__table__).where(m.Ticket.id.in_(chunk)).values(
                    sender=EXPIRED, summary=None, transcript=None, problem=None, left_message=None,
                    callback_phone=None, situation=None))
            counts["tickets"] = len(ids)
        if m.Complaint.__tablename__ in tables:
            counts["complaints"] = conn.execute(
                update(m.Complaint.__table__).where(m.Complaint.created_at < cutoff, m.Complaint.sender != EXPIRED)
                .values(sender=EXPIRED, detail="", phone="")).rowcount
        if m.Rating.__tablename__ in tables:
            counts["rating_comments"] = conn.execute(
                update(m.Rating.__table__).where(m.Rating.created_at < cutoff, m.Rating.comment.isnot(None))
                .values(comment=None)).rowcount
        if m.ConsoleSession.__tablename__ in tables:
            counts["console_sessions"] = conn.execute(
                delete(m.ConsoleSession.__table__).where(m.ConsoleSession.expires_at < cutoff)).rowcount
        for table, column in ((outbox_table, "created_at"), (options_table, "updated_at"),
                              (seen_table, "seen_at")):
            if table.name in tables:
                counts[table.name] = conn.execute(
                    delete(table).where(table.c[column] < bindparam("cutoff")), {"cutoff": cutoff}).rowcount
    return counts


def purge(settings: Settings, now: Optional[datetime] = None) -> Dict[str, int]:
    cutoff = (now or datetime.utcnow()) - timedelta(days=settings.retention_days)
    counts: Dict[str, int] = {}
    tracker = create_engine(settings.tracker_store_url)
    records = create_engine(settings.handoff_db_url)
    try:
        url = settings.tracker_store_url  # an embedded store not created yet has nothing to purge
        if not url.startswith("sqlite:///") or Path(url[len("sqlite:///"):]).exists():
            counts["conversations"] = purge_tracker_store(tracker, cutoff)
        counts.update(purge_records(records, cutoff))
    finally:
        tracker.dispose()
        records.dispose()
    logger.info("retention (%d days): %s", settings.retention_days,
                ", ".join(f"{k}={v}" for k, v in counts.items()) or "nothing stored yet")
    return counts


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, help="override RETENTION_DAYS for this run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    settings = Settings.from_env()
    if args.days is not None:
        if args.days < 1:
            parser.error("--days must be at least 1")
        import dataclasses

        settings = dataclasses.replace(settings, retention_days=args.days)
    started = time.monotonic()
    counts = purge(settings)
    print(f"Deleted or anonymised what was older than {settings.retention_days} days: "
          + (", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing") + f" ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
