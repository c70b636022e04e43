"""Hardening figures on the running stack (BENCHMARKS.md, "Hardening").

    .venv/bin/python -m bench.hardening [--long 1000] [--people 20,200] [--turns 3]

1. Rasa's memory (RSS) before and after `--long` messages of the maximum length and beyond (20,000 characters,
   cut to 1,000 by the REST channel), sent back to back through REST; and the reply time of a normal question
   before and after.
2. Many people at once through our page's /api/chat (each asks `--turns` questions back to back): turns, how many
   got a non-200 (busy = 503 past the web server's queue bound), p50 / p99 per turn, for each crowd size in the
   same run (the first one is the baseline).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid

import aiohttp
import requests

from bench.stack import fresh_catalog, stack_settings
from bot.run import Stack
from bench.stats import percentile

QUESTIONS = ["公积金提取要带什么", "那要多久？", "在哪办？", "营业执照怎么办", "个体户"]
LONG = "公积金提取要带什么材料" + "。" * 19_990


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed_rest(rasa_url: str, text: str) -> float:
    started = time.perf_counter()
    requests.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": f"mem-{uuid.uuid4().hex[:10]}",
                                                             "message": text}, timeout=120).raise_for_status()
    return (time.perf_counter() - started) * 1000


async def crowd(web_url: str, people: int, turns: int) -> dict:
    timings, statuses = [], []

    async def person(session: aiohttp.ClientSession, number: int) -> None:
        async with session.post(f"{web_url}/api/session") as resp:
            sender = (await resp.json())["sender"]
        for turn in range(turns):
            started = time.perf_counter()
            try:
                async with session.post(f"{web_url}/api/chat", json={"sender": sender,
                                                                      "message": QUESTIONS[turn % len(QUESTIONS)]}) as resp:
                    await resp.read()
                    statuses.append(resp.status)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                statuses.append(type(exc).__name__)
            timings.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=180)) as session:
        await asyncio.gather(*(person(session, n) for n in range(people)))
    elapsed = time.perf_counter() - started
    return {"people": people, "turns": len(statuses), "errors": sum(1 for s in statuses if s != 200),
            "busy": sum(1 for s in statuses if s == 503), "p50": statistics.median(timings),
            "p99": percentile(timings, 0.99), "turns_per_s": len(statuses) / elapsed}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", type=int, default=1000)
    parser.add_argument("--people", default="20,200")
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = stack_settings(tmp, fresh_catalog(tmp))
        stack = Stack(settings)
        stack.start()
        try:
            rasa_pid = stack.service("rasa").proc.pid
            for _ in range(5):
                timed_rest(stack.settings.rasa_url, QUESTIONS[0])
            if args.long:  # --long 0: the crowd alone
                before_ms = statistics.median(timed_rest(stack.settings.rasa_url, QUESTIONS[0]) for _ in range(20))
                before = rss_mb(rasa_pid)
                long_ms = [timed_rest(stack.settings.rasa_url, LONG) for _ in range(args.long)]
                after = rss_mb(rasa_pid)
                after_ms = statistics.median(timed_rest(stack.settings.rasa_url, QUESTIONS[0]) for _ in range(20))
                print(f"Rasa RSS before {before:.0f} MB, after {args.long} messages of 20,000 characters "
                      f"{after:.0f} MB (+{after - before:.0f} MB); long turn p50 {statistics.median(long_ms):.0f} ms, "
                      f"p99 {percentile(long_ms, 0.99):.0f} ms; a normal question p50 {before_ms:.0f} ms before, "
                      f"{after_ms:.0f} ms after")
            print(f"{'people':>6} {'turns':>6} {'errors':>6} {'busy':>5} {'p50 ms':>8} {'p99 ms':>8} {'turns/s':>8}")
            for people in (int(p) for p in args.people.split(",")):
                r = asyncio.run(crowd(stack.settings.web_url, people, args.turns))
                print(f"{r['people']:6d} {r['turns']:6d} {r['errors']:6d} {r['busy']:5d} {r['p50']:8.0f} "
                      f"{r['p99']:8.0f} {r['turns_per_s']:8.1f}")
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
