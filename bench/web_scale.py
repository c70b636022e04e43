"""Live events across web processes: what a handoff message costs on the embedded default and on the scale-out.

    .venv/bin/python -m bench.web_scale [--people 20] [--rounds 5] [--helpers 4]
    RATING_IDLE_MINUTES=0 .venv/bin/python -m bench.web_scale   # without the idle timers' SQL writes

Two layouts in the same run, without Rasa (tickets are opened through the internal API, as the action server
does; turns to the bot are not part of this figure, see bench.handoff_latency and the Rasa half's bench):

- *embedded*: one web process, SQLite, live events in-process (the default of `make run`);
- *scale-out*: two web processes on PostgreSQL with Redis pub/sub (PUBSUB_URL); every person's page is on the
  first process, every helper's console on the second, so every push crosses processes through Redis.

PostgreSQL and Redis are Debian's, started in temporary folders (tests/support/engines.py). Per round,
`--people` persons at once have a claimed ticket; then
- *helper → page*: each helper sends one message to each of their persons at the same moment (POST to the
  frame on the person's page socket), then the same again one message at a time;
- *person → console*: every person writes at the same moment (`POST /api/chat`, routed to the helper) until the
  frame on the helper's console socket;
- *bot turn through the web*: after hand-back, every person asks the bot at the same moment (`POST /api/chat` to
  a Rasa stand-in that answers at once, tests/support/rasa_standin.py): the web server's own share of a turn
  (signature, handoff lookup, idle timer in SQL, the call), without Rasa's.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp

from bench.handoff_latency import PASSWORD, Helper, Person, bench_config
from bench.stats import percentile
from bot.run import web_services
from bot.settings import Settings
from bot.supervisor import Supervisor, free_ports

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))
from support.engines import running_postgres, running_redis  # noqa: E402
from support.rasa_standin import RasaStandIn  # noqa: E402

QUEUE = "zonghe"  # tickets without a matter go to the default queue of the shipped handoff.yml
SECRET = "bench-handoff-secret"


def start_web(tmp: Path, config: Path, database_url: str, pubsub_url: str, worker: int, workers: int,
              rasa_url: str) -> tuple:
    web_port, handoff_port = free_ports(2)
    env = {"HOST": "127.0.0.1", "WEB_PORT": str(web_port), "HANDOFF_PORT": str(handoff_port),
           "HANDOFF_SECRET": SECRET, "DATABASE_URL": database_url, "RASA_URL": rasa_url,
           "WEB_SECRET": "bench-web-secret", "WEB_WORKERS": str(workers), "LOG_DIR": str(tmp),
           "METRICS_DIR": str(tmp / "metrics"), "HANDOFF_CONFIG": str(config),
           "RATING_IDLE_MINUTES": os.environ.get("RATING_IDLE_MINUTES", "5")}
    if pubsub_url:
        env["PUBSUB_URL"] = pubsub_url
    settings = Settings.from_env(env)
    service = web_services(settings, sys.executable)[worker]
    service.log_path = tmp / f"web-{worker}.log"
    supervisor = Supervisor([service], REPO_ROOT, startup_timeout=60)
    supervisor.start_all(settings.child_env(os.environ))
    return settings, supervisor


def add_helpers(database_url: str, config: Path, count: int) -> list:
    names = []
    for index in range(count):
        name = f"bench{index}_{os.getpid()}"
        subprocess.run([sys.executable, "-m", "bot.console", "add-helper", name, "--name", f"帮办{index}",
                        "--staff-no", f"B{index:03d}", "--queue", QUEUE, "--password-stdin"], cwd=REPO_ROOT,
                       input=PASSWORD + "\n", text=True, check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DATABASE_URL=database_url, HANDOFF_CONFIG=str(config)))
        names.append(name)
    return names


async def open_ticket(session: aiohttp.ClientSession, handoff_url: str, sender: str) -> int:
    async with session.post(f"{handoff_url}/internal/handoff/tickets", headers={"X-Handoff-Secret": SECRET},
                            json={"channel": "web", "sender": sender, "reason": "request_human", "matter": None,
                                  "summary": "bench", "problem": None, "transcript": []}) as resp:
        return (await resp.json())["ticket_id"]


async def measure(page_web: Settings, console_web: Settings, usernames: list, people: int, rounds: int) -> dict:
    helpers = [Helper(console_web.web_url, name) for name in usernames]
    for helper in helpers:
        await helper.login()
    console_frames: dict = {}

    async def read(helper):
        async for msg in helper.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                frame = msg.json()
                if frame.get("type") == "message" and frame["message"]["author"] == "person":
                    future = console_frames.pop(frame["message"]["text"], None)
                    if future is not None and not future.done():
                        future.set_result(time.perf_counter())

    readers = [asyncio.ensure_future(read(h)) for h in helpers]
    figures = {"helper → page, concurrent": [], "helper → page, one at a time": [], "person → console, concurrent": [],
               "bot turn through the web, concurrent": []}
    async with aiohttp.ClientSession() as session:
        for round_no in range(rounds):
            persons = [Person(page_web.web_url) for _ in range(people)]
            await asyncio.gather(*(p.connect() for p in persons))
            tickets = [await open_ticket(session, page_web.handoff_url, p.sender) for p in persons]
            owners = [helpers[i % len(helpers)] for i in range(people)]
            await asyncio.gather(*(h.post(f"/console/tickets/{t}/claim", {}) for h, t in zip(owners, tickets)))

            async def reply(person, helper, ticket_id, text):
                arrived = person.expect(text)
                started = time.perf_counter()
                await helper.post(f"/console/tickets/{ticket_id}/messages", {"text": text})
                return (await asyncio.wait_for(arrived, 30) - started) * 1000

            figures["helper → page, concurrent"] += await asyncio.gather(*(
                reply(p, h, t, f"并发{round_no}-{i}") for i, (p, h, t) in enumerate(zip(persons, owners, tickets))))
            for i, (p, h, t) in enumerate(zip(persons, owners, tickets)):
                figures["helper → page, one at a time"].append(await reply(p, h, t, f"逐条{round_no}-{i}"))

            async def write(person, text):
                arrived = asyncio.get_running_loop().create_future()
                console_frames[text] = arrived
                started = time.perf_counter()
                await person.say(text)
                return (await asyncio.wait_for(arrived, 30) - started) * 1000

            figures["person → console, concurrent"] += await asyncio.gather(*(
                write(p, f"群众{round_no}-{i}") for i, p in enumerate(persons)))
            await asyncio.gather(*(h.post(f"/console/tickets/{t}/handback", {"resolution": "answered"})
                                   for h, t in zip(owners, tickets)))

            async def turn(person, text):
                started = time.perf_counter()
                reply = await person.say(text)
                if not reply["messages"]:
                    raise RuntimeError(f"no bot answer: {reply}")
                return (time.perf_counter() - started) * 1000

            for repeat in range(5):
                figures["bot turn through the web, concurrent"] += await asyncio.gather(*(
                    turn(p, f"公积金提取要带什么{repeat}") for p in persons))
            for p in persons:
                await p.close()
    for reader in readers:
        reader.cancel()
    for helper in helpers:
        await helper.close()
    return figures


def report(layout: str, figures: dict) -> None:
    for case, values in figures.items():
        print(f"| {layout} | {case} | {len(values)} | {percentile(values, 0.5):.1f} | {percentile(values, 0.99):.1f} "
              f"| {max(values):.1f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_scale")
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--helpers", type=int, default=4)
    args = parser.parse_args(argv)
    print("| layout | case | n | p50 ms | p99 ms | max ms |\n|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-web-scale-") as folder, ExitStack() as stack:
        tmp = Path(folder)
        rasa = RasaStandIn().start()
        stack.callback(rasa.stop)
        config = bench_config(tmp)  # the shipped handoff.yml, open around the clock
        sqlite_url = f"sqlite:///{tmp / 'embedded.sqlite3'}"
        names = add_helpers(sqlite_url, config, args.helpers)
        one, supervisor = start_web(tmp / "embedded", config, sqlite_url, "", 0, 1, rasa.url)
        stack.callback(supervisor.stop)
        report("embedded (1 process, SQLite, in-process)",
               asyncio.run(measure(one, one, names, args.people, args.rounds)))
        supervisor.stop()

        postgres_url = stack.enter_context(running_postgres())
        redis_url = stack.enter_context(running_redis(tmp / "redis"))
        names = add_helpers(postgres_url, config, args.helpers)
        first, sup_a = start_web(tmp / "a", config, postgres_url, redis_url, 0, 2, rasa.url)
        stack.callback(sup_a.stop)
        second, sup_b = start_web(tmp / "b", config, postgres_url, redis_url, 1, 2, rasa.url)
        stack.callback(sup_b.stop)
        report("scale-out (2 processes, PostgreSQL, Redis; page and console apart)",
               asyncio.run(measure(first, second, names, args.people, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
