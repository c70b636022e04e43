"""Aspect (intent) accuracy, two-aspect messages and other place/year notes, on a set of questions.

    .venv/bin/python -m bench.aspects [--model models/assistant.tar.gz] FILE.jsonl [FILE.jsonl ...]

Reads the synthetic sets (`{"q", "intent"}`) and the real-question sets (`{"text", "aspects", "other_city",
"year"}`, bench/data/README.md), parses every question with the trained model as the Rasa server does and
prints per file:
- aspect: DIET's intent is the labelled one (real sets: one of the labelled aspects; lines labelled only
  `other` are left out);
- all aspects: the aspects the bot answers (the parse's `aspects`, else the intent) are exactly the labelled
  ones, on lines with two or more labelled aspects; and how often a one-aspect line gets two answers;
- inform_have: questions (not checklist replies) read as `inform_have`;
- the most frequent aspect confusions (expected -> got).
Never run it on a locked test set to choose examples or patterns: that set only measures.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def labels(line: dict) -> list:
    if "aspects" in line:
        return [a for a in line["aspects"] if a != "other"]
    return [line["intent"]]


async def parse_all(model: Path, texts):
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def evaluate(lines, parses):
    stats, confusions = Counter(), Counter()
    for line, parse in zip(lines, parses):
        wanted = labels(line)
        intent = parse["intent"]["name"]
        answered = parse.get("aspects") or [intent]
        if not wanted:
            continue
        stats["lines"] += 1
        ok = intent in wanted
        stats["aspect ok"] += ok
        if not ok:
            confusions[("+".join(wanted), intent)] += 1
        stats["read as inform_have"] += intent == "inform_have"
        if len(wanted) >= 2:
            stats["multi lines"] += 1
            stats["multi all answered"] += set(answered) == set(wanted)
            stats["multi in order"] += answered == wanted
        else:
            stats["single lines"] += 1
            stats["single given several"] += len(answered) > 1
    return stats, confusions


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "assistant.tar.gz")
    parser.add_argument("--errors", type=int, default=12)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    sys.path.insert(0, str(ROOT))
    import os
    import tempfile

    from knowledge import make_engine
    from knowledge.loader import load

    url = f"sqlite:///{tempfile.mkdtemp()}/catalog.sqlite3"
    load(make_engine(url))
    os.environ["DATABASE_URL"] = url
    sets = []
    for path in args.files:
        with path.open(encoding="utf-8") as handle:
            sets.append((path, [json.loads(l) for l in handle if l.strip()]))
    texts = [line.get("text") or line["q"] for _, lines in sets for line in lines]
    parses = iter(asyncio.run(parse_all(args.model, texts)))
    print(f"model: {args.model}")
    for path, lines in sets:
        stats, confusions = evaluate(lines, [next(parses) for _ in lines])
        n = stats["lines"]
        print(f"\n{path.name}: {n} lines with an aspect label")
        print(f"  aspect (intent) accuracy   {stats['aspect ok'] / n:6.1%}  ({stats['aspect ok']}/{n})")
        if stats["multi lines"]:
            m = stats["multi lines"]
            print(f"  several aspects: all answered {stats['multi all answered']}/{m}, "
                  f"in the order asked {stats['multi in order']}/{m}")
        s = stats["single lines"]
        print(f"  one-aspect lines given several answers {stats['single given several']}/{s}")
        print(f"  read as inform_have         {stats['read as inform_have']}/{n}")
        for (expected, got), count in confusions.most_common(args.errors):
            print(f"    {count:3d}  {expected} -> {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
