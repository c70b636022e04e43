"""WeChat channel latency under concurrent users, against the REST channel measured in the same run.

    .venv/bin/python -m bench.wechat_latency [--users 20] [--rounds 10] [--question "租房提取公积金要带什么材料"]

Starts the whole stack on free ports with the WeChat channel in safe mode (AES) and a local stand-in for
WeChat's API, then, with `--users` people asking at the same time:
- baseline: the materials question through Rasa's REST channel (what our web page uses);
- wechat: the same question as WeChat sends it (signed, encrypted), timed until the passive reply arrives.
`--think` spreads each user's questions (mean seconds between them); 0 sends them back to back, which saturates
the 2-core machine. Prints p50/p99 in milliseconds, and for WeChat the share of answers that took the asynchronous path
("success" in time, then 客服消息) because they were not ready within the reply budget or did not fit one reply.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the WeChat stand-ins the tests use

from bot.run import Stack  # noqa: E402
from bot.settings import Settings  # noqa: E402
from support.wechat import (AES_KEY, APPID, SECRET, TOKEN, WeChatServer, WeChatStandIn,  # noqa: E402
                            new_openid)
from bench.stack import fresh_catalog, stack_settings  # noqa: E402
from bench.stats import percentile  # noqa: E402


async def rest_user(rasa_url: str, question: str, rounds: int, timings: list, think: float = 0.0) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for _ in range(rounds):
            await asyncio.sleep(random.uniform(0, 2 * think))
            sender = f"bench-{uuid.uuid4().hex[:12]}"
            started = time.perf_counter()
            async with session.post(f"{rasa_url}/webhooks/rest/webhook",
                                    json={"sender": sender, "message": question}) as resp:
                assert resp.status == 200 and await resp.json()
            timings.append((time.perf_counter() - started) * 1000)


async def wechat_user(server: WeChatServer, question: str, rounds: int, timings: list, outcomes: list,
                      think: float = 0.0) -> None:
    for _ in range(rounds):
        await asyncio.sleep(random.uniform(0, 2 * think))
        started = time.perf_counter()
        status, reply = await server.text(new_openid(), question)
        elapsed = (time.perf_counter() - started) * 1000
        assert status == 200, (status, reply)
        outcomes.append("async" if reply == "success" else "passive")
        timings.append(elapsed)


async def run_load(settings: Settings, question: str, users: int, rounds: int, think: float) -> dict:
    server = WeChatServer(settings.rasa_url, aes=True)
    # Warm-up: first calls load jieba, TensorFlow graphs, DB connections.
    await asyncio.gather(*(rest_user(settings.rasa_url, question, 2, []) for _ in range(4)))
    await asyncio.gather(*(wechat_user(server, question, 2, [], []) for _ in range(4)))
    rest: list = []
    await asyncio.gather(*(rest_user(settings.rasa_url, question, rounds, rest, think) for _ in range(users)))
    wechat: list = []
    outcomes: list = []
    await asyncio.gather(*(wechat_user(server, question, rounds, wechat, outcomes, think) for _ in range(users)))
    await asyncio.sleep(3)  # the last follow-up 客服消息
    return {"rest": rest, "wechat": wechat, "outcomes": outcomes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10, help="questions per user and channel")
    # A question that answers its own situation, so the reply is the whole list at once.
    parser.add_argument("--question", default="租房提取公积金要带什么材料")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a user waits before each question (0: back to back, the worst case)")
    args = parser.parse_args(argv)
    standin = WeChatStandIn().start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = stack_settings(tmp, fresh_catalog(tmp), WECHAT_TOKEN=TOKEN, WECHAT_APPID=APPID,
                                  WECHAT_SECRET=SECRET, WECHAT_AES_KEY=AES_KEY, WECHAT_API_BASE_URL=standin.base_url)
        stack = Stack(settings)
        stack.start()
        try:
            results = asyncio.run(run_load(settings, args.question, args.users, args.rounds, args.think))
        finally:
            stack.stop()
            standin.stop()
    base = statistics.median(results["rest"])
    passive = [t for t, o in zip(results["wechat"], results["outcomes"]) if o == "passive"]
    print(f"{args.users} concurrent users, {args.rounds} questions each, think time {args.think:g} s: "
          f"{args.question!r}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'channel':38} {'turns':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50 / baseline':>15}")
    for name, timings in (("baseline: REST channel", results["rest"]),
                          ("wechat: HTTP answer (reply or success)", results["wechat"]),
                          ("wechat: passive replies only", passive)):
        if timings:
            p50 = statistics.median(timings)
            print(f"{name:38} {len(timings):6d} {p50:8.1f} {percentile(timings, 0.99):8.1f} {p50 / base:15.2f}")
    outcomes = results["outcomes"]
    share = outcomes.count("async") / len(outcomes)
    print(f"wechat answers on the asynchronous path (\"success\", then 客服消息): {outcomes.count('async')}/"
          f"{len(outcomes)} ({share:.1%}); 客服消息 received by the stand-in (incl. the rest of long answers): "
          f"{len(standin.sent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
