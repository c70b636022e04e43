"""Console features against the real servers: transfer to a queue or a helper (the person is told), internal
notes (never shown to the person), position updates, the dashboard, the rating hook."""
from __future__ import annotations

import re

import aiohttp
import pytest

from support.handoff import Console, Person, add_helper, open_ticket, response_text

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def accounts(catalog_database_url):
    return {
        "sbyb": add_helper(catalog_database_url, ["sbyb"], name="陈社", staff_no="S101"),
        "sbyb2": add_helper(catalog_database_url, ["sbyb"], name="褚保", staff_no="S102"),
        "minsheng": add_helper(catalog_database_url, ["minsheng"], name="卫民", staff_no="M201"),
        "boss": add_helper(catalog_database_url, supervisor=True, name="蒋主任", staff_no="Z001"),
    }


async def on_duty(live_stack, account) -> Console:
    console = Console(live_stack.web_url)
    assert await console.login(account) == 200
    await console.connect()
    return console


async def test_transfer_to_a_queue_then_to_a_helper_and_the_person_is_told(live_stack, accounts):
    sbyb, sbyb2, ms = [await on_duty(live_stack, accounts[n]) for n in ("sbyb", "sbyb2", "minsheng")]
    person = Person(live_stack.web_url)
    try:
        page = await person.connect()
        ticket = await open_ticket(live_stack.settings, person.sender, matter="RSJ-SBK-BH")
        tid = ticket["ticket_id"]
        assert ticket["queue"] == "sbyb"
        await sbyb.post_json(f"/console/tickets/{tid}/claim")
        # It is a housing-fund question after all: to the 民生 queue, whose helper is notified.
        resp = await sbyb.post_form(f"/console/tickets/{tid}/transfer", {"queue": "minsheng"})
        assert resp.status == 303
        moved = await ms.socket.wait_for(lambda f: f["type"] == "ticket" and f["ticket"]["id"] == tid
                                         and f["ticket"]["queue"] == "minsheng")
        assert moved["ticket"]["status"] == "waiting" and moved["ticket"]["new"]
        told = await page.wait_for(lambda f: f["type"] == "message" and "民生" in f["text"])
        template = re.escape(response_text("utter_handoff_transferred_queue")).replace(
            r"\{queue_name\}", "民生").replace(r"\{position\}", r"\d+").replace(r"\{minutes\}", r"\d+")
        assert re.fullmatch(template, told["text"]), told["text"]
        # The first helper no longer sees it.
        assert (await sbyb.get(f"/console/api/tickets/{tid}")).status == 404

        await ms.post_json(f"/console/tickets/{tid}/claim")
        target = [h for h in await _helpers(accounts["boss"], live_stack) if h["name"] == "褚保"][0]
        resp = await ms.post_form(f"/console/tickets/{tid}/transfer", {"helper": str(target["id"])})
        assert resp.status == 303
        await sbyb2.socket.wait_for(lambda f: f["type"] == "ticket" and f["ticket"]["id"] == tid
                                    and f["ticket"]["helper_name"] == "褚保")
        told = await page.wait_for(lambda f: f["type"] == "message" and "褚保" in f["text"])
        assert told["text"] == response_text("utter_handoff_transferred_helper").format(helper_name="褚保",
                                                                                       staff_no="S102")
        # The new helper can write at once (the ticket is theirs though it is in another queue).
        assert (await sbyb2.post_json(f"/console/tickets/{tid}/messages", {"text": "我接着帮您"}))[0] == 200
        assert (await ms.post_json(f"/console/tickets/{tid}/messages", {"text": "我已经不管了"}))[0] == 409
        await page.wait_for(lambda f: f["type"] == "message" and f["text"] == "我接着帮您")
        await sbyb2.post_form(f"/console/tickets/{tid}/close", {"resolution": "answered"})
    finally:
        await person.close()
        for console in (sbyb, sbyb2, ms):
            await console.close()


