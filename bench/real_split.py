"""The fixed, random split of the real-question sets (bench/data/real_dev.jsonl, bench/data/real_test.jsonl).

A question goes to dev or test by a seeded hash of its exact text, so the split is random, never changes for a
line already in a set, and can grow: sha256("real-split-v1:" + text), even -> dev, odd -> test.
real_test.jsonl is LOCKED: measured only, never studied (see bench/data/README.md).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

SEED = "real-split-v1:"
DATA = Path(__file__).resolve().parent / "data"
DEV = DATA / "real_dev.jsonl"
TEST = DATA / "real_test.jsonl"


def split_of(text: str) -> str:
    """'dev' or 'test' for a question's exact text."""
    digest = hashlib.sha256((SEED + text).encode("utf-8")).digest()
    return "dev" if digest[-1] % 2 == 0 else "test"


def path_of(text: str) -> Path:
    return DEV if split_of(text) == "dev" else TEST


if __name__ == "__main__":
    import sys

    for line in sys.argv[1:]:
        print(split_of(line), line)
