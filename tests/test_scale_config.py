"""Configuration of the scaled layout without servers: the endpoints file Rasa reads, the proxy's file HAProxy
checks, the ring that routes our page's people, and the variables that choose them."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from bot import endpoints, proxy
from bot.settings import REPO_ROOT as REPO
from bot.clients.ring import HashRing
from bot.settings import Settings, SettingsError


def read_endpoints(tmp_path, settings: Settings, name: str, **env):
    from rasa.utils.endpoints import read_endpoint_config

    path = tmp_path / "endpoints.yml"
    path.write_text(endpoints.render(settings), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"ACTION_ENDPOINT_URL": "http://127.0.0.1:1/webhook", "ACTION_TOKEN": "t", **env}.items():
            patch.setenv(key, value)
        return read_endpoint_config(str(path), name)


def test_by_default_rasa_gets_todays_sqlite_tracker_store_and_no_lock_store(tmp_path):
    settings = Settings.from_env({"TRACKER_DB": str(tmp_path / "t.sqlite3")})
    assert settings.tracker_store_url == f"sqlite:///{tmp_path / 't.sqlite3'}"
    assert settings.rasa_worker_ports == [5005] and settings.action_workers == 1
    tracker = read_endpoints(tmp_path, settings, "tracker_store")
    assert tracker.type == "SQL" and tracker.kwargs == {"dialect": "sqlite", "db": str(tmp_path / "t.sqlite3")}
    assert read_endpoints(tmp_path, settings, "lock_store") is None
    assert read_endpoints(tmp_path, settings, "action_endpoint").url == "http://127.0.0.1:1/webhook"


def test_postgresql_and_redis_by_url_with_passwords_kept_out_of_the_file(tmp_path):
    settings = Settings.from_env({"TRACKER_STORE_URL": "postgresql://rasa:s%40cret@db.internal:5433/trackers",
                                  "LOCK_STORE_URL": "redis://:hush@cache.internal:6380/3"})
    text = endpoints.render(settings)
    assert "s@cret" not in text and "hush" not in text
    secrets = endpoints.process_env(settings)
    tracker = read_endpoints(tmp_path, settings, "tracker_store", **secrets)
    assert (tracker.url, tracker.kwargs["dialect"], tracker.kwargs["port"], tracker.kwargs["db"],
            tracker.kwargs["username"], tracker.kwargs["password"]) == (
        "db.internal", "postgresql", 5433, "trackers", "rasa", "s@cret")
    lock = read_endpoints(tmp_path, settings, "lock_store", **secrets)
    assert (lock.type, lock.url, lock.kwargs["port"], lock.kwargs["db"], lock.kwargs["password"]) == (
        "bot.lock_store.RedisTicketLockStore", "cache.internal", 6380, 3, "hush")
    assert settings.child_env({})["TICKET_LOCK_LIFETIME"] == "15"


@pytest.mark.parametrize("name, value", [("TRACKER_STORE_URL", "mysql://u:pw@h/db"),
                                         ("LOCK_STORE_URL", "http://cache:6379"),
                                         ("RASA_WORKERS", "0"), ("ACTION_WORKERS", "many"),
                                         ("RASA_WORKERS", "2")])  # without LOCK_STORE_URL
def test_a_wrong_scale_variable_is_named_and_no_password_echoed(name, value):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert name in str(raised.value) and "pw" not in str(raised.value)


def test_several_rasa_processes_sit_on_the_ports_after_the_proxy():
    settings = Settings.from_env({"RASA_PORT": "7000", "RASA_WORKERS": "3", "LOCK_STORE_URL": "redis://127.0.0.1:6379/0"})
    assert settings.rasa_url == "http://127.0.0.1:7000"
    assert settings.rasa_worker_urls == ["http://127.0.0.1:7001", "http://127.0.0.1:7002", "http://127.0.0.1:7003"]


def test_the_proxy_file_is_valid_for_haproxy_with_one_server_per_rasa_process(tmp_path):
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    settings = Settings.from_env({"RASA_PORT": "7000", "RASA_WORKERS": "3", "LOCK_STORE_URL": "redis://127.0.0.1:6379/0"})
    text = proxy.render(settings, (settings.project_dir / proxy.TEMPLATE).read_text(encoding="utf-8"))
    assert [line.split()[-1] for line in text.splitlines() if line.strip().startswith("server ")] == [
        "127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]
    assert "bind 127.0.0.1:7000" in text and "nbsrv(rasa) lt 3" in text
    (tmp_path / "haproxy.cfg").write_text(text, encoding="utf-8")
    check = subprocess.run([haproxy, "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_ring_gives_each_person_one_process_and_moves_only_a_lost_processs_people():
    nodes = ["http://a", "http://b", "http://c"]
    ring, smaller = HashRing(nodes), HashRing(nodes[:2])
    people = [f"person-{i}" for i in range(3000)]
    owners = {p: ring.owner(p) for p in people}
    shares = [list(owners.values()).count(n) / len(people) for n in nodes]
    assert all(0.2 < share < 0.47 for share in shares), shares
    assert all(smaller.owner(p) == owners[p] for p in people if owners[p] != "http://c")
    assert HashRing(list(reversed(nodes))).owner("person-1") == owners["person-1"]  # same on every web process


def test_a_process_marked_down_is_tried_last_until_it_answers_again():
    now = [0.0]
    ring = HashRing(["http://a", "http://b"], down_seconds=5, clock=lambda: now[0])
    person = next(p for p in (f"p{i}" for i in range(100)) if ring.owner(p) == "http://a")
    ring.mark_down("http://a")
    assert ring.order(person) == ["http://b", "http://a"]
    now[0] = 6.0
    assert ring.order(person) == ["http://a", "http://b"]


@pytest.mark.asyncio
async def test_a_turn_waiting_behind_a_dead_processs_ticket_is_served_once_it_expires(redis_url):
    """Rasa's own Redis lock store polls forever here (both tickets expire in the same poll); ours serves it."""
    import asyncio
    import time
    from urllib.parse import urlsplit

    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import EndpointConfig

    config = endpoints.lock_store_config(redis_url)
    store = LockStore.create(EndpointConfig(url=config.pop("url"), **config))
    assert type(store).__name__ == "RedisTicketLockStore" and urlsplit(redis_url).port == config["port"]
    store.issue_ticket("dead-holder", 2)  # a process that died holding it
    started = time.monotonic()
    async with store.lock("dead-holder", lock_lifetime=2):
        waited = time.monotonic() - started
    assert 1.5 < waited < 5
    order = []

    async def turn(number: int, hold: float) -> None:
        async with store.lock("two-turns", lock_lifetime=10, wait_time_in_seconds=0.1):
            order.append(number)
            await asyncio.sleep(hold)
            order.append(number)

    await asyncio.gather(turn(1, 0.5), turn(2, 0))
    assert order == [1, 1, 2, 2]  # one turn at a time, in order


