"""办不成事: reference numbers from SQL, the commitment time from the catalog, the command-line list, and the
intake through the real servers (bad phone number, bail-out, a helper gets the ticket, nothing personal in logs)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handoff import models as m
from bot.handoff.config import HandoffConfig
from bot.handoff.feedback import FeedbackError, FeedbackStore
from support.handoff import HANDOFF_CONFIG, QUEUED_RE, REPO_ROOT, Console, Person, add_helper, new_ticket, response_text
from knowledge import make_engine
from knowledge.loader import load
from knowledge.schema import CatalogError

FIXTURE_CATALOG = REPO_ROOT / "tests" / "fixtures" / "catalog"


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'handoff.sqlite3'}"


@pytest.fixture
def clock():
    return Clock(datetime(2026, 12, 7, 3, 0))  # 11:00 in the hall (UTC+8)


@pytest.fixture
def store(db_url, clock):
    store = FeedbackStore(make_engine(db_url), HandoffConfig.load(HANDOFF_CONFIG).tz, clock)
    store.setup()
    return store


# ---- reference numbers ---------------------------------------------------------------------------


def test_references_count_per_local_day(store, clock):
    first = store.add_complaint("web", "sender-1", "跑了三趟", "13812345678", "GJJ-TQ")
    second = store.add_complaint("web", "sender-2", "窗口不受理", "031112345678", None, "开超市的证")
    assert (first.reference, second.reference) == ("BBCS-20261207-0001", "BBCS-20261207-0002")
    assert (second.matter_code, second.matter_text) == (None, "开超市的证")
    clock.now = datetime(2026, 12, 7, 16, 30)  # 00:30 on the 8th in the hall: a new local day
    assert store.add_complaint("web", "sender-3", "没人管", "13812345678").reference == "BBCS-20261208-0001"
    assert store.complaint("BBCS-20261207-0002").detail == "窗口不受理"


def test_references_stay_unique_when_complaints_arrive_at_once(store):
    made, errors = [], []

    def file_one(index):
        try:
            made.append(store.add_complaint("web", f"sender-{index}", "同时反映", "13812345678").reference)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=file_one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(made)) == 8
    assert sorted(made) == [f"BBCS-20261207-{n:04d}" for n in range(1, 9)]


def test_an_incomplete_complaint_is_refused_and_markup_is_kept_as_text(store):
    with pytest.raises(FeedbackError):
        store.add_complaint("web", "s", "  ", "13812345678")
    with pytest.raises(FeedbackError):
        store.add_complaint("web", "s", "问题", "")
    saved = store.add_complaint("web", "s", "<script>alert(1)</script>\x07' OR 1=1 --", "13812345678")
    assert store.complaint(saved.reference).detail == "<script>alert(1)</script>' OR 1=1 --"


# ---- the commitment time is a catalog fact -------------------------------------------------------


def test_the_commitment_days_come_from_hall_yml(tmp_path):
    from knowledge import Catalog

    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.sqlite3'}")
    load(engine, FIXTURE_CATALOG)
    assert Catalog(engine).hall().complaint_reply_days == 2
    real = yaml.safe_load((REPO_ROOT / "knowledge" / "catalog" / "hall.yml").read_text(encoding="utf-8"))
    assert isinstance(real["hall"]["complaint_reply_days"], int)


def test_a_wrong_commitment_is_refused_with_file_and_field(tmp_path):
    import shutil

    broken = tmp_path / "catalog"
    shutil.copytree(FIXTURE_CATALOG, broken)
    hall = broken / "hall.yml"
    hall.write_text(hall.read_text(encoding="utf-8").replace("complaint_reply_days: 2", "complaint_reply_days: 0"),
                    encoding="utf-8")
    with pytest.raises(CatalogError) as error:
        load(make_engine(f"sqlite:///{tmp_path / 'c.sqlite3'}"), broken)
    assert "complaint_reply_days" in str(error.value) and "hall.yml" in str(error.value)


def test_an_older_catalog_database_is_rebuilt_with_the_new_column(tmp_path):
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    with create_engine(url).begin() as conn:  # a hall table as an earlier version wrote it
        conn.execute(text("CREATE TABLE hall (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL)"))
    load(make_engine(url), FIXTURE_CATALOG)
    from knowledge import Catalog

    assert Catalog(make_engine(url)).hall().complaint_reply_days == 2


# ---- the command-line list ---------------------------------------------------------------------


def _cli(db_url, *args):
    env = dict(os.environ, DATABASE_URL=db_url, HANDOFF_CONFIG=str(HANDOFF_CONFIG))
    result = subprocess.run([sys.executable, "-m", "bot.console", *args], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_staff_list_complaints_with_the_phone_masked_unless_full(store, db_url):
    store.add_complaint("web", "sender-abcdef-1", "我叫张三丰，跑了三趟没办成", "13812345678", "GJJ-TQ")
    store.add_complaint("wechat", "o-openid-xyz-99", "窗口说缺证明", "031112345678")
    masked = _cli(db_url, "list-complaints")
    lines = masked.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["BBCS-20261207-0002", "BBCS-20261207-0001"]
    assert "13812345678" not in masked and "138****5678" in masked
    assert "031112345678" not in masked and "张三丰" not in masked and "sender-abcdef-1" not in masked
    assert "GJJ-TQ" in masked and "no ticket" in masked
    full = _cli(db_url, "list-complaints", "--full")
    assert "13812345678" in full and "031112345678" in full and "张三丰" in full
    assert len(_cli(db_url, "list-complaints", "--limit", "1").strip().splitlines()) == 1


# ---- through the real servers --------------------------------------------------------------------

live = pytest.mark.asyncio


@pytest.fixture(scope="module")
def complaint_helper(catalog_database_url):
    return add_helper(catalog_database_url, ["qykb", "sbyb", "tzxm", "minsheng", "zonghe"], name="协调员",
                      staff_no="C001")


def _complaints_of(database_url, sender):
    with Session(make_engine(database_url)) as session:
        return session.scalars(select(m.Complaint).where(m.Complaint.sender == sender)).all()


@live
async def test_complaint_intake_reference_commitment_and_a_helper(live_stack, complaint_helper,
                                                                  catalog_database_url):
    from knowledge import Catalog

    days = Catalog(make_engine(catalog_database_url)).hall().complaint_reply_days
    console, person = Console(live_stack.web_url), Person(live_stack.web_url)
    try:
        await console.login(complaint_helper)
        board = await console.connect()
        await person.say("公积金提取要带什么")
        intro = await person.say_text("跑了三趟都没办成，窗口也不说缺什么，我要反映")
        assert "办不成事" in intro and response_text("utter_ask_complaint_detail") in intro  # the matter is known
        assert response_text("utter_ask_complaint_phone") in await person.say_text(
            "上周二在三楼窗口，说我缺单位证明，可清单上没写")
        assert response_text("utter_handoff_invalid_phone") in await person.say_text("12345")
        done = await person.say_text("138 1234 5678")
        record = _complaints_of(catalog_database_url, person.sender)
        assert len(record) == 1
        complaint = record[0]
        assert complaint.reference.startswith("BBCS-") and complaint.reference in done
        assert f"{days} 个工作日" in done and complaint.phone == "13812345678"
        assert complaint.matter_code == "GJJ-TQ"
        assert "跑了三趟都没办成" in complaint.detail and "缺单位证明" in complaint.detail
        assert QUEUED_RE.search(done), done
        ticket = (await board.wait_for(lambda f: new_ticket(f, person)))["ticket"]
        assert ticket["reason"] == "complain" and ticket["queue"] == "minsheng"
        assert _complaints_of(catalog_database_url, person.sender)[0].ticket_id == ticket["id"]
        page = await (await console.get(f"/console/tickets/{ticket['id']}")).text()
        assert complaint.reference in page and "缺单位证明" in page and "13812345678" in page
        await console.post_form(f"/console/tickets/{ticket['id']}/close", {"resolution": "other"})

        listed = _cli(catalog_database_url, "list-complaints")
        assert complaint.reference in listed and "138****5678" in listed and "13812345678" not in listed
        logs = "".join(p.read_text(errors="replace") for p in live_stack.log_dir.glob("*.log"))
        assert complaint.reference in logs  # the logs are the right ones...
        assert "13812345678" not in logs and "138 1234 5678" not in logs  # ...and hold no phone number
    finally:
        await person.close()
        await console.close()


@live
async def test_the_matter_is_asked_when_unknown_and_the_person_can_bail_out(live_stack, catalog_database_url):
    person = Person(live_stack.web_url)
    try:
        intro = await person.say_text("我要投诉")
        assert response_text("utter_ask_complaint_matter") in intro
        assert response_text("utter_ask_complaint_detail") in await person.say_text("公积金提取")
        cancelled = await person.say_text("算了")
        assert "已取消登记" in cancelled
        assert _complaints_of(catalog_database_url, person.sender) == []
        assert "住房公积金提取" in await person.say_text("公积金提取要带什么")  # the bot goes on
    finally:
        await person.close()


@live
async def test_a_complaint_is_kept_when_no_helper_can_be_reached(live_stack, catalog_database_url):
    """Through Rasa's REST channel directly the handoff service refuses (it cannot reach the person there):
    the complaint is still stored, with its number, and staff find it in the list of those without a ticket."""
    import aiohttp

    sender = "rest-complainer-0001"
    url = f"{live_stack.rasa_url}/webhooks/rest/webhook"
    async with aiohttp.ClientSession() as session:
        async def say(text):
            async with session.post(url, json={"sender": sender, "message": text}) as resp:
                return "\n".join(msg.get("text", "") for msg in await resp.json())

        await say("我要反映问题，办不成事")
        await say("不动产登记")
        await say("材料交了两个月没消息")
        done = await say("0311-87654321")
    stored = _complaints_of(catalog_database_url, sender)
    assert len(stored) == 1 and stored[0].ticket_id is None and stored[0].reference in done
    assert response_text("utter_complaint_callback").split("{")[0] in done
    assert stored[0].reference in _cli(catalog_database_url, "list-complaints", "--no-ticket")


@live
async def test_out_of_hours_the_complaint_is_the_message_and_the_number_the_callback(live_stack,
                                                                                     catalog_database_url):
    """The 不动产 queue of the test configuration is never open: no second form, the ticket waits as a callback."""
    person = Person(live_stack.web_url)
    try:
        await person.say("二手房过户要多久")
        assert response_text("utter_ask_complaint_detail") in await person.say_text("办了两个月都没办成，我要反映")
        await person.say("材料交齐了，一直说在审核")
        done = await person.say_text("0311-87654321")
        assert response_text("utter_handoff_out_of_hours").format(hours="测试用：从不开放") in done
        assert response_text("utter_complaint_callback").format(phone="031187654321") in done
        assert response_text("utter_ask_handoff_message") not in done  # the complaint is the message
        complaint = _complaints_of(catalog_database_url, person.sender)[0]
        with Session(make_engine(catalog_database_url)) as session:
            ticket = session.get(m.Ticket, complaint.ticket_id)
            assert (ticket.status, ticket.mode, ticket.reason, ticket.queue_code) == \
                ("waiting", "callback", "complain", "bdc")
            assert ticket.callback_phone == "031187654321" and complaint.reference in ticket.left_message
        # The person keeps talking to the bot meanwhile.
        assert "住房公积金提取" in await person.say_text("公积金提取要带什么")
    finally:
        await person.close()
