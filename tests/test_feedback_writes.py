"""Ratings and complaints have one write path (actions/feedback_writes.py): through the web server's internal
API, and straight into the handoff database only when the web server cannot be reached. In-process: our web
app on an aiohttp test server, real SQLite."""
from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import catalog_access
from actions.feedback_writes import attach_ticket, save_comment, save_complaint, save_rating
from bot.handoff import models as m
from bot.run import free_ports
from bot.settings import Settings
from bot.web import create_app
from knowledge import make_engine
from knowledge.loader import load

pytestmark = pytest.mark.asyncio
FIXTURE_CATALOG = Path(__file__).parent / "fixtures" / "catalog"
HANDOFF_CONFIG = Path(__file__).parent / "fixtures" / "handoff.yml"


@pytest.fixture
def env(tmp_path, monkeypatch):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    load(make_engine(database), FIXTURE_CATALOG)
    handoff_port, web_port, dead_rasa = free_ports(3)
    values = {"DATABASE_URL": database, "HANDOFF_CONFIG": str(HANDOFF_CONFIG), "HANDOFF_PORT": str(handoff_port),
              "HANDOFF_SECRET": "feedback-secret", "WEB_PORT": str(web_port), "RASA_PORT": str(dead_rasa)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    catalog_access.reset()
    yield values
    catalog_access.reset()


def rows(database: str, model):
    with Session(make_engine(database)) as session:
        return list(session.scalars(select(model).order_by(model.id)))


async def test_writes_go_through_the_web_server_when_it_is_up(env, caplog):
    server = TestServer(create_app(Settings.from_env(env)), host="127.0.0.1", port=int(env["WEB_PORT"]))
    await server.start_server()
    try:
        rating_id = await save_rating("web", "person-abcdef", 4, "bot", "T-GT-SL")
        await save_comment(rating_id, "web", "person-abcdef", "讲得清楚")
        complaint = await save_complaint("web", "person-abcdef", "跑了两趟", "13812345678", "T-GT-SL", None)
        ticket = await catalog_access.handoff().open_ticket({"channel": "web", "sender": "person-abcdef",
                                                             "reason": "complain", "matter": "T-GT-SL"})
        await attach_ticket(complaint.id, ticket["ticket_id"])
    finally:
        await catalog_access.handoff().close()
        await server.close()
    assert "stored directly" not in caplog.text  # no fallback was needed
    [rating] = rows(env["DATABASE_URL"], m.Rating)
    assert (rating.id, rating.score, rating.comment, rating.matter_code) == (rating_id, 4, "讲得清楚", "T-GT-SL")
    [stored] = rows(env["DATABASE_URL"], m.Complaint)
    assert (stored.reference, stored.detail, stored.ticket_id) == (complaint.reference, "跑了两趟", ticket["ticket_id"])
    assert complaint.reference.startswith("BBCS-")


async def test_with_the_web_server_down_they_are_stored_directly_and_nothing_is_lost(env, caplog):
    rating_id = await save_rating("web", "person-abcdef", 2, "bot", None)
    await save_comment(rating_id, "web", "person-abcdef", "没听懂")
    complaint = await save_complaint("wechat", "o-openid-1", "窗口不受理", "031112345678", None, "开超市")
    assert caplog.text.count("stored directly") == 3
    [rating] = rows(env["DATABASE_URL"], m.Rating)
    assert (rating.id, rating.score, rating.comment) == (rating_id, 2, "没听懂")
    [stored] = rows(env["DATABASE_URL"], m.Complaint)
    assert (stored.reference, stored.matter_text, stored.ticket_id) == (complaint.reference, "开超市", None)


async def test_an_incomplete_complaint_is_refused_either_way(env):
    from bot.handoff.feedback import FeedbackError

    with pytest.raises(FeedbackError):
        await save_complaint("web", "person-abcdef", "问题", "", None, None)
    assert rows(env["DATABASE_URL"], m.Complaint) == []
