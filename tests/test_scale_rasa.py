"""Several Rasa processes on real engines: a PostgreSQL tracker store, Redis lock store, two Rasa processes behind
HAProxy (deploy/haproxy.cfg) and two action server processes on one port. One stack for the module; the test
that kills a Rasa process runs last.

People on our page are routed by the web server's ring (bot/clients/ring.py), people on Rasa's REST channel by
the proxy; every conversation is checked against the tracker store in PostgreSQL: every message once, in order.
The issue's 200 × 5 runs in the benchmark (bench/scale.py); here 40 × 5 keeps the suite short."""
from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import aiohttp
import pytest
from sqlalchemy import create_engine, text

from bot.clients.ring import HashRing
from bot.run import Stack
from support.engines import create_database
from support.handoff import response_text
from support.scale import FIVE_TURNS, assert_nothing_lost_or_reordered, listens, page_turn, rest_turn
from support.stack import running_stack, web_sender

live = pytest.mark.asyncio


@dataclass(frozen=True)
class Scaled:
    stack: Stack
    trackers: str
    log_dir: Path

    @property
    def settings(self):
        return self.stack.settings

    def page_people(self, per_process: int) -> Dict[str, List[str]]:
        """Rasa process URL -> new page senders that the web server's ring gives to it."""
        ring = HashRing(self.settings.rasa_worker_urls)
        people: Dict[str, List[str]] = {url: [] for url in ring.nodes}
        while any(len(found) < per_process for found in people.values()):
            sender = web_sender()
            if len(people[ring.owner(sender)]) < per_process:
                people[ring.owner(sender)].append(sender)
        return people


@pytest.fixture(scope="module")
def scaled(tmp_path_factory, catalog_database_url, trained_model, postgres_url, redis_url):
    trackers = create_database(postgres_url, "scale_trackers")
    log_dir = tmp_path_factory.mktemp("scale-logs")
    # A short lock ticket: the killed process's tickets hold its people back at most 5 s (turns here are short).
    with running_stack(catalog_database_url, log_dir, TRACKER_STORE_URL=trackers, LOCK_STORE_URL=redis_url,
                       RASA_WORKERS="2", ACTION_WORKERS="2", TICKET_LOCK_LIFETIME="5") as stack:
        yield Scaled(stack=stack, trackers=trackers, log_dir=log_dir)


async def converse(session, turn, url: str, sender: str, messages: List[str], heard: dict, done: list) -> None:
    heard[sender] = []
    for message in messages:
        replies = await turn(session, url, sender, message)
        assert replies, f"{sender}: no answer to {message!r}"
        heard[sender].append((message, replies))
        done.append(sender)


def check_answers(heard: dict) -> None:
    """Each answer is the one to its own question (the matter's name comes back on its turns)."""
    for sender, turns in heard.items():
        assert "住房公积金提取" in "".join(turns[1][1]), f"{sender}: {turns[1]}"
        assert "住房公积金提取" in "".join(turns[2][1]), f"{sender}: {turns[2]}"


def test_the_stack_runs_two_rasa_processes_behind_the_proxy_on_postgresql_and_redis(scaled):
    names = {svc.name for svc in scaled.stack.services if svc.running()}
    assert {"rasa", "rasa-2", "proxy", "actions", "actions-2", "web"} <= names
    endpoints = (scaled.settings.project_dir / "var" / f"endpoints-{scaled.settings.rasa_port}.yml").read_text()
    assert "dialect: postgresql" in endpoints and "type: bot.lock_store.RedisTicketLockStore" in endpoints


@live
async def test_whole_conversations_on_our_page_and_through_the_proxy(scaled):
    page_people = [s for senders in scaled.page_people(2).values() for s in senders]
    rest_people = [f"scale-rest-{i}" for i in range(4)]
    heard: dict = {}
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            *(converse(session, page_turn, scaled.settings.web_url, s, FIVE_TURNS, heard, []) for s in page_people),
            *(converse(session, rest_turn, scaled.settings.rasa_url, s, FIVE_TURNS, heard, [])
              for s in rest_people))
    check_answers(heard)
    assert_nothing_lost_or_reordered(scaled.trackers, heard)


@live
async def test_a_resent_turn_that_was_already_stored_is_answered_from_the_tracker_store_once(scaled):
    """What the web server's ring or the proxy does when a process died after storing a turn but before
    answering: the same X-Request-ID again, on the other process, gets the stored answer, not a second turn."""
    sender, turn = "scale-resent-1", {"X-Request-ID": "resend-test-0123456789"}
    body = {"sender": sender, "message": "公积金提取要带什么"}
    answers = []
    async with aiohttp.ClientSession() as session:
        for url in scaled.settings.rasa_worker_urls:
            async with session.post(f"{url}/webhooks/rest/webhook", json=body, headers=turn) as resp:
                assert resp.status == 200
                answers.append([m.get("text") for m in await resp.json()])
        heard = [(body["message"], answers[0])]
        assert answers[0] == answers[1] and "住房公积金提取" in "".join(answers[0])
        async with session.post(f"{scaled.settings.rasa_url}/webhooks/rest/webhook", json={**body, "message": "谢谢"},
                                headers={"X-Request-ID": "resend-test-9876543210"}) as resp:
            heard.append(("谢谢", [m.get("text") for m in await resp.json()]))
    assert_nothing_lost_or_reordered(scaled.trackers, {sender: heard})


