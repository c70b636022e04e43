"""Comparing messages as the NLU sees them: width, traditional forms, case, spaces and punctuation ignored."""
from __future__ import annotations

import hashlib
import re

from knowledge.text import normalize

_NON_WORD = re.compile(r"[^0-9a-z\u4e00-\u9fff*]+")


def text_key(text: str) -> str:
    """Two texts with the same key are the same example (data/nlu/README.md, rule 4)."""
    return _NON_WORD.sub("", normalize(text or ""))


def group_id(key: str) -> str:
    """A short id that stays the same from one inbox reading to the next."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]


def bigrams(key: str) -> frozenset:
    return frozenset(key[i:i + 2] for i in range(max(len(key) - 1, 1)))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the character bigrams of two keys (0..1)."""
    x, y = bigrams(a), bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0
