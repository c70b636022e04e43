"""Inbox and conversation-review load times of the trainer's workbench on a large tracker store, and the time
to annotate.

    .venv/bin/python -m bench.train_inbox [--turns 100000]

Writes conversations through Rasa's own SQLTrackerStore into a temporary SQLite file (a mix of answered
questions, fallbacks, clarifying questions, corrections, handoffs and low ratings), multiplies them in SQL under
new sender ids up to the wanted number of user turns, then times `bot.train.inbox.read_inbox` (scan, masking,
grouping, and the labels already in data/nlu, the catalog and the gap list), three times from scratch, and prints
the median; then the web server's case: the kept scan read again after 1,000 new turns. The same for the
conversation review's list (every conversation summed up, then filtered), one conversation read as a chat, the
analytics' figures, and a conversation written as a test story. Last, on a temporary copy of the project's
files, labels as the inbox writes them: an example into data/nlu (median of 5) and a gap line.
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.train import analytics, conversations, stories
from bot.train.annotate import label
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


def _timed(func, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _review(db: Path, tz) -> list:
    """The review list's work: every conversation summed up, then the default filter (all) and a narrow one."""
    found = conversations.summaries(db, tz)
    day = lambda ts: dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d")  # noqa: E731
    conversations.select(found, conversations.Filters(fallback=True, channel="wechat", rating="low"), day, {}, {})
    return found


def _review_figures(db: Path, tz) -> None:
    found = conversations.summaries(db, tz)
    day = lambda ts: dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d")  # noqa: E731
    analytics.figures(found, analytics.day_range("", "", dt.datetime.now(tz).date()), day, {})


def _annotate(project: Path) -> list:
    """Labels into a copy of the project's files: examples (median of 5) and a gap line."""
    for part in ("data/nlu", "knowledge/catalog"):
        shutil.copytree(REPO_ROOT / part, project / part)
    shutil.copy(REPO_ROOT / "domain.yml", project / "domain.yml")
    paths = WorkbenchPaths(project, project / "models")
    examples = [_timed(label, paths, f"第{n}号渔船证要到哪个窗口去办", intent="ask_location") for n in range(5)]
    gap = _timed(label, paths, "养蜂证在哪里办", gap=True)
    return [("annotate: an example into data/nlu (median of 5)",
             statistics.median(t for _, t, _ in examples), statistics.median(c for _, _, c in examples)),
            ("annotate: a gap line", gap[1], gap[2])]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=100_000)
    args = parser.parse_args(argv)
    tz = ZoneInfo("Asia/Shanghai")
    rows = []
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
        found, wall, review_cpu = _timed(_review, db, tz)  # the first review page of a fresh web server
        rows.append((f"review list from scratch ({len(found)} conversations), filtered", wall, review_cpu))
        read_inbox(db, paths)  # the kept scan, then 1,000 new turns, then the next page
        write_conversations(db, {f"new{i}": ("rest", conversation(i)) for i in range(BASE)}, start=time.time())
        before = time.process_time()
        kept = read_inbox(db, paths)
        kept_cpu = time.process_time() - before
        rows.append(("review list after 1,000 new turns (summaries kept)",) + _timed(_review, db, tz)[1:])
        rows.append(("analytics figures, last 30 days",) + _timed(_review_figures, db, tz)[1:])
        stored, wall, chat_cpu = _timed(conversations.events, db, "bench7#5")
        chat, wall2, chat_cpu2 = _timed(conversations.chat, stored)
        rows.append((f"one conversation as a chat ({len(chat)} lines)", wall + wall2, chat_cpu + chat_cpu2))
        project = Path(tmp) / "project"
        rows += _annotate(project)
        rows.append(("turn a conversation into a test story (incl. Rasa's reader)",)
                    + _timed(stories.write_story, project, "bench", stored)[1:])
        size = db.stat().st_size / 2 ** 20
    print(f"tracker store: {turns} user turns, {size:.0f} MiB SQLite (built in {built:.0f} s)")
    print(f"inbox: {inbox.messages} misunderstood messages in {len(inbox.groups)} groups")
    print(f"load time: median {statistics.median(timings):.2f} s wall (runs: {', '.join(f'{t:.2f}' for t in timings)}), "
          f"median {statistics.median(cpu):.2f} s CPU")
    print(f"next reading after 1,000 new turns (kept scan): {kept.seconds:.2f} s wall, {kept_cpu:.2f} s CPU")
    for what, wall, cpu_s in rows:
        print(f"{what}: {wall:.2f} s wall, {cpu_s:.2f} s CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