async def _helpers(boss_account, live_stack) -> list:
    """Helper ids as the transfer form lists them (parsed from the ticket page of a supervisor)."""
    import re

    boss = Console(live_stack.web_url)
    try:
        await boss.login(boss_account)
        await boss.connect()
        ticket = await open_ticket(live_stack.settings, "helpers-list-probe", matter="RSJ-SBK-BH")
        html = await (await boss.get(f"/console/tickets/{ticket['ticket_id']}")).text()
        await boss.post_form(f"/console/tickets/{ticket['ticket_id']}/close", {"resolution": "other"})
        return [{"id": int(i), "name": n} for i, n in re.findall(r'<option value="(\d+)">([^（<]+)（', html)]
    finally:
        await boss.close()


async def test_notes_stay_internal_and_positions_move_up(live_stack, accounts):
    console = await on_duty(live_stack, accounts["sbyb"])
    first, second = Person(live_stack.web_url), Person(live_stack.web_url)
    try:
        page = await second.connect()
        t1 = await open_ticket(live_stack.settings, first.sender, matter="RSJ-SBK-BH")
        t2 = await open_ticket(live_stack.settings, second.sender, matter="RSJ-SBK-BH")
        assert (t1["position"], t2["position"]) == (0, 1)
        state = await page.wait_for(lambda f: f["type"] == "state" and f["handoff"])
        assert state["handoff"]["position"] == 1
        resp = await console.post_form(f"/console/tickets/{t2['ticket_id']}/notes", {"text": "群众说下午再来"})
        assert resp.status == 303
        note = await console.socket.wait_for(lambda f: f["type"] == "note")
        assert note["note"]["text"] == "群众说下午再来" and note["note"]["name"] == "陈社"
        html = await (await console.get(f"/console/tickets/{t2['ticket_id']}")).text()
        assert "群众说下午再来" in html
        # The one ahead is taken: the second person moves up and is told.
        await console.post_json(f"/console/tickets/{t1['ticket_id']}/claim")
        moved = await page.wait_for(lambda f: f["type"] == "state" and f["handoff"] and f["handoff"]["position"] == 0)
        assert "前面还有 0 位" in moved["handoff"]["text"]
        assert not page.matching(lambda f: "下午再来" in str(f))  # the note never reaches the person
        for t in (t1, t2):
            await console.post_form(f"/console/tickets/{t['ticket_id']}/close", {"resolution": "other"})
    finally:
        await first.close()
        await second.close()
        await console.close()


async def test_dashboard_counts_waits_handling_and_ratings_per_queue(live_stack, accounts):
    console = await on_duty(live_stack, accounts["minsheng"])
    try:
        before = {r["queue"]: r for r in (await (await console.get("/console/api/dashboard")).json())["queues"]}
        senders = [f"dash-person-{i}-abcdef" for i in range(3)]
        for sender in senders:
            ticket = await open_ticket(live_stack.settings, sender, matter="GJJ-TQ")
            await console.post_json(f"/console/tickets/{ticket['ticket_id']}/claim")
            await console.post_form(f"/console/tickets/{ticket['ticket_id']}/close", {"resolution": "answered"})
        # The rating feature reports through the internal API (bot.clients.handoff.HandoffClient.rate).
        async with aiohttp.ClientSession() as session:
            for sender, score in zip(senders, (5, 4, 1)):
                async with session.post(f"{live_stack.settings.handoff_url}/internal/handoff/ratings",
                                        headers={"X-Handoff-Secret": live_stack.settings.handoff_secret},
                                        json={"channel": "web", "sender": sender, "score": score}) as resp:
                    assert resp.status == 200 and (await resp.json())["ticket_id"]
        after = {r["queue"]: r for r in (await (await console.get("/console/api/dashboard")).json())["queues"]}
        assert set(after) == {"minsheng", ""}  # only the helper's own queue (and the total)
        row = after["minsheng"]
        assert row["tickets"] - before["minsheng"]["tickets"] == 3
        assert row["closed"] - before["minsheng"]["closed"] == 3
        assert row["median_wait_s"] is not None and row["median_handle_s"] is not None
        assert row["ratings"] - before["minsheng"]["ratings"] == 3
        page = await (await console.get("/console/dashboard")).text()
        assert "民生" in page and "人工服务评价" in page
    finally:
        await console.close()
