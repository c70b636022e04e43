"""Handoff latency with concurrent handoffs, through the real stack (web page API, Rasa, actions, console).

    .venv/bin/python -m bench.handoff_latency [--people 20] [--rounds 5] [--helpers 4]

Starts the whole stack on free ports with a fresh catalog database and the shipped handoff configuration
(office hours widened to the whole week, so the figures do not depend on the time of day). Helpers log in
to the console and keep its WebSocket open. Then, per round, `--people` persons at once:

1. ask a question (so the ticket routes by its matter), then "转人工";
   request -> ticket in an open console: from sending "转人工" to the console's WebSocket frame announcing
   the ticket (Rasa NLU + policy, action server, internal API, SQL, push);
2. the helpers claim all tickets and each sends one message to each of their persons at the same moment;
   helper message -> person: from the helper's POST to the frame on the person's page socket (then the same
   once more, one message at a time, for comparison);
3. the helpers hand everyone back to the bot.

A plain bot turn ("你好" through the same web API) is timed in the same run as the baseline.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

from bot.run import Stack
from bench.stack import fresh_catalog, stack_settings
from bench.stats import percentile

REPO_ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"
QUESTION = "公积金提取要带什么"
QUEUE = "minsheng"


def masked(sender: str) -> str:
    return f"{sender[:4]}****{sender[-2:]}"


def bench_config(tmp: Path) -> Path:
    data = yaml.safe_load((REPO_ROOT / "bot" / "handoff" / "handoff.yml").read_text(encoding="utf-8"))
    data["office_hours"] = {"description": "bench", "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                            "periods": ["00:00-24:00"], "holidays": []}
    path = tmp / "handoff.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class Helper:
    def __init__(self, web: str, username: str):
        self.web, self.username = web, username
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.ws = None

    async def login(self) -> None:
        async with self.session.get(f"{self.web}/console/login") as resp:
            token = re.search(r'name="login_token" value="([^"]+)"', await resp.text()).group(1)
        async with self.session.post(f"{self.web}/console/login", data={
                "login_token": token, "username": self.username, "password": PASSWORD}) as resp:
            self.csrf = re.search(r'<meta name="csrf-token" content="([^"]*)"', await resp.text()).group(1)
        self.ws = await self.session.ws_connect(f"{self.web}/console/ws")

    async def post(self, path: str, body: dict) -> dict:
        async with self.session.post(f"{self.web}{path}", json=body, headers={"X-CSRF-Token": self.csrf}) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise RuntimeError(f"{path}: {resp.status} {data}")
            return data

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.session.close()


class Person:
    def __init__(self, web: str):
        self.web = web
        self.sender = ""  # issued by the server (connect)
        self.session = aiohttp.ClientSession()
        self.waiting = {}  # text -> future of its arrival time
        self.ws = None
        self.reader = None

    async def connect(self) -> None:
        async with self.session.post(f"{self.web}/api/session") as resp:
            self.sender = (await resp.json())["sender"]
        self.ws = await self.session.ws_connect(f"{self.web}/api/events?sender={self.sender}&after=0")
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = msg.json()
            if frame.get("type") == "message":
                future = self.waiting.pop(frame.get("text"), None)
                if future is not None and not future.done():
                    future.set_result(time.perf_counter())

    def expect(self, text: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiting[text] = future
        return future

    async def say(self, text: str) -> dict:
        async with self.session.post(f"{self.web}/api/chat", json={"sender": self.sender, "message": text}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"chat answered {resp.status}: {await resp.text()}")
            return await resp.json()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
        await self.session.close()


async def watch_console(helpers, announced: dict) -> list:
    async def ping(helper):  # what the console page does: keeps the helper on duty
        while True:
            await asyncio.sleep(15)
            await helper.ws.send_str('{"type":"ping"}')

    async def read(helper):
        async for msg in helper.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = msg.json()
            if frame.get("type") == "ticket" and frame["ticket"].get("new"):
                future = announced.get(frame["ticket"]["person"])
                if future is not None and not future.done():
                    future.set_result((time.perf_counter(), frame["ticket"]["id"]))
    return [asyncio.ensure_future(task(h)) for h in helpers for task in (read, ping)]


async def run(web: str, usernames, people: int, rounds: int):
    helpers = [Helper(web, name) for name in usernames]
    for helper in helpers:
        await helper.login()
    announced: dict = {}
    readers = await watch_console(helpers, announced)
    to_console, to_person, baseline, alone = [], [], [], []
    try:
        warm = Person(web)
        await warm.connect()  # the server issues sender ids
        for index in range(60):  # the first turns load TensorFlow graphs: not counted
            started = time.perf_counter()
            await warm.say("你好")
            if index >= 10:
                baseline.append((time.perf_counter() - started) * 1000)
        await warm.close()
        for round_no in range(rounds):
            persons = [Person(web) for _ in range(people)]
            await asyncio.gather(*(p.connect() for p in persons))
            await asyncio.gather(*(p.say(QUESTION) for p in persons))
            for p in persons:
                announced[masked(p.sender)] = asyncio.get_running_loop().create_future()

            async def request(p):
                started = time.perf_counter()
                reply = await p.say("转人工")
                if not any("已为您转接" in (m.get("text") or "") for m in reply["messages"]):
                    raise RuntimeError(f"no handoff for {p.sender}: {reply}")
                arrived, ticket_id = await asyncio.wait_for(announced[masked(p.sender)], 30)
                to_console.append((arrived - started) * 1000)
                return ticket_id

            tickets = await asyncio.gather(*(request(p) for p in persons))
            owners = [helpers[i % len(helpers)] for i in range(len(persons))]
            await asyncio.gather(*(h.post(f"/console/tickets/{t}/claim", {}) for h, t in zip(owners, tickets)))

            async def reply(p, helper, ticket_id, index):
                text = f"第{round_no}轮第{index}位，您好"
                arrival = p.expect(text)
                started = time.perf_counter()
                await helper.post(f"/console/tickets/{ticket_id}/messages", {"text": text})
                to_person.append((await asyncio.wait_for(arrival, 30) - started) * 1000)

            await asyncio.gather(*(reply(p, h, t, i) for i, (p, h, t) in enumerate(zip(persons, owners, tickets))))
            for index, (p, h, t) in enumerate(zip(persons, owners, tickets)):  # the same, one at a time
                text = f"第{round_no}轮第{index}位，单独一条"
                arrival = p.expect(text)
                started = time.perf_counter()
                await h.post(f"/console/tickets/{t}/messages", {"text": text})
                alone.append((await asyncio.wait_for(arrival, 30) - started) * 1000)
            await asyncio.gather(*(h.post(f"/console/tickets/{t}/handback", {"resolution": "answered"})
                                   for h, t in zip(owners, tickets)))
            await asyncio.gather(*(p.close() for p in persons))
    finally:
        for reader in readers:
            reader.cancel()
        for helper in helpers:
            await helper.close()
    return baseline, to_console, to_person, alone


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=20, help="concurrent handoffs per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--helpers", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        url = fresh_catalog(tmp)
        config = bench_config(tmp_path)
        env = dict(os.environ, DATABASE_URL=url, HANDOFF_CONFIG=str(config))
        usernames = []
        for index in range(args.helpers):
            name = f"bench{index}"
            subprocess.run([sys.executable, "-m", "bot.console", "add-helper", name, "--name", f"帮办{index}",
                            "--staff-no", f"B{index:03d}", "--queue", QUEUE, "--password-stdin"],
                           input=PASSWORD + "\n", text=True, env=env, check=True, stdout=subprocess.DEVNULL)
            usernames.append(name)
        settings = stack_settings(tmp, url, env)
        stack = Stack(settings)
        stack.start()
        try:
            baseline, to_console, to_person, alone = asyncio.run(
                run(settings.web_url, usernames, args.people, args.rounds))
        finally:
            stack.stop()
    print(f"{args.people} concurrent handoffs x {args.rounds} rounds, {args.helpers} helpers with open consoles")
    print(f"{'case':48} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, timings in (("baseline: bot turn through the web API (alone)", baseline),
                          ("request -> ticket in an open console", to_console),
                          ("helper message -> person's page", to_person),
                          ("helper message -> person's page (one at a time)", alone)):
        print(f"{name:48} {len(timings):5d} {statistics.median(timings):8.1f} {percentile(timings, 0.99):8.1f} "
              f"{max(timings):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
