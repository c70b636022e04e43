"""Recognition benchmark: matter and aspect on held-out citizen questions, plus search latency.

    .venv/bin/python -m bench.recognition [--model models/assistant.tar.gz] [--cross-validation]

Reads bench/data/eval_questions.jsonl (see bench/data/README.md), parses every question with the trained
model exactly as the Rasa server does (CatalogMatterExtractor included), applies the actions' own decision
(actions.resolve: one matter, a bundle, ask between several, or none) and prints:
matter top-1 / top-3, "none" precision and recall, aspect (intent) accuracy, the most frequent errors,
search latency p50/p99, and with --cross-validation the 5-fold intent cross-validation of the NLU data.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL_FILE = ROOT / "bench" / "data" / "eval_questions.jsonl"
# Actions that answer about a matter when the message names one.
ANSWERING_ACTIONS = {"action_answer", "action_not_understood"}
TARGETS = {"matter top-1": 0.92, "matter top-3": 0.98, "aspect": 0.93}


def load_questions(path: Path):
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def acceptable(label) -> set:
    if label is None:
        return set()
    return set(label) if isinstance(label, list) else {label}


class _Tracker:
    """Just enough of rasa_sdk's Tracker for actions.resolve."""

    def __init__(self, parse_data):
        self.latest_message = parse_data

    @staticmethod
    def get_slot(_name):
        return None


async def parse_all(model: Path, questions):
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(q["q"]) for q in questions]


def answering_intents() -> set:
    """Intents after which the rules run action_answer; after any other the bot names no matter."""
    import yaml

    intents = set()
    for path in (ROOT / "data" / "rules").glob("*.yml"):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules", []):
            steps = rule.get("steps", [])
            for step, following in zip(steps, steps[1:]):
                if "intent" in step and following.get("action") in ANSWERING_ACTIONS:
                    intents.add(step["intent"])
    return intents


def evaluate(questions, parses, catalog):
    from actions.resolve import Resolution, resolve

    answering = answering_intents()
    stats = Counter()
    matter_errors, intent_errors = Counter(), Counter()
    for question, parse in zip(questions, parses):
        wanted = acceptable(question["matter"])
        intent = parse["intent"]["name"]
        resolution = resolve(_Tracker(parse), catalog) if intent in answering else Resolution("none")
        ranked = [c["code"] for c in parse.get("matter_candidates") or []] if intent in answering else []
        stats["questions"] += 1
        stats["intent ok"] += intent == question["intent"]
        if intent != question["intent"]:
            intent_errors[(question["intent"], intent)] += 1
        if not wanted:
            stats["no-matter questions"] += 1
            stats["no-matter answered none"] += resolution.kind == "none"
            if resolution.kind != "none":
                matter_errors[("(none)", resolution.code or "ask:" + "/".join(ranked))] += 1
            continue
        stats["matter questions"] += 1
        if resolution.kind in ("matter", "bundle"):
            got = resolution.code
        elif resolution.kind == "ambiguous":
            got = "ask:" + "/".join(c.code for c in resolution.candidates)
        else:
            got = "(none)"
        # Asking between options is right only when the question itself is ambiguous.
        asked_ok = (resolution.kind == "ambiguous" and isinstance(question["matter"], list)
                    and wanted & {c.code for c in resolution.candidates})
        top1 = got in wanted or bool(asked_ok)
        stats["top-1"] += top1
        stats["top-3"] += bool(wanted & set(ranked[:3])) or top1
        stats["answered none"] += resolution.kind == "none"
        stats["asked"] += resolution.kind == "ambiguous"
        if not top1:
            matter_errors[("/".join(sorted(wanted)), got)] += 1
    return stats, matter_errors, intent_errors


def search_latency(catalog, questions, rounds: int = 5):
    from knowledge import MatterSearch

    search = MatterSearch.from_catalog(catalog)
    timings = []
    for _ in range(rounds):
        for q in questions:
            started = time.perf_counter()
            search.search(q["q"], top=3)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.99 * (len(timings) - 1))]


def cross_validation(folds: int = 5) -> dict:
    out = ROOT / "results" / "cross_validation"
    subprocess.run([sys.executable, "-m", "rasa", "test", "nlu", "--nlu", "data/nlu", "--config", "config.yml",
                    "--cross-validation", "--folds", str(folds), "--out", str(out)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    return {"accuracy": report["accuracy"], "macro f1": report["macro avg"]["f1-score"],
            "weighted f1": report["weighted avg"]["f1-score"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "assistant.tar.gz")
    parser.add_argument("--questions", type=Path, default=EVAL_FILE)
    parser.add_argument("--cross-validation", action="store_true")
    parser.add_argument("--errors", type=int, default=15, help="how many of the most frequent errors to list")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level otherwise
    sys.path.insert(0, str(ROOT))
    import os
    import tempfile

    from knowledge import Catalog, make_engine
    from knowledge.loader import load

    # A fresh database from the catalog files, for this process and the model's CatalogMatterExtractor.
    url = f"sqlite:///{tempfile.mkdtemp()}/catalog.sqlite3"
    load(make_engine(url))
    os.environ["DATABASE_URL"] = url
    questions = load_questions(args.questions)
    catalog = Catalog(make_engine(url), cache=True)
    parses = asyncio.run(parse_all(args.model, questions))
    stats, matter_errors, intent_errors = evaluate(questions, parses, catalog)
    p50, p99 = search_latency(catalog, questions)

    n, m, none = stats["questions"], stats["matter questions"], stats["no-matter questions"]
    figures = {
        "matter top-1": stats["top-1"] / m,
        "matter top-3": stats["top-3"] / m,
        "aspect": stats["intent ok"] / n,
    }
    print(f"questions: {n} ({m} naming a matter or bundle, {none} naming none)")
    for name, value in figures.items():
        print(f"{name:26} {value:7.1%}   target >= {TARGETS[name]:.0%}")
    print(f"{'none precision':26} {stats['no-matter answered none'] / none:7.1%}   (no-matter questions given no matter)")
    print(f"{'matter questions -> none':26} {stats['answered none'] / m:7.1%}")
    print(f"{'matter questions -> asked':26} {stats['asked'] / m:7.1%}")
    print(f"{'search latency':26} p50 {p50:.2f} ms, p99 {p99:.2f} ms   target p99 < 10 ms")
    print("\nmost frequent matter errors (expected -> got):")
    for (expected, got), count in matter_errors.most_common(args.errors):
        print(f"  {count:3d}  {expected} -> {got}")
    print("\nmost frequent aspect errors (expected -> got):")
    for (expected, got), count in intent_errors.most_common(args.errors):
        print(f"  {count:3d}  {expected} -> {got}")
    if args.cross_validation:
        print("\nintent cross-validation (5 folds, data/nlu):")
        for name, value in cross_validation().items():
            print(f"  {name:12} {value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