@pytest.mark.asyncio
async def test_the_web_servers_rasa_client_moves_a_person_on_and_resends_the_same_turn(aiohttp_server, free_ports):
    """A process that drops the turn (closes the connection) or refuses it: the person goes to the next process
    on the ring with the same turn id (so a turn already stored is answered from the tracker, not stored twice)."""
    import aiohttp
    from aiohttp import web

    from bot.clients.rasa import RasaClient

    seen = []

    def rasa(name: str, drop: bool):
        async def webhook(request: web.Request) -> web.StreamResponse:
            seen.append((name, request.headers.get("X-Request-ID")))
            if drop:
                request.transport.close()  # killed mid-turn: no answer
            return web.json_response([{"text": f"{name} 答"}])

        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", webhook)
        return app

    dropping, answering = await aiohttp_server(rasa("a", True)), await aiohttp_server(rasa("b", False))
    urls = [str(server.make_url("")).rstrip("/") for server in (dropping, answering)]
    refused = f"http://127.0.0.1:{free_ports(1)[0]}"
    async with aiohttp.ClientSession() as session:
        client = RasaClient(session, urls)
        person = next(p for p in (f"p{i}" for i in range(200)) if client.ring.owner(p) == urls[0])
        assert [m["text"] for m in await client.send(person, "你好")] == ["b 答"]
        assert [name for name, _ in seen] == ["a", "b"] and seen[0][1] == seen[1][1] and seen[0][1]
        assert client.ring.order(person)[0] == urls[1]  # stays on the next process while the first is down
        client = RasaClient(session, [refused, urls[1]])
        person = next(p for p in (f"p{i}" for i in range(200)) if client.ring.owner(p) == refused)
        assert [m["text"] for m in await client.send(person, "你好")] == ["b 答"]


def test_the_launcher_of_systemd_and_compose_writes_the_file_and_hands_rasa_the_passwords(tmp_path):
    """`python -m bot.endpoints COMMAND` (deploy/): the command gets the file's path and the passwords, the file
    keeps none."""
    import os
    import sys

    from bot.supervisor import free_ports

    probe = ("import os, sys; text = open(sys.argv[1], encoding='utf-8').read(); "
             "print(os.environ['TRACKER_STORE_PASSWORD'], os.environ['LOCK_STORE_PASSWORD'], 's@cret' in text)")
    env = dict(os.environ, RASA_PORT=str(free_ports(1)[0]),
               TRACKER_STORE_URL="postgresql://rasa:s%40cret@db.internal:5433/trackers",
               LOCK_STORE_URL="redis://:hush@cache.internal:6380/3")
    done = subprocess.run([sys.executable, "-m", "bot.endpoints", sys.executable, "-c", probe, "{endpoints}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    path = REPO / "var" / f"endpoints-{env['RASA_PORT']}.yml"
    try:
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["s@cret", "hush", "False"]
        printed = subprocess.run([sys.executable, "-m", "bot.endpoints"], cwd=REPO, env=env, capture_output=True,
                                 text=True, timeout=60)
        assert printed.stdout.strip() == str(path)
    finally:
        path.unlink(missing_ok=True)
