"""Merging inbox groups that say the same in other words, with a sentence encoder (cosine similarity).

The encoder is `knowledge.encoder.encode` when the project has it (the multilingual sentence encoder of the
understanding work); without it groups stay as the normalised-text grouping made them. The threshold is
conservative and not tuned on real data yet: two groups merge only when their texts are very close in meaning.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

THRESHOLD = 0.85
MAX_GROUPS = 2000  # the most frequent groups are merged; the long tail stays as it is
_vectors: Dict[Callable, Dict[str, np.ndarray]] = {}


def default_encoder() -> Optional[Callable[[Sequence[str]], np.ndarray]]:
    try:
        from knowledge.encoder import encode  # type: ignore[import-not-found]
    except ImportError:
        return None
    return encode


def _encode(texts: List[str], encode: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    vectors = _vectors.setdefault(encode, {})  # one cache per encoder: their vectors differ in size
    missing = [t for t in dict.fromkeys(texts) if t not in vectors]
    if missing:
        for text, row in zip(missing, np.asarray(encode(missing), dtype=np.float32)):
            norm = float(np.linalg.norm(row)) or 1.0
            vectors[text] = row / norm
        if len(vectors) > 50_000:
            vectors.clear()
            return _encode(texts, encode)
    return np.stack([vectors[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)


def merge(groups: List, encode: Callable[[Sequence[str]], np.ndarray], threshold: float = THRESHOLD) -> List:
    """Groups (most frequent first) merged into the most frequent group they are close to."""
    head, tail = groups[:MAX_GROUPS], groups[MAX_GROUPS:]
    if len(head) < 2:
        return groups
    vectors = _encode([g.text for g in head], encode)
    leaders: List[int] = []
    merged: Dict[int, List] = {}
    for i, group in enumerate(head):
        if leaders:
            scores = vectors[leaders] @ vectors[i]
            best = int(np.argmax(scores))
            if scores[best] >= threshold and (group.labelled is None) == (head[leaders[best]].labelled is None):
                merged[leaders[best]].append(group)
                continue
        leaders.append(i)
        merged[i] = [group]
    out = [_combine(members) for _, members in sorted(merged.items())]
    out.sort(key=lambda g: (-g.count, -g.last_seen, g.key))
    return out + tail


def _combine(members: List):
    lead = members[0]
    if len(members) == 1:
        return lead
    reasons, channels = Counter(), Counter()
    for g in members:
        reasons.update(g.reasons)
        channels.update(g.channels)
    total = sum(g.count for g in members)
    same = [g for g in members if g.predicted_intent == lead.predicted_intent]
    lead.confidence = sum(g.confidence * g.count for g in same) / sum(g.count for g in same)
    lead.count = total
    lead.senders = sum(g.senders for g in members)  # at most: a person may have written two of them
    lead.reasons, lead.channels = dict(reasons.most_common()), dict(channels.most_common())
    lead.last_seen = max(g.last_seen for g in members)
    lead.variants = list(dict.fromkeys(v for g in members for v in g.variants))[:8]
    lead.merged_ids = [g.id for g in members[1:]]
    return lead
