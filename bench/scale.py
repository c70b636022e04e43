"""Scale-out in one run: the embedded layout against PostgreSQL + Redis with one and two Rasa processes.

    .venv/bin/python -m bench.scale [--people 20 200] [--turns 5]

For each layout, one stack after the other on this machine (the same catalog, model and questions):
- embedded: SQLite tracker store, in-memory lock store, one Rasa process (`make run` with nothing set);
- pg+redis ×1: PostgreSQL tracker store, Redis lock store, one Rasa process;
- pg+redis ×2: the same with two Rasa processes (RASA_WORKERS=2) behind HAProxy;
- sqlite ×2: two Rasa processes on the SQLite file with the Redis lock store (the cheapest scale-out).
`--people` persons at once each have `--turns`-turn conversations on our page (POST /api/chat, the web
server's ring routes each person to one Rasa process); small crowds have several conversations each, one after
the other, so that every crowd size measures at least `--min-turns` turns (1 person: the cost of a turn alone).
Prints throughput (turns/s), p50/p99 per turn, errors, and for the PostgreSQL layouts whether every message is
in the tracker store once and in order.
RASA_IN_FLIGHT is 8 per Rasa process. PostgreSQL and Redis are Debian's, started in a temporary folder.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import aiohttp

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the test harness's servers and people (tests/support)

from bench.stats import percentile  # noqa: E402
from support.engines import create_database, running_postgres, running_redis  # noqa: E402
from support.scale import FIVE_TURNS, page_turn, stored_turns  # noqa: E402
from support.stack import load_catalog, running_stack, web_sender  # noqa: E402

LAYOUTS = ["embedded", "pg+redis x1", "pg+redis x2", "sqlite x2"]


def layout_env(name: str, postgres: str, redis: str, index: int) -> Dict[str, str]:
    workers = 2 if name.endswith("x2") else 1
    env = {"RASA_WORKERS": str(workers), "RASA_IN_FLIGHT": str(8 * workers)}
    if name.startswith("pg"):
        env["TRACKER_STORE_URL"] = create_database(postgres, f"bench_trackers_{index}")
    if name != "embedded":
        env["LOCK_STORE_URL"] = redis
    return env


async def crowd(web_url: str, people: int, turns: int, rounds: int = 1) -> dict:
    """`people` persons at once, each having `rounds` conversations of `turns` turns one after the other (a new
    sender each); latencies, errors and what each conversation heard."""
    latencies: List[float] = []
    errors: List[str] = []
    heard: Dict[str, list] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def conversation() -> None:
            sender = web_sender()
            heard[sender] = []
            for message in (FIVE_TURNS * turns)[:turns]:
                started = time.perf_counter()
                try:
                    replies = await page_turn(session, web_url, sender, message)
                except (AssertionError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:80]}")
                    return  # the rest of a broken conversation would not compare
                latencies.append(time.perf_counter() - started)
                heard[sender].append((message, replies))

        async def person() -> None:
            for _ in range(rounds):
                await conversation()

        started = time.perf_counter()
        await asyncio.gather(*(person() for _ in range(people)))
        wall = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "heard": heard, "wall": wall}


def in_order(tracker_url: Optional[str], heard: dict) -> str:
    if tracker_url is None:
        return "-"
    stored = stored_turns(tracker_url, list(heard))
    bad = sum(1 for sender, turns in heard.items() if stored[sender] != turns)
    return "yes" if bad == 0 else f"NO ({bad} people differ)"


def measure(name: str, env: Dict[str, str], catalog: str, logs: Path, people: List[int], turns: int,
            min_turns: int) -> list:
    rows = []
    with running_stack(catalog, logs, **env) as stack:
        web_url = stack.settings.web_url
        asyncio.run(crowd(web_url, 4, 5))  # warm-up: jieba, TensorFlow graphs, connections
        for count in people:
            rounds = max(1, -(-min_turns // (count * turns)))  # small crowds talk longer: enough turns to measure
            result = asyncio.run(crowd(web_url, count, turns, rounds))
            lat = result["latencies"]
            rows.append({
                "layout": name, "people": count, "turns": len(lat), "wall": result["wall"],
                "throughput": len(lat) / result["wall"], "p50": percentile(lat, 0.5) * 1000,
                "p99": percentile(lat, 0.99) * 1000, "errors": len(result["errors"]),
                "in_order": in_order(env.get("TRACKER_STORE_URL"), result["heard"]),
            })
            print(f"  {name:12s} {count:4d} people: {rows[-1]['throughput']:.1f} turns/s, "
                  f"p50 {rows[-1]['p50']:.0f} ms, p99 {rows[-1]['p99']:.0f} ms, errors {len(result['errors'])}"
                  + (f" (first: {result['errors'][0]})" if result["errors"] else ""), flush=True)
    return rows


def report(rows: list) -> None:
    print("\n| layout | people | turns | turns/s | p50 ms | p99 ms | errors | tracker in order |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['layout']} | {r['people']} | {r['turns']} | {r['throughput']:.1f} | {r['p50']:.0f} | "
              f"{r['p99']:.0f} | {r['errors']} | {r['in_order']} |")
    by = {(r["layout"], r["people"]): r for r in rows}
    print()
    for count in sorted({r["people"] for r in rows}):
        base, pg1, pg2, sq2 = (by.get((name, count)) for name in LAYOUTS)
        if base and pg1:
            print(f"{count} people: PostgreSQL+Redis / embedded, p50 per turn: {pg1['p50'] / base['p50']:.2f}x, "
                  f"throughput {pg1['throughput'] / base['throughput']:.2f}x")
        if pg1 and pg2:
            print(f"{count} people: 2 Rasa processes / 1 (PostgreSQL), throughput: "
                  f"{pg2['throughput'] / pg1['throughput']:.2f}x")
        if base and sq2:
            print(f"{count} people: 2 Rasa processes / 1 (SQLite), throughput: "
                  f"{sq2['throughput'] / base['throughput']:.2f}x")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--min-turns", type=int, default=200, help="turns measured at least, per crowd size")
    parser.add_argument("--layouts", nargs="+", default=LAYOUTS, choices=LAYOUTS)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        catalog = f"sqlite:///{tmp}/catalog.sqlite3"
        load_catalog(catalog)
        with running_postgres() as postgres, running_redis(Path(tmp) / "redis") as redis:
            for index, name in enumerate(args.layouts):
                print(f"{name}: starting ...", flush=True)
                env = layout_env(name, postgres, redis, index)
                rows += measure(name, env, catalog, Path(tmp) / f"logs-{index}", args.people, args.turns,
                                args.min_turns)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