def _complaints_of(database_url: str, sender: str) -> list:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT reference, phone FROM complaint WHERE sender = :s"),
                                           {"s": sender}))
    finally:
        engine.dispose()


async def _listening(stack: Stack, name: str) -> None:
    svc = stack.service(name)
    if not svc.running():
        stack.launch(name)
    deadline = time.monotonic() + 120
    while not listens(svc.proc.pid, svc.port):
        assert svc.running() and time.monotonic() < deadline, f"the {name} process does not listen"
        await asyncio.sleep(0.1)


async def _only(stack: Stack, alive: str, stopped: str) -> None:
    """Exactly one action server runs: `alive` (started again if needed), `stopped` killed."""
    await _listening(stack, alive)
    stack.kill(stopped, signal.SIGKILL)


@live
async def test_action_servers_are_stateless_a_form_continues_on_another_process(scaled, catalog_database_url):
    """The complaint form's turns alternate between the two action server processes (only one of them runs
    for each turn): the form's state lives in the tracker, not in a process."""
    stack, sender = scaled.stack, "scale-complaint-1"
    async with aiohttp.ClientSession() as session:
        async def say(message: str) -> str:
            return "\n".join(await rest_turn(session, scaled.settings.rasa_url, sender, message))

        try:
            await _only(stack, "actions", "actions-2")
            assert response_text("utter_ask_complaint_matter").split("{")[0] in await say("我要反映问题，办不成事")
            await _only(stack, "actions-2", "actions")
            assert response_text("utter_ask_complaint_detail").split("{")[0] in await say("不动产登记")
            await _only(stack, "actions", "actions-2")
            assert response_text("utter_ask_complaint_phone").split("{")[0] in await say("材料交了两个月没消息")
            await _only(stack, "actions-2", "actions")
            done = await say("0311-87654321")
        finally:
            for name in ("actions", "actions-2"):
                await _listening(stack, name)
    stored = _complaints_of(catalog_database_url, sender)
    assert len(stored) == 1 and stored[0].reference in done and stored[0].phone.replace("-", "") == "031187654321"


@live
async def test_forty_people_five_turns_each_nothing_lost_or_reordered(scaled):
    people = [s for senders in scaled.page_people(20).values() for s in senders]
    heard: dict = {}
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(converse(session, page_turn, scaled.settings.web_url, s, FIVE_TURNS, heard, [])
                               for s in people))
    assert len(heard) == 40 and all(len(turns) == 5 for turns in heard.values())
    check_answers(heard)
    assert_nothing_lost_or_reordered(scaled.trackers, heard)


def test_a_widget_through_the_proxy_gets_its_answers_and_helper_messages_from_either_process(scaled):
    """socket.io through the proxy; then the handoff's delivery posted to each Rasa process in turn reaches the
    widget, whichever process holds its socket (the rooms are shared through Redis)."""
    import requests

    from support.socketio import WidgetClient, text_of

    widget = WidgetClient(scaled.settings.rasa_url)
    try:
        assert widget.connect() == widget.session_id
        widget.say("公积金提取要带什么")
        assert "住房公积金提取" in text_of(widget.wait_for(lambda m: "住房公积金提取" in m.get("text", "")))
        for number, url in enumerate(scaled.settings.rasa_worker_urls, 1):
            reply = requests.post(f"{url}/webhooks/socketio/deliver", timeout=30,
                                  json={"sender": widget.session_id, "kind": "message", "text": f"工作人员消息{number}"},
                                  headers={"X-Handoff-Secret": scaled.settings.handoff_secret})
            assert reply.status_code == 200, reply.text
            widget.wait_for(lambda m, n=number: m.get("text") == f"工作人员消息{n}")
    finally:
        widget.close()


@live
async def test_a_rasa_process_killed_mid_conversation_its_people_continue_on_the_other(scaled):
    """Killed outright while turns are in flight: its page people move to the other process (the web server's
    ring), its REST people too (the proxy), and their turns are answered; nothing lost or answered twice."""
    page_people = [s for senders in scaled.page_people(6).values() for s in senders]
    rest_people = [f"scale-kill-rest-{i}" for i in range(8)]
    heard: dict = {}
    done: list = []
    total = (len(page_people) + len(rest_people)) * len(FIVE_TURNS)
    rasa2 = scaled.stack.service("rasa-2")

    async def kill_when_a_third_is_answered() -> None:
        while len(done) < total // 3:
            await asyncio.sleep(0.05)
        rasa2.proc.send_signal(signal.SIGKILL)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            kill_when_a_third_is_answered(),
            *(converse(session, page_turn, scaled.settings.web_url, s, FIVE_TURNS, heard, done) for s in page_people),
            *(converse(session, rest_turn, scaled.settings.rasa_url, s, FIVE_TURNS, heard, done)
              for s in rest_people))
    assert rasa2.proc.wait(timeout=10) == -signal.SIGKILL and len(done) == total
    assert "does not answer" in (scaled.log_dir / "web.log").read_text(encoding="utf-8")  # the ring moved them
    check_answers(heard)
    assert_nothing_lost_or_reordered(scaled.trackers, heard)
