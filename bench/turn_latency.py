"""Turn latency through the running Rasa server (REST channel), with a baseline in the same run.

    .venv/bin/python -m bench.turn_latency [--turns 200]

Starts the whole stack on free ports (as `make run` does, with a fresh catalog database), then times:
- baseline: a greeting, answered by a rule and a static response (no custom action, no catalog);
- materials: a colloquial materials question, answered by action_answer (search + catalog + rendering);
- follow-up: "那要多久？" resolved from the conversation's matter.
Prints p50/p99 in milliseconds and each case's p50 as a ratio to the baseline's.

    .venv/bin/python -m bench.turn_latency --models models/baseline.tar.gz models/assistant.tar.gz

times the same cases with each model in turn (one stack after the other, same catalog, same run) and
prints each case's p50 as a ratio to the first model's: the cost of new NLU components against today's.
`--first-env NAME=VALUE ...` sets variables for the first model's stack only, e.g. the understanding issue's
comparison (a model trained without the new components, ranking by words only, against today's):

    .venv/bin/python -m bench.turn_latency --models models/baseline.tar.gz models/assistant.tar.gz \
        --first-env MATTER_ENCODER=off
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bot.run import Stack
from bench.stack import fresh_catalog, stack_settings
from bench.stats import percentile

CASES = [
    ("baseline (greet, no action)", ["你好"]),
    ("materials question", ["我想开个饭店，要办哪些证，需要带什么材料"]),
    ("materials + follow-up", ["公积金提取要带什么", "那要多久？"]),
]


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


def run_stack(tmp: str, url: str, turns: int, model: Path = None, extra_env: dict = None):
    env = dict(os.environ, **(extra_env or {}))
    if model is not None:  # Rasa loads the newest model of MODEL_DIR: give it a folder with only this one
        model_dir = Path(tempfile.mkdtemp(dir=tmp))
        (model_dir / model.name).symlink_to(model.resolve())
        env["MODEL_DIR"] = str(model_dir)
    settings = stack_settings(tmp, url, env)
    stack = Stack(settings)
    stack.start()
    try:
        for _, messages in CASES:  # warm-up: first calls load jieba, TensorFlow graphs, DB connections
            time_case(settings.rasa_url, messages, 5)
        return [(name, time_case(settings.rasa_url, messages, turns)) for name, messages in CASES]
    finally:
        stack.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--models", type=Path, nargs="+", help="model files to compare (the first is the reference)")
    parser.add_argument("--first-env", nargs="+", default=[], metavar="NAME=VALUE",
                        help="variables for the first model's stack only")
    args = parser.parse_args(argv)
    first_env = dict(item.split("=", 1) for item in args.first_env)
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_catalog(tmp)
        runs = [(str(m), run_stack(tmp, url, args.turns, m, first_env if i == 0 else None))
                for i, m in enumerate(args.models)] if args.models else [("", run_stack(tmp, url, args.turns))]
    reference = {name: statistics.median(timings) for name, timings in runs[0][1]}
    for model, results in runs:
        if model:
            print(f"\nmodel: {model}")
        base = statistics.median(results[0][1])
        header = f"{'case':32} {'turns':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50 / baseline':>15}"
        print(header + (f" {'p50 / first model':>18}" if len(runs) > 1 else ""))
        for name, timings in results:
            p50 = statistics.median(timings)
            line = f"{name:32} {len(timings):6d} {p50:8.1f} {percentile(timings, 0.99):8.1f} {p50 / base:15.2f}"
            print(line + (f" {p50 / reference[name]:18.2f}" if len(runs) > 1 else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
