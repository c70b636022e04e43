"""Inbox load time of the trainer's workbench on a large tracker store.

    .venv/bin/python -m bench.train_inbox [--turns 100000]

Writes conversations through Rasa's own SQLTrackerStore into a temporary SQLite file (a mix of answered
questions, fallbacks, clarifying questions, corrections, handoffs and low ratings), multiplies them in SQL under
new sender ids up to the wanted number of user turns, then times `bot.train.inbox.read_inbox` (scan, masking,
grouping, and the labels already in data/nlu, the catalog and the gap list), three times from scratch, and prints
the median; then the web server's case: the kept scan read again after 1,000 new turns.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bot.train.inbox import read_inbox
from bot.train.paths import WorkbenchPaths
from bot.train.sample_trackers import SampleTurn as T
from bot.train.sample_trackers import replicate, write_conversations
from bot.settings import REPO_ROOT

ANSWER = dict(actions=("action_answer",), utters=("utter_matter_overview",))
FALLBACK = dict(actions=("action_not_understood",), utters=("utter_default",))
CLARIFY = dict(actions=("action_answer",), utters=("utter_clarify_matter",))
BASE = 100  # conversations written through Rasa; 10 user turns each


def conversation(i: int):
    return [
        T("你好", "greet", 0.99, actions=("utter_greet",), utters=("utter_greet",)),
        T(f"营业执照要带什么材料{i % 7}", "ask_materials", 0.97, **ANSWER),
        T(f"第{i % 13}个渔船证咋弄", "nlu_fallback", 0.3, ranking=[("nlu_fallback", 0.35), ("ask_procedure", 0.3)],
          **FALLBACK),
        T("营业执照", "inform_matter", 0.99, **CLARIFY),
        T('/choose_matter{"matter":"SCJG-GT-SL"}', "choose_matter", 1.0, **ANSWER),
        T(f"公司搬家要多久{i % 5}", "ask_location", 0.9, **ANSWER),
        T("不对，我问的是时间", "deny", 0.8, **ANSWER),
        T(f"我手机1381234{i % 10000:04d}收不到验证码", "ask_online", 0.5, **ANSWER),
        T("转人工", "request_human", 0.99, actions=("action_handoff",), utters=("utter_handoff_queued",)),
        T('/rate{"rating_score":"1"}', "rate", 1.0, actions=("action_rate",), utters=(),
          slots={"rating_low": True}),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "tracker.sqlite3"
        started = time.perf_counter()
        write_conversations(db, {f"bench{i}": ("rest" if i % 3 else "wechat", conversation(i)) for i in range(BASE)})
        turns = replicate(db, max(1, args.turns // (BASE * 10)))
        built = time.perf_counter() - started
        paths = WorkbenchPaths(REPO_ROOT, REPO_ROOT / "models")
        timings, cpu, inbox = [], [], None
        for _ in range(3):  # a full reading, as on the first page of a freshly started web server
            before = time.process_time()
            inbox = read_inbox(db, paths, incremental=False)
            cpu.append(time.process_time() - before)
            timings.append(inbox.seconds)
        read_inbox(db, paths)  # the kept scan, then 1,000 new turns, then the next page
        write_conversations(db, {f"new{i}": ("rest", conversation(i)) for i in range(BASE)}, start=time.time())
        before = time.process_time()
        kept = read_inbox(db, paths)
        kept_cpu = time.process_time() - before
        size = db.stat().st_size / 2 ** 20
    print(f"tracker store: {turns} user turns, {size:.0f} MiB SQLite (built in {built:.0f} s)")
    print(f"inbox: {inbox.messages} misunderstood messages in {len(inbox.groups)} groups")
    print(f"load time: median {statistics.median(timings):.2f} s wall (runs: {', '.join(f'{t:.2f}' for t in timings)}), "
          f"median {statistics.median(cpu):.2f} s CPU")
    print(f"next reading after 1,000 new turns (kept scan): {kept.seconds:.2f} s wall, {kept_cpu:.2f} s CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
