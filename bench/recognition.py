"""Recognition benchmark: which matter and which aspect, on our own and on real citizen questions.

    .venv/bin/python -m bench.recognition [--model models/assistant.tar.gz] [--rest] [--cross-validation]

Sets (bench/data/README.md), each measured when its file exists:
- own eval   eval_questions.jsonl  synthetic (written by the project), studied
- own test   test_questions.jsonl  synthetic, not tuned on
- real dev   real_dev.jsonl        real citizen questions, studied and tuned on
- real test  real_test.jsonl       real citizen questions, LOCKED: only its figures are printed, never its errors

Every question is parsed by the trained model exactly as the Rasa server does (CatalogMatterExtractor
included); the actions' own decision (actions.resolve: one matter, a bundle, ask between several, "not in the
catalog", or none) then gives the matter. The matter ranking is computed three ways in the same run:
- words:          BM25 over words (what the project had before issue #16; no list of missing matters)
- words+missing:  the same, plus catalog/not_in_catalog.yml (the verdict of knowledge/verdict.py)
- encoder:        the full ranking: words, missing matters, and the sentence encoder's re-ranking (what runs)

Figures: matter top-1 and top-3 (questions whose matter the catalog holds); in-catalog questions wrongly
refused ("not in the catalog"); out-of-catalog questions answered with another matter's facts (the bot picks a
matter and the aspect is answered from it), and those it asks about (buttons, no facts yet); aspect (intent)
accuracy (a real question with several aspects counts as right when the intent is one of them); the matter
ranking's time per question with and without the encoder. With --rest, the whole stack is started and every
question of the real sets is sent as the first message of a new conversation: "first reply names the right
matter" = the first message names an acceptable matter (or, for a question labelled with several, offers them).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional
from bench.stack import fresh_catalog, stack_settings
from bench.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
EVAL_FILE = DATA / "eval_questions.jsonl"
# (key, label, file, real?, locked?)
SETS = [
    ("own_eval", "own eval (synthetic)", DATA / "eval_questions.jsonl", False, False),
    ("own_test", "own test (synthetic)", DATA / "test_questions.jsonl", False, False),
    ("real_dev", "real dev", DATA / "real_dev.jsonl", True, False),
    ("real_test", "real test (locked)", DATA / "real_test.jsonl", True, True),
]
ERRORS_FOR = ("own_eval", "real_dev")  # the studied sets; never a locked one
VARIANTS = ("words", "words+missing", "encoder")
# Actions that answer about a matter when the message names one.
ANSWERING_ACTIONS = {"action_answer", "action_not_understood"}
# Intents answered without stating a matter's facts even when a matter is named (issue #16 item 6).
FACTLESS_INTENTS = {"ask_policy_amount"}
TARGETS = {"matter top-1": 0.92, "matter top-3": 0.98, "aspect": 0.90, "first reply names the matter": 0.92,
           "out-of-catalog given facts": 0.05, "in-catalog refused": 0.03}


@dataclass
class Question:
    text: str
    matters: Optional[set]          # None: names no matter (own sets); empty: a matter the catalog lacks
    aspects: set
    intent_label: str = ""
    parse: dict = field(default_factory=dict)

    @property
    def in_catalog(self) -> bool:
        return bool(self.matters)

    @property
    def out_of_catalog(self) -> bool:
        return self.matters is not None and not self.matters


def load_set(path: Path, real: bool) -> List[Question]:
    questions = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            if real:
                questions.append(Question(row["text"], set(row["matters"]), set(row["aspects"]),
                                          "/".join(row["aspects"])))
            else:
                label = row["matter"]
                matters = None if label is None else (set(label) if isinstance(label, list) else {label})
                questions.append(Question(row["q"], matters, {row["intent"]}, row["intent"]))
    return questions


def acceptable(label) -> set:
    """The matter codes a question's label accepts (one code, a list of codes, or none)."""
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


async def parse_all(model: Path, questions: List[Question]) -> None:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    for question in questions:
        question.parse = await agent.parse_message(question.text)


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


def build_searches(catalog) -> Dict[str, object]:
    from knowledge import MatterSearch

    full = MatterSearch.from_catalog(catalog)
    words = MatterSearch.from_catalog(catalog, dense=False, missing=[])
    return {"words": (words, False), "words+missing": (full, False), "encoder": (full, True)}


def variant_parse(parse: dict, search, rerank: bool) -> dict:
    """The model's parse with the matter ranking and verdict of one variant (same text the component sees)."""
    from knowledge.text import normalize

    text = parse.get("text") or ""
    if not text.strip() or text.startswith("/"):
        return parse
    verdict = search.judge(normalize(text), top=3, rerank=rerank)
    return dict(parse, matter_candidates=[c.as_dict() for c in verdict.candidates],
                matter_verdict=verdict.as_dict())


