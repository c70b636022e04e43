"""The handoff service on a real SQLite database (with the fixture catalog loaded next to it)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot.handoff import models as m
from bot.handoff.config import HandoffConfig, HandoffConfigError
from bot.handoff.passwords import WeakPassword, hash_password, verify_password
from bot.handoff.records import HandoffError, mask_sender
from bot.handoff.service import HandoffService
from knowledge import make_engine
from knowledge.loader import load

FIXTURE_CATALOG = Path(__file__).parent / "fixtures" / "catalog"
PASSWORD = "correct horse 1"
# 2026-11-25 was a Wednesday; 02:00 UTC is 10:00 in Asia/Shanghai.
WEDNESDAY_10AM = datetime(2026, 11, 25, 2, 0)


def config_dict(**overrides) -> dict:
    data = {
        "timezone": "Asia/Shanghai",
        "office_hours": {"description": "工作日 9:00-12:00，13:30-17:00", "weekdays": ["mon", "tue", "wed", "thu", "fri"],
                         "periods": ["09:00-12:00", "13:30-17:00"], "holidays": ["2026-10-01..2026-10-03"],
                         "workdays": ["2026-10-10"]},
        "queues": [
            {"code": "qykb", "name": "企业开办", "locations": ["2F-A"]},
            {"code": "sp", "name": "食品", "priority": 2, "priority_label": "绿色通道"},
            {"code": "zonghe", "name": "综合"},
        ],
        "default_queue": "zonghe",
        "matters": {"T-SP-XK": "sp"},
        "reason_priority": {"complain": 1},
        "minutes_per_ticket": 6,
        "resolutions": [{"code": "answered", "label": "已解答"}, {"code": "other", "label": "其他"}],
    }
    data.update(overrides)
    return data


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'handoff.sqlite3'}"
    load(make_engine(url), FIXTURE_CATALOG)
    return url


@pytest.fixture
def clock() -> Clock:
    return Clock(WEDNESDAY_10AM)


@pytest.fixture
def service(db_url, clock) -> HandoffService:
    svc = HandoffService(make_engine(db_url), HandoffConfig.from_dict(config_dict()), clock=clock)
    svc.setup()
    return svc


def on_duty(service, *queues, name="zhang", role="helper"):
    helper = service.add_helper(name, name.title(), f"A{len(name):03d}", PASSWORD, queues, role=role)
    service.set_on_duty(helper.id, 3600)
    return helper


def test_tables_are_our_own_and_the_catalog_is_untouched(service, db_url):
    tables = set(inspect(create_engine(db_url)).get_table_names())
    assert {"handoff_ticket", "handoff_message", "handoff_helper", "handoff_queue", "handoff_session",
            "handoff_assignment", "handoff_note", "service_rating", "complaint", "handoff_helper_queue"} <= tables
    assert "matter" in tables  # the catalog is still there
    load(make_engine(db_url), FIXTURE_CATALOG)  # reloading the catalog keeps the handoff tables and rows
    assert "handoff_ticket" in inspect(create_engine(db_url)).get_table_names()


def test_a_ticket_is_routed_by_the_matter_location_and_overrides(service):
    on_duty(service, "qykb", "sp", "zonghe")
    by_location = service.request("web", "person-1", "request_human", "T-GT-SL")
    assert (by_location.queue_code, by_location.queue_name) == ("qykb", "企业开办")
    assert by_location.matter_name == "个体工商户设立登记"
    by_override = service.request("web", "person-2", "assisted", "T-SP-XK")
    assert by_override.queue_code == "sp" and by_override.priority == 2 and by_override.priority_label == "绿色通道"
    unknown = service.request("web", "person-3", "request_human", "NO-SUCH-MATTER")
    assert unknown.queue_code == "zonghe" and unknown.matter_code is None
    nothing = service.request("web", "person-4", "request_human")
    assert nothing.queue_code == "zonghe"


def test_one_open_ticket_per_person_and_positions_with_wait(service, clock):
    helper = on_duty(service, "qykb")
    first = service.request("web", "p1", "request_human", "T-GT-SL", summary="问过材料")
    again = service.request("web", "p1", "complain", "T-GT-SL", problem="跑了三趟")
    assert again.id == first.id and again.reason == "complain"
    assert service.ticket(first.id).problem == "跑了三趟"
    clock.advance(seconds=1)
    second = service.request("web", "p2", "request_human", "T-GT-SL")
    assert (first.position, first.minutes) == (0, 6)
    assert (second.position, second.minutes) == (1, 12)
    on_duty(service, "qykb", name="li")  # two helpers: the estimate halves
    assert service.ticket(second.id).minutes == 6
    assert service.claim(first.id, helper).won
    assert service.ticket(second.id).position == 0


def test_complaints_and_priority_queues_go_first(service, clock):
    on_duty(service, "qykb")
    normal = service.request("web", "p1", "request_human", "T-GT-SL")
    clock.advance(seconds=5)
    complaint = service.request("web", "p2", "complain", "T-GT-SL", problem="窗口说材料不全但不告诉缺什么")
    assert complaint.priority == 1 and complaint.position == 0
    assert service.ticket(normal.id).position == 1


def test_claim_is_atomic_between_racing_helpers(db_url, clock):
    config = HandoffConfig.from_dict(config_dict())
    setup = HandoffService(make_engine(db_url), config, clock=clock)
    setup.setup()
    helpers = [on_duty(setup, "qykb", name=n) for n in ("zhang", "wang", "zhao", "qian")]
    tickets = [setup.request("web", f"p{i}", "request_human", "T-GT-SL") for i in range(10)]
    barrier = threading.Barrier(len(helpers))
    wins = {h.id: [] for h in helpers}

    def race(helper):
        own = HandoffService(make_engine(db_url), config, clock=clock)  # its own engine, like another process
        barrier.wait()
        for ticket in tickets:
            if own.claim(ticket.id, helper).won:
                wins[helper.id].append(ticket.id)

    threads = [threading.Thread(target=race, args=(h,)) for h in helpers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = sorted(i for ids in wins.values() for i in ids)
    assert claimed == sorted(t.id for t in tickets), "every ticket claimed exactly once"
    for ticket in tickets:
        owner = setup.ticket(ticket.id).helper_id
        assert ticket.id in wins[owner]


def test_a_helper_sees_only_their_queues_and_a_supervisor_all(service):
    mine = on_duty(service, "qykb")
    other = on_duty(service, "sp", name="wang")
    boss = on_duty(service, name="boss", role="supervisor")
    food = service.request("web", "p1", "request_human", "T-SP-XK")
    assert service.ticket(food.id, mine) is None
    assert service.ticket(food.id, other) is not None and service.ticket(food.id, boss) is not None
    with pytest.raises(HandoffError) as error:
        service.claim(food.id, mine)
    assert error.value.code == "not_found"
    assert [t.id for t in service.lists(mine)["waiting"]] == []
    assert [t.id for t in service.lists(boss)["waiting"]] == [food.id]


def test_messages_notes_transfer_and_close(service, clock):
    zhang = on_duty(service, "qykb")
    wang = on_duty(service, "sp", name="wang")
    ticket = service.request("web", "p1", "request_human", "T-GT-SL",
                             transcript=[{"who": "person", "text": "营业执照要带什么"}])
    assert service.transcript(ticket.id) == [{"who": "person", "text": "营业执照要带什么"}]
    service.add_person_message(ticket.id, "在吗")
    with pytest.raises(HandoffError):
        service.add_helper_message(ticket.id, zhang, "还没认领就回复")
    assert service.claim(ticket.id, zhang).won
    message, info = service.add_helper_message(ticket.id, zhang, "您好，我是小张\x00")
    assert message.text == "您好，我是小张" and info.helper_name == "Zhang"
    with pytest.raises(HandoffError):
        service.add_helper_message(ticket.id, wang, "不是我的")
    note = service.add_note(ticket.id, zhang, "需要回访")
    assert [n.text for n in service.notes(ticket.id)] == ["需要回访"] and note.helper_name == "Zhang"

    moved = service.transfer_to_queue(ticket.id, zhang, "sp")
    assert (moved.status, moved.queue_code, moved.helper_id) == ("waiting", "sp", None)
    assert service.ticket(ticket.id, zhang) is None  # no longer in zhang's queues
    assert service.claim(ticket.id, wang).won
    handed = service.transfer_to_helper(ticket.id, wang, zhang.id)
    assert (handed.status, handed.helper_id) == ("active", zhang.id)
    clock.advance(minutes=3)
    closed = service.close(ticket.id, zhang, "answered", handback=True)
    assert closed.status == "closed" and closed.resume_pending and closed.resume_intent == "EXTERNAL_handoff_returned"
    assert service.mark_resumed(ticket.id) and not service.mark_resumed(ticket.id)

    person_view = service.person_messages_after("web", "p1", 0)
    assert [(x.author, x.text) for x in person_view] == [("helper", "您好，我是小张")]
    assert [x.author for x in service.messages(ticket.id)] == ["person", "helper"]
    assert service.person_messages_after("web", "p1", person_view[-1].id) == []
    kinds = [a.kind for a in _assignments(service, ticket.id)]
    assert kinds == ["queued", "claim", "transfer_queue", "claim", "transfer_helper", "handback"]


def _assignments(service, ticket_id):
    from sqlalchemy import select
    from sqlalchemy.orm import Session
    with Session(service.engine) as session:
        return session.scalars(select(m.Assignment).where(m.Assignment.ticket_id == ticket_id)
                               .order_by(m.Assignment.id)).all()


def test_out_of_hours_the_ticket_collects_then_waits_as_a_callback(service, clock):
    clock.now = datetime(2026, 11, 25, 12, 0)  # 20:00 local
    on_duty(service, "qykb")
    ticket = service.request("web", "p1", "request_human", "T-GT-SL")
    assert (ticket.status, ticket.mode, ticket.offline_reason) == ("collecting", "callback", "out_of_hours")
    assert service.routed_ticket("web", "p1") is None  # the bot keeps talking (it runs the form)
    waiting = service.leave_message(ticket.id, "想问营业执照变更", "13812345678")
    assert (waiting.status, waiting.callback_phone) == ("waiting", "13812345678")
    assert service.routed_ticket("web", "p1") is None  # a callback: the bot still answers meanwhile
    helper = service.helpers()[0]
    assert [t.id for t in service.lists(helper)["waiting"]] == [ticket.id]
    clock.now = WEDNESDAY_10AM + timedelta(days=1)
    service.set_on_duty(helper.id, 60)
    assert service.claim(ticket.id, helper).won
    assert service.routed_ticket("web", "p1").status == "active"


def test_nobody_on_duty_is_a_reason_too(service):
    ticket = service.request("web", "p1", "request_human", "T-GT-SL")
    assert (ticket.status, ticket.offline_reason) == ("collecting", "no_helper")
    helper = on_duty(service, "qykb")
    service.set_on_duty(helper.id, None)
    assert service.is_open("qykb") == "no_helper"


@pytest.mark.parametrize("local, open_", [
    ("2026-11-25 09:00", True), ("2026-11-25 11:59", True), ("2026-11-25 12:00", False),
    ("2026-11-25 13:30", True), ("2026-11-25 17:00", False), ("2026-11-28 10:00", False),  # Saturday
    ("2026-10-02 10:00", False),  # holiday range
    ("2026-10-10 10:00", True),   # a Saturday made a working day
])
def test_office_hours_with_holidays_and_make_up_days(local, open_):
    config = HandoffConfig.from_dict(config_dict())
    moment = datetime.fromisoformat(local).replace(tzinfo=config.tz)
    assert config.office_hours.is_open(moment) is open_


def test_a_queue_can_have_its_own_hours():
    data = config_dict()
    data["queues"][0]["office_hours"] = {"periods": ["00:00-24:00"], "weekdays": ["mon", "tue", "wed", "thu", "fri",
                                                                                 "sat", "sun"], "holidays": []}
    config = HandoffConfig.from_dict(data)
    night = datetime(2026, 10, 2, 15, 0)  # 23:00 local on a holiday
    assert config.is_open("qykb", night) and not config.is_open("zonghe", night)


@pytest.mark.parametrize("change, field", [
    ({"queues": []}, "queues"),
    ({"default_queue": "nope"}, "default_queue"),
    ({"matters": {"X": "nope"}}, "matters.X"),
    ({"office_hours": {"weekdays": ["mon"], "periods": ["9-12"]}}, "periods"),
    ({"office_hours": {"weekdays": ["mon"], "periods": ["09:00-12:00"], "holidays": ["2026-13-01"]}}, "holidays"),
    ({"resolutions": []}, "resolutions"),
])
def test_bad_configuration_names_the_field(change, field):
    with pytest.raises(HandoffConfigError) as error:
        HandoffConfig.from_dict(config_dict(**change))
    assert field in str(error.value)


def test_the_shipped_configuration_loads_and_routes_the_real_catalog(catalog_database_url):
    from bot.settings import Settings
    config = HandoffConfig.load(Settings().handoff_config)
    svc = HandoffService(make_engine(catalog_database_url), config)
    router = svc.router
    expected = {"SCJG-QY-SL": "qykb", "BDC-ZY": "bdc", "RSJ-SBK-BH": "sbyb", "SPJ-TZ-HZ": "tzxm",
                "GAJ-SFZ-HL": "gongan", "GJJ-TQ": "minsheng", "SWJ-FP-SL": "qykb"}
    assert {code: router.queue_for(router.matter(code)) for code in expected} == expected
    assert config.queue("tzxm").priority_label == "重点项目绿色通道"


def test_passwords_are_salted_scrypt_and_checked():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$") and PASSWORD not in first
    assert verify_password(PASSWORD, first) and not verify_password("wrong password", first)
    assert not verify_password(PASSWORD, "garbage")
    with pytest.raises(WeakPassword):
        hash_password("short")


def test_authentication_and_expiring_sessions(service, clock):
    helper = service.add_helper("zhang", "张三", "A012", PASSWORD, ["qykb"])
    assert service.authenticate("zhang", PASSWORD).id == helper.id
    assert service.authenticate("zhang", "wrong password") is None
    assert service.authenticate("nobody", PASSWORD) is None
    token, csrf = service.create_session(helper.id, minutes=30)
    found, found_csrf = service.session(token, minutes=30)
    assert found.id == helper.id and found_csrf == csrf
    assert service.session(token + "x", minutes=30) is None
    clock.advance(minutes=20)
    assert service.session(token, minutes=30) is not None  # used: extended
    clock.advance(minutes=29)
    assert service.session(token, minutes=30) is not None
    clock.advance(minutes=31)
    assert service.session(token, minutes=30) is None  # idle too long
    token, _ = service.create_session(helper.id, minutes=30)
    service.set_password("zhang", "another password")
    assert service.session(token, minutes=30) is None  # a new password ends old sessions
    token, _ = service.create_session(helper.id, minutes=30)
    service.set_active("zhang", False)
    assert service.session(token, minutes=30) is None and service.authenticate("zhang", "another password") is None


def test_helper_accounts_are_checked(service):
    service.add_helper("zhang", "张三", "A012", PASSWORD, ["qykb"])
    for args, code in [(("zhang", "x", "1", PASSWORD, []), "username_taken"),
                       (("li", "x", "1", PASSWORD, ["nope"]), "unknown_queue:nope"),
                       (("a b", "x", "1", PASSWORD, []), "bad_username")]:
        with pytest.raises(HandoffError) as error:
            service.add_helper(*args)
        assert error.value.code == code
    assert service.set_queues("zhang", ["sp", "qykb"]).queues == frozenset({"sp", "qykb"})


def test_dashboard_medians_and_ratings_per_queue(service, clock):
    helper = on_duty(service, "qykb", "sp")
    for index, (wait, handle) in enumerate([(60, 300), (120, 600), (600, 60)]):
        ticket = service.request("web", f"p{index}", "request_human", "T-GT-SL")
        clock.advance(seconds=wait)
        service.claim(ticket.id, helper)
        clock.advance(seconds=handle)
        service.close(ticket.id, helper, "answered")
        assert service.rate("human", "web", f"p{index}", 5 - index).ticket_id == ticket.id
    service.request("web", "waiting", "request_human", "T-SP-XK")
    rows = {row.queue_code: row for row in service.dashboard(helper)}
    assert set(rows) == {"qykb", "sp", ""}
    qykb = rows["qykb"]
    assert (qykb.tickets, qykb.closed, qykb.median_wait_s, qykb.median_handle_s) == (3, 3, 120, 300)
    assert (qykb.ratings, qykb.rating_avg) == (3, 4.0)
    assert (rows["sp"].tickets, rows["sp"].waiting) == (1, 1)
    assert rows[""].tickets == 4
    assert service.rate("human", "web", "never-helped", 1).ticket_id is None
    with pytest.raises(HandoffError):
        service.rate("human", "web", "p0", 9)


def test_a_person_can_cancel_and_the_bot_must_then_be_resumed(service):
    helper = on_duty(service, "qykb")
    ticket = service.request("web", "p1", "request_human", "T-GT-SL")
    service.claim(ticket.id, helper)
    cancelled = service.cancel_by_person("web", "p1")
    assert cancelled.status == "closed" and cancelled.resolution == "cancelled"
    assert cancelled.resume_pending and cancelled.resume_intent is None
    assert service.pending_resume_for("web", "p1").id == ticket.id
    assert service.cancel_by_person("web", "p1") is None


def test_person_ids_are_masked_for_helpers():
    assert mask_sender("AbCdEfGhIjKlMnOp") == "AbCd****Op"
    assert mask_sender("abc") == "***"
