"""Turn latency through the running Rasa server (REST channel), with a baseline in the same run.

    .venv/bin/python -m bench.turn_latency [--turns 200]

Starts the whole stack on free ports (as `make run` does, with a fresh catalog database), then times:
- baseline: a greeting, answered by a rule and a static response (no custom action, no catalog);
- materials: a colloquial materials question, answered by action_answer (search + catalog + rendering);
- follow-up: "那要多久？" resolved from the conversation's matter.
Prints p50/p99 in milliseconds and each case's p50 as a ratio to the baseline's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bot.run import Stack, free_ports
from bot.settings import Settings

CASES = [
    ("baseline (greet, no action)", ["你好"]),
    ("materials question", ["我想开个饭店，要办哪些证，需要带什么材料"]),
    ("materials + follow-up", ["公积金提取要带什么", "那要多久？"]),
]


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def time_case(rasa_url: str, messages, turns: int):
    url = f"{rasa_url}/webhooks/rest/webhook"
    timings = []
    session = requests.Session()
    for _ in range(turns):
        sender = f"bench-{uuid.uuid4().hex[:12]}"
        for text in messages:
            started = time.perf_counter()
            response = session.post(url, json={"sender": sender, "message": text}, timeout=30)
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            if not response.json():
                raise RuntimeError(f"no reply to {text!r}")
    return timings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'catalog.sqlite3'}"
        subprocess.run([sys.executable, "-m", "knowledge", "--database-url", url, "load"], check=True)
        rasa_port, action_port, web_port = free_ports(3)
        settings = Settings.from_env(dict(os.environ, RASA_PORT=str(rasa_port), ACTION_PORT=str(action_port),
                                          WEB_PORT=str(web_port), DATABASE_URL=url, LOG_DIR=tmp))
        stack = Stack(settings)
        stack.start()
        try:
            for _, messages in CASES:  # warm-up: first calls load jieba, TensorFlow graphs, DB connections
                time_case(settings.rasa_url, messages, 5)
            results = [(name, time_case(settings.rasa_url, messages, args.turns)) for name, messages in CASES]
        finally:
            stack.stop()
    base = statistics.median(results[0][1])
    print(f"{'case':32} {'turns':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50 / baseline':>15}")
    for name, timings in results:
        p50 = statistics.median(timings)
        print(f"{name:32} {len(timings):6d} {p50:8.1f} {percentile(timings, 0.99):8.1f} {p50 / base:15.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