def evaluate(questions: List[Question], catalog, search, rerank: bool, answering: set):
    from actions.resolve import Resolution, resolve

    stats, matter_errors = Counter(), Counter()
    for question in questions:
        parse = variant_parse(question.parse, search, rerank)
        intent = parse["intent"]["name"]
        resolution = resolve(_Tracker(parse), catalog) if intent in answering else Resolution("none")
        ranked = [c["code"] for c in parse.get("matter_candidates") or []] if intent in answering else []
        stats["questions"] += 1
        stats["intent ok"] += intent in question.aspects
        if question.matters is None:
            stats["no-matter questions"] += 1
            stats["no-matter answered none"] += resolution.kind in ("none", "not_in_catalog")
            continue
        if question.out_of_catalog:
            stats["ooc"] += 1
            facts = resolution.kind in ("matter", "bundle") and intent not in FACTLESS_INTENTS
            stats["ooc facts"] += facts
            stats["ooc asked"] += resolution.kind == "ambiguous"
            stats["ooc told missing"] += resolution.kind == "not_in_catalog"
            if facts:
                matter_errors[("(not in catalog)", resolution.code)] += 1
            continue
        wanted = question.matters
        stats["matter questions"] += 1
        if resolution.kind in ("matter", "bundle"):
            got = resolution.code
        elif resolution.kind == "ambiguous":
            got = "ask:" + "/".join(c.code for c in resolution.candidates)
        elif resolution.kind == "not_in_catalog":
            got = "(refused: not in catalog)"
        else:
            got = "(none)"
        # Asking between options is right only when the question itself is ambiguous.
        asked_ok = (resolution.kind == "ambiguous" and len(wanted) > 1
                    and wanted & {c.code for c in resolution.candidates})
        top1 = got in wanted or bool(asked_ok)
        stats["top-1"] += top1
        stats["top-3"] += bool(wanted & set(ranked[:3])) or top1
        stats["refused"] += resolution.kind == "not_in_catalog"
        stats["answered none"] += resolution.kind == "none"
        stats["asked"] += resolution.kind == "ambiguous"
        if not top1:
            matter_errors[("/".join(sorted(wanted)), got)] += 1
    return stats, matter_errors


def figures(stats: Counter) -> Dict[str, Optional[float]]:
    def share(part, whole):
        return stats[part] / stats[whole] if stats[whole] else None

    return {"matter top-1": share("top-1", "matter questions"), "matter top-3": share("top-3", "matter questions"),
            "in-catalog refused": share("refused", "matter questions"),
            "in-catalog asked": share("asked", "matter questions"),
            "out-of-catalog given facts": share("ooc facts", "ooc"),
            "out-of-catalog asked": share("ooc asked", "ooc"),
            "out-of-catalog told missing": share("ooc told missing", "ooc"),
            "aspect": share("intent ok", "questions")}


def ranking_latency(search, questions: List[Question], rounds: int = 3) -> Dict[str, tuple]:
    """Time per question of the whole matter decision (search + verdict), words only vs with the encoder, as
    (p50, p99) in ms of wall-clock time and of this process's CPU time (other sessions share these cores: CPU
    time is what the ranking itself costs). The encoder's cache of recent texts is emptied before each call,
    so every question is encoded afresh."""
    from knowledge import encoder
    from knowledge.text import normalize

    texts = [normalize(q.text) for q in questions]
    timings: Dict[str, List[float]] = {}
    for _ in range(rounds):
        for text in texts:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            search.judge(text, rerank=False)
            wall1, cpu1 = time.perf_counter(), time.process_time()
            encoder._cache.clear()
            search.judge(text, rerank=True)
            wall2, cpu2 = time.perf_counter(), time.process_time()
            for clock, (a, b, c) in (("wall", (wall0, wall1, wall2)), ("cpu", (cpu0, cpu1, cpu2))):
                timings.setdefault(f"without encoder ({clock})", []).append((b - a) * 1000)
                timings.setdefault(f"with encoder ({clock})", []).append((c - b) * 1000)
                timings.setdefault(f"added ({clock})", []).append(((c - b) - (b - a)) * 1000)
    return {name: (statistics.median(values), percentile(values, 0.99)) for name, values in sorted(timings.items())}


ELSEWHERE_NOTES = ("utter_elsewhere_place", "utter_elsewhere_year", "utter_elsewhere_place_year")


def first_replies(questions: List[Question], catalog) -> Dict[str, Counter]:
    """Starts the stack, sends each question as a new conversation's first message (REST); counts the first
    answer that names an acceptable matter (or offers it as a button when several are acceptable)."""
    import uuid

    import requests

    from bot.run import Stack

    from bot.texts import DomainTexts

    # The note before an answer for another city or year ("以下是本市政务服务大厅的办理要求……") is not the answer:
    # the first message after it is.
    texts = DomainTexts.load(ROOT / "domain.yml")
    notes = tuple(texts.template(name).split("{")[0] for name in ELSEWHERE_NOTES)
    names = {}
    for _kind, code, name, _term_kind, _text in catalog.terms():
        names[code] = name
    results: Dict[str, Counter] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = stack_settings(tmp, fresh_catalog(tmp))
        stack = Stack(settings)
        stack.start()
        session = requests.Session()
        webhook = f"{settings.rasa_url}/webhooks/rest/webhook"
        try:
            session.post(webhook, json={"sender": "bench-warm", "message": "公积金怎么取"}, timeout=60)
            for key, items in questions.items():
                counts = Counter()
                for question in items:
                    if not question.in_catalog:
                        continue
                    reply = session.post(webhook, json={"sender": f"bench-{uuid.uuid4().hex[:12]}",
                                                        "message": question.text}, timeout=60).json()
                    answers = [m for m in reply if not (m.get("text") or "").startswith(notes)]
                    first = answers[0] if answers else {}
                    text = first.get("text") or ""
                    titles = {b.get("title") for b in first.get("buttons") or []}
                    wanted = {names[c] for c in question.matters if c in names}
                    named = any(name in text for name in wanted)
                    offered = len(question.matters) > 1 and bool(wanted & titles)
                    counts["questions"] += 1
                    counts["named"] += named or offered
                results[key] = counts
        finally:
            stack.stop()
    return results


