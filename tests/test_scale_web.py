"""Several web processes on PostgreSQL and Redis (real servers): a person's page on one process and the helper's
console on the other see each other live, hand-back works; two helpers on two processes claim one ticket at
once and exactly one wins; the idle rating timer survives a restart of the web process and fires exactly once;
/metrics speaks the Prometheus text format, sums the machine's processes and is not public.

Rasa is a stand-in (tests/support/rasa_standin.py): these are tests of the web layer, started in seconds.
Each web process of the cluster gets its own port, so that a test can place the page and the console on
different ones; the last tests run them as bot.run does, on one shared port (SO_REUSEPORT), under its supervisor.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handoff import models as m
from bot.run import Stack, web_services
from bot.settings import Settings
from bot.supervisor import Supervisor, free_ports, http_get
from knowledge import make_engine
from support.handoff import HANDOFF_CONFIG, Console, Person, add_helper, new_sender, new_ticket, open_ticket, response_text
from support.engines import fresh_database, running_redis
from support.prometheus import parse_exposition
from support.rasa_standin import RasaStandIn
from support.stack import REPO_ROOT, WEB_SECRET, restart

IDLE_SECONDS = 2.0
METRICS_TOKEN = "test-metrics-" + secrets.token_urlsafe(12)


@dataclass
class Cluster:
    settings: Dict[str, Settings]  # "a", "b": one web process each
    supervisors: Dict[str, Supervisor]
    rasa: RasaStandIn
    database_url: str

    def url(self, name: str) -> str:
        return self.settings[name].web_url


def web_env(database_url: str, pubsub_url: str, rasa_url: str, metrics_dir: Path, **extra: str) -> dict:
    web_port, handoff_port = free_ports(2)
    return {"HOST": "127.0.0.1", "WEB_PORT": str(web_port), "HANDOFF_PORT": str(handoff_port),
            "HANDOFF_SECRET": "test-handoff-secret", "DATABASE_URL": database_url, "PUBSUB_URL": pubsub_url,
            "WEB_WORKERS": "2", "RASA_URL": rasa_url, "RASA_TOKEN": "test-rasa", "WEB_SECRET": WEB_SECRET,
            "HANDOFF_CONFIG": str(HANDOFF_CONFIG), "RATING_IDLE_MINUTES": repr(IDLE_SECONDS / 60),
            "METRICS_TOKEN": METRICS_TOKEN, "METRICS_DIR": str(metrics_dir), **extra}


@pytest.fixture(scope="module")
def cluster(postgres_url, redis_url, tmp_path_factory):
    database_url = fresh_database(postgres_url, "scaleweb")
    rasa = RasaStandIn().start()
    logs = tmp_path_factory.mktemp("scale-web")
    supervisors, settings = {}, {}
    try:
        for worker, name in enumerate(("a", "b")):
            s = Settings.from_env(web_env(database_url, redis_url, rasa.url, logs / "metrics", LOG_DIR=str(logs)))
            service = web_services(s, sys.executable)[worker]  # worker 0 on a's port, worker 1 on b's
            service.name, service.log_path = "web", logs / f"web-{name}.log"
            supervisor = Supervisor([service], REPO_ROOT, startup_timeout=60)
            supervisor.start_all(s.child_env(os.environ))
            supervisors[name], settings[name] = supervisor, s
        yield Cluster(settings, supervisors, rasa, database_url)
    finally:
        for supervisor in supervisors.values():
            supervisor.stop()
        rasa.stop()


@pytest.fixture(scope="module")
def helpers(cluster):
    # Tickets without a matter go to the default queue (the catalog is not loaded here).
    return [add_helper(cluster.database_url, ["zonghe"], name=name, staff_no=no, handoff_config=HANDOFF_CONFIG)
            for name, no in (("甲帮办", "S001"), ("乙帮办", "S002"))]


@pytest.mark.asyncio
async def test_page_and_console_on_different_processes_see_each_other_live(cluster, helpers):
    person, console = Person(cluster.url("a")), Console(cluster.url("b"))
    try:
        assert await console.login(helpers[0]) == 200
        board = await console.connect()
        page = await person.connect()
        await open_ticket(cluster.settings["a"], person.sender, reason="request_human")  # as the action server
        ticket = (await board.wait_for(lambda f: new_ticket(f, person)))["ticket"]  # made on a, seen on b
        await page.wait_for(lambda f: f["type"] == "state" and f["handoff"] and f["handoff"]["status"] == "waiting")

        assert (await person.say("请问注册资本怎么填"))["messages"] == []  # on a: to the helper, not the bot
        got = await board.wait_for(lambda f: f["type"] == "message" and f["ticket_id"] == ticket["id"]
                                   and f["message"]["author"] == "person")
        assert got["message"]["text"] == "请问注册资本怎么填"

        status, claimed = await console.post_json(f"/console/tickets/{ticket['id']}/claim")
        assert status == 200 and claimed["won"]
        await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "notice")
        status, sent = await console.post_json(f"/console/tickets/{ticket['id']}/messages", {"text": "按章程填写。"})
        assert status == 200
        reply = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "helper")
        assert (reply["id"], reply["text"]) == (sent["message"]["id"], "按章程填写。")
        await page.send({"type": "typing"})  # typing crosses too
        await board.wait_for(lambda f: f["type"] == "typing" and f["ticket_id"] == ticket["id"])

        before = len(page.frames)
        resp = await console.post_form(f"/console/tickets/{ticket['id']}/handback", {"resolution": "answered"})
        assert resp.status == 303
        back = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "bot", start=before)
        assert back["text"] == response_text("utter_handoff_returned")
        await page.wait_for(lambda f: f["type"] == "state" and f["handoff"] is None, start=before)
        assert cluster.rasa.paused.get(person.sender) is False  # Rasa resumed by process b
        assert (await person.say_text("公积金提取要带什么")) == "答复：公积金提取要带什么"  # the bot answers again
        assert len([f for f in page.frames if f["type"] == "message" and f["author"] == "helper"]) == 1
    finally:
        await person.close()
        await console.close()


@pytest.mark.asyncio
async def test_a_page_that_reconnects_to_the_other_process_catches_up_from_sql(cluster, helpers):
    person, console = Person(cluster.url("a")), Console(cluster.url("b"))
    try:
        await console.login(helpers[1])
        await console.connect()  # on duty: the ticket waits for a helper
        ticket_id = (await open_ticket(cluster.settings["a"], person.sender))["ticket_id"]
        assert (await console.post_json(f"/console/tickets/{ticket_id}/claim"))[1]["won"]
        # Nobody is subscribed for this page now: the message is only in SQL.
        status, sent = await console.post_json(f"/console/tickets/{ticket_id}/messages", {"text": "您还在吗？"})
        assert status == 200
        page = await Person(cluster.url("b"), person.sender).connect()  # its page opens on the other process
        caught = await page.wait_for(lambda f: f["type"] == "message" and f["author"] == "helper")
        assert caught["id"] == sent["message"]["id"]
        await page.close()
    finally:
        await person.close()
        await console.close()


@pytest.mark.asyncio
async def test_two_helpers_on_two_processes_claim_the_same_ticket_exactly_one_wins(cluster, helpers):
    consoles = [Console(cluster.url("a")), Console(cluster.url("b"))]
    try:
        for console, helper in zip(consoles, helpers):
            assert await console.login(helper) == 200
            await console.connect()
        for _ in range(5):  # a race is a matter of chance: several rounds
            ticket_id = (await open_ticket(cluster.settings["b"], new_sender()))["ticket_id"]
            results = await asyncio.gather(*(c.post_json(f"/console/tickets/{ticket_id}/claim") for c in consoles))
            # The loser is told the ticket is taken (409), the winner gets it.
            assert sorted((status, bool(body["won"])) for status, body in results) == [(200, True), (409, False)]
            with Session(make_engine(cluster.database_url)) as session:
                claims = session.scalars(select(m.Assignment).where(m.Assignment.ticket_id == ticket_id,
                                                                    m.Assignment.kind == "claim")).all()
            assert len(claims) == 1
    finally:
        for console in consoles:
            await console.close()


@pytest.mark.asyncio
async def test_a_helper_whose_console_closes_on_one_process_stays_on_duty_with_one_open_on_the_other(cluster,
                                                                                                   helpers):
    consoles = [Console(cluster.url("a")), Console(cluster.url("b"))]
    engine = make_engine(cluster.database_url)

    def on_duty_until():
        with Session(engine) as session:
            return session.scalars(select(m.Helper.on_duty_until)
                                   .where(m.Helper.username == helpers[0]["username"])).one()

    async def wait(condition, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + 10
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, what
            await asyncio.sleep(0.1)

    try:
        for console in consoles:
            await console.login(helpers[0])
            await console.connect()
        before = on_duty_until()
        await consoles[0].socket.close()  # process a marks the helper off duty; b, which has a console, renews it
        await wait(lambda: (on_duty_until() or before) > before, "off duty although a console is open on b")
        await consoles[1].socket.close()
        await wait(lambda: on_duty_until() <= datetime.utcnow(), "still on duty without any console")
    finally:
        for console in consoles:
            await console.close()
        engine.dispose()


@pytest.mark.asyncio
async def test_the_idle_rating_timer_survives_a_web_restart_and_fires_once(cluster):
    person = Person(cluster.url("a"))
    question = response_text("utter_ask_rating_idle")
    try:
        await person.connect()
        assert await person.say_text("公积金提取要带什么") == "答复：公积金提取要带什么"  # armed in SQL by a
        await restart(cluster.supervisors["a"], "web")  # SIGTERM, start again: nothing in memory survives
        tabs = [await Person(cluster.url(name), person.sender).connect() for name in ("a", "b")]
        # Both processes see the due timer and the page open on them: exactly one of them asks.
        asked = [await tab.wait_for(lambda f: f["type"] == "bot", timeout=IDLE_SECONDS + 20) for tab in tabs]
        assert all(frame["messages"][0]["text"] == question for frame in asked)
        with Session(make_engine(cluster.database_url)) as session:
            timer = session.get(m.IdleTimer, ("web", person.sender))
            assert timer is not None and timer.fired_at is not None
        assert cluster.rasa.triggered(person.sender, "EXTERNAL_idle") == 1
        for tab in tabs:
            await tab.close()
    finally:
        await person.close()


@pytest.mark.asyncio
async def test_metrics_are_prometheus_text_summed_over_processes_and_need_the_token(cluster):
    async with aiohttp.ClientSession() as session:
        for name in ("a", "b"):
            async with session.get(f"{cluster.url(name)}/metrics") as resp:
                assert resp.status == 401  # not public
            async with session.get(f"{cluster.url(name)}/metrics",
                                   headers={"Authorization": "Bearer wrong"}) as resp:
                assert resp.status == 401
        async def answered(url: str) -> float:
            async with session.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                families = parse_exposition(await resp.text())
            readings[url] = families
            return families["assistant_turns_total"]["samples"].get(("assistant_turns_total",
                                                                      (("outcome", "answered"),)), 0)

        urls = (cluster.url("a"), cluster.url("b"), cluster.settings["a"].handoff_url)
        readings: dict = {}
        before = [await answered(url) for url in urls]
        people = [Person(cluster.url(name)) for name in ("a", "b")]  # one turn on each process
        for person in people:
            await person.say("营业执照怎么办")
            await person.close()
        deadline = asyncio.get_running_loop().time() + 15
        for url, count in zip(urls, before):  # each process sees both turns (the other's within 2 s)
            while await answered(url) < count + 2:
                assert asyncio.get_running_loop().time() < deadline, f"{url}/metrics does not count both turns"
                await asyncio.sleep(0.3)
    for families in readings.values():
        assert families["assistant_web_processes"]["samples"][("assistant_web_processes", ())] == 2
        assert families["assistant_turns_total"]["type"] == "counter"
        latency = families["assistant_turn_seconds"]["samples"]
        assert latency[("assistant_turn_seconds_count", ())] == latency[("assistant_turn_seconds_bucket",
                                                                          (("le", "+Inf"),))]
        assert ("assistant_handoffs_waiting", (("queue", "zonghe"),)) in families["assistant_handoffs_waiting"]["samples"]
        labels = {pair for family in families.values() for _, key in family["samples"] for pair in key}
        assert {name for name, _ in labels} <= {"outcome", "kind", "queue", "le"}  # nothing about a person
        assert not any(p.sender in value or "营业执照" in value for _, value in labels for p in people)


@pytest.mark.asyncio
async def test_without_a_metrics_token_metrics_are_off(cluster, tmp_path):
    env = dict(web_env(cluster.database_url, cluster.settings["a"].pubsub_url, cluster.rasa.url, tmp_path,
                       LOG_DIR=str(tmp_path)), METRICS_TOKEN="")
    s = Settings.from_env(env)
    service = web_services(s, sys.executable)[0]
    supervisor = Supervisor([service], REPO_ROOT, startup_timeout=60)
    supervisor.start_all(s.child_env(os.environ))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{s.web_url}/metrics", headers={"Authorization": "Bearer "}) as resp:
                assert resp.status == 404
    finally:
        supervisor.stop()


@pytest.mark.asyncio
async def test_web_workers_share_one_port_and_the_supervisor_restarts_a_dead_one(cluster, tmp_path):
    s = Settings.from_env(web_env(cluster.database_url, cluster.settings["a"].pubsub_url, cluster.rasa.url,
                                  tmp_path / "metrics", LOG_DIR=str(tmp_path)))
    stack = Stack(s)  # what bot.run starts: the web part of it
    assert [svc.name for svc in stack.services] == ["actions", "rasa", "web", "web-2"]
    assert {svc.port for svc in stack.services if svc.name.startswith("web")} == {s.web_port}
    supervisor = Supervisor(web_services(s, sys.executable), REPO_ROOT, startup_timeout=60)
    loop = asyncio.get_running_loop()
    # Healthy means each worker answered a probe on the shared port itself (/healthz names the worker).
    supervisor.start_all(s.child_env(os.environ))
    try:
        ticket = await open_ticket(s, new_sender())  # the shared internal handoff port answers too
        assert ticket["status"] in ("waiting", "collecting")
        dead = supervisor.service("web-2")
        supervisor.kill("web-2", signal.SIGKILL)  # a crash
        deadline = loop.time() + 30
        while dead.restarts == 0 or not dead.healthy(await loop.run_in_executor(None, http_get, dead.health_url)):
            assert loop.time() < deadline, f"web-2 not restarted; see {dead.log_path}"
            supervisor.supervise()
            await asyncio.sleep(0.2)
        assert supervisor.service("web").running() and dead.running()
    finally:
        supervisor.stop()


@pytest.mark.asyncio
async def test_when_redis_goes_away_sockets_are_closed_to_catch_up_and_live_events_resume_with_it(
        cluster, helpers, tmp_path):
    import redis

    loop = asyncio.get_running_loop()
    port = free_ports(1)[0]
    redis_server = running_redis(tmp_path / "redis", port)
    redis_url = redis_server.__enter__()
    s = Settings.from_env(web_env(cluster.database_url, redis_url, cluster.rasa.url, tmp_path / "metrics",
                                  LOG_DIR=str(tmp_path)))
    supervisor = Supervisor(web_services(s, sys.executable)[:1], REPO_ROOT, startup_timeout=60)
    supervisor.start_all(s.child_env(os.environ))
    console, person = Console(s.web_url), Person(s.web_url)
    try:
        await console.login(helpers[1])
        board, page = await console.connect(), await person.connect()
        redis_server.__exit__(None, None, None)  # Redis stops: frames published meanwhile would be lost
        await asyncio.wait_for(board.closed.wait(), 15)  # so the process closes its sockets: clients reconnect
        await asyncio.wait_for(page.closed.wait(), 15)
        redis_server = running_redis(tmp_path / "redis", port)
        redis_server.__enter__()
        probe = redis.Redis.from_url(redis_url)
        deadline = loop.time() + 30
        while dict(probe.pubsub_numsub("shenqian:live")).get(b"shenqian:live", 0) < 1:  # subscribed again
            assert loop.time() < deadline, "the web process did not subscribe again"
            await asyncio.sleep(0.2)
        probe.close()
        board = await console.connect()
        await open_ticket(s, person.sender)
        await board.wait_for(lambda f: new_ticket(f, person))  # live again
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{s.web_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as r:
                errors = parse_exposition(await r.text())["assistant_errors_total"]["samples"]
        assert errors[("assistant_errors_total", (("kind", "live_events"),))] >= 1
    finally:
        await person.close()
        await console.close()
        supervisor.stop()
        redis_server.__exit__(None, None, None)


def test_settings_refuse_several_web_processes_without_pubsub():
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match="WEB_WORKERS=2 needs PUBSUB_URL"):
        Settings.from_env({"WEB_WORKERS": "2"})
    with pytest.raises(SettingsError, match="PUBSUB_URL must be a redis:// or rediss:// or unix:// address"):
        Settings.from_env({"WEB_WORKERS": "2", "PUBSUB_URL": "http://x"})
    assert Settings.from_env({}).web_workers == 1 and Settings.from_env({}).pubsub_url is None