def cross_validation(folds: int = 5) -> dict:
    out = ROOT / "results" / "cross_validation"
    subprocess.run([sys.executable, "-m", "rasa", "test", "nlu", "--nlu", "data/nlu", "--config", "config.yml",
                    "--cross-validation", "--folds", str(folds), "--out", str(out)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    return {"accuracy": report["accuracy"], "macro f1": report["macro avg"]["f1-score"],
            "weighted f1": report["weighted avg"]["f1-score"]}


def _cell(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.1%}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "assistant.tar.gz")
    parser.add_argument("--sets", default=",".join(key for key, *_ in SETS),
                        help="comma-separated: " + ", ".join(key for key, *_ in SETS))
    parser.add_argument("--rest", action="store_true", help="also: first reply through the running stack (real sets)")
    parser.add_argument("--cross-validation", action="store_true")
    parser.add_argument("--errors", type=int, default=12, help="most frequent errors to list (studied sets only)")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level otherwise
    sys.path.insert(0, str(ROOT))

    from knowledge import Catalog, make_engine
    from knowledge.loader import load

    # A fresh database from the catalog files, for this process and the model's CatalogMatterExtractor.
    url = f"sqlite:///{tempfile.mkdtemp()}/catalog.sqlite3"
    load(make_engine(url))
    os.environ["DATABASE_URL"] = url
    catalog = Catalog(make_engine(url), cache=True)
    wanted_sets = set(args.sets.split(","))
    chosen = [(key, label, load_set(path, real), locked) for key, label, path, real, locked in SETS
              if key in wanted_sets and path.exists()]
    everything = [q for _, _, items, _ in chosen for q in items]
    asyncio.run(parse_all(args.model, everything))  # also loads jieba's catalog words, as in the server
    searches = build_searches(catalog)
    answering = answering_intents()

    results = {}
    for key, label, items, locked in chosen:
        for variant, (search, rerank) in searches.items():
            results[(key, variant)] = evaluate(items, catalog, search, rerank, answering)

    print("sets: " + "; ".join(
        f"{label}: {len(items)} questions ({sum(q.in_catalog for q in items)} in catalog, "
        f"{sum(q.out_of_catalog for q in items)} not in catalog, {sum(q.matters is None for q in items)} naming none)"
        for _, label, items, _ in chosen))
    rows = ["matter top-1", "matter top-3", "in-catalog refused", "in-catalog asked", "out-of-catalog given facts",
            "out-of-catalog asked", "out-of-catalog told missing", "aspect"]
    for variant in VARIANTS:
        print(f"\n== matter ranking: {variant}")
        print(f"{'figure':30}" + "".join(f"{label:>22}" for _, label, _, _ in chosen) + f"{'target':>10}")
        for row in rows:
            cells = "".join(f"{_cell(figures(results[(key, variant)][0])[row]):>22}" for key, _, _, _ in chosen)
            target = TARGETS.get(row)
            bound = "" if target is None else ("≤ " if "refused" in row or "facts" in row else "≥ ") + f"{target:.0%}"
            print(f"{row:30}{cells}{bound:>10}")

    latency = ranking_latency(searches["encoder"][0], [q for _, _, items, _ in chosen for q in items][:400])
    print("\nmatter ranking + verdict, time per question (ms):")
    for name, (p50, p99) in latency.items():
        print(f"  {name:26} p50 {p50:6.2f}   p99 {p99:6.2f}")

    if args.rest:
        real = {key: items for key, _, items, _ in chosen if key.startswith("real")}
        replies = first_replies(real, catalog)
        print("\nfirst reply names the right matter (REST, new conversation, in-catalog questions):")
        for key, counts in replies.items():
            print(f"  {key:10} {counts['named'] / counts['questions']:7.1%}  of {counts['questions']}")

    for key, label, items, locked in chosen:
        if key not in ERRORS_FOR or locked:
            continue
        errors = results[(key, "encoder")][1]
        print(f"\nmost frequent matter errors, {label} (expected -> got):")
        for (expected, got), count in errors.most_common(args.errors):
            print(f"  {count:3d}  {expected} -> {got}")
    if args.cross_validation:
        print("\nintent cross-validation (5 folds, data/nlu):")
        for name, value in cross_validation().items():
            print(f"  {name:12} {value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
