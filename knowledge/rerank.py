"""Dense re-ranking of the lexical ranking: how close in meaning a question is to each matter or bundle.

Every target (matter or bundle) is represented by several short texts — its name, each alias, each keyword and
one short description (a matter's name with the names of its steps; a bundle's name with its intro) — each
encoded once by `knowledge.encoder` when the catalog is loaded. A question's similarity to a target is the best
cosine similarity over the target's texts. `MatterSearch` adds it to the lexical (BM25) score of its top
candidates (knowledge/search.py).

Vectors are cached per process by the texts themselves: several searches over one catalog snapshot share them,
and a catalog change (new alias, new matter) is encoded afresh.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .environment import encoder_enabled

logger = logging.getLogger(__name__)

DESCRIPTION_CHARS = 60
# Only the start of a long message is encoded: questions are short, and the cost grows with the length.
QUESTION_CHARS = 200

_vectors_lock = threading.Lock()
_vectors_cache: Dict[str, Tuple[Tuple[str, ...], np.ndarray]] = {}


def enabled() -> bool:
    return encoder_enabled()


def matter_description(matter) -> str:
    """A matter's name with the names of its steps: what doing it involves, in the catalog's words."""
    steps = "，".join(step.name for step in matter.steps)
    return (f"{matter.name}：{steps}" if steps else matter.name)[:DESCRIPTION_CHARS]


def bundle_description(bundle) -> str:
    return (f"{bundle.name}：{bundle.intro}" if bundle.intro else bundle.name)[:DESCRIPTION_CHARS]


def catalog_descriptions(catalog, codes: Iterable[Tuple[str, str]]) -> Dict[str, str]:
    """code -> short description, for (kind, code) pairs of the catalog."""
    descriptions = {}
    for kind, code in codes:
        target = catalog.matter(code) if kind == "matter" else catalog.bundle(code)
        if target is not None:
            descriptions[code] = matter_description(target) if kind == "matter" else bundle_description(target)
    return descriptions


def _encode_cached(texts: Sequence[str]) -> np.ndarray:
    from . import encoder

    key = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    with _vectors_lock:
        cached = _vectors_cache.get(key)
        if cached is not None and cached[0] == tuple(texts):
            return cached[1]
    vectors = encoder.encode(list(texts))
    vectors.setflags(write=False)
    with _vectors_lock:
        _vectors_cache.clear()  # one catalog snapshot at a time: an old one is not needed again
        _vectors_cache[key] = (tuple(texts), vectors)
    return vectors


class DenseIndex:
    """Vectors of each target's texts; similarity of a question to chosen targets."""

    def __init__(self, texts_by_code: Dict[str, List[str]]):
        self._rows: Dict[str, np.ndarray] = {}
        texts: List[str] = []
        for code in sorted(texts_by_code):
            unique = list(dict.fromkeys(t.strip() for t in texts_by_code[code] if t and t.strip()))
            self._rows[code] = np.arange(len(texts), len(texts) + len(unique))
            texts.extend(unique)
        self._vectors = _encode_cached(texts)
        logger.info("dense matter index: %d targets, %d texts", len(self._rows), len(texts))

    def __contains__(self, code: str) -> bool:
        return code in self._rows

    @staticmethod
    def question_vector(question: str) -> np.ndarray:
        from . import encoder

        return encoder.encode([question[:QUESTION_CHARS]])[0]

    def similarities(self, question_vector: np.ndarray, codes: Iterable[str]) -> Dict[str, float]:
        """Best cosine similarity of the question with each target's texts (targets not indexed: absent)."""
        result = {}
        for code in codes:
            rows = self._rows.get(code)
            if rows is not None and len(rows):
                result[code] = float(np.max(self._vectors[rows] @ question_vector))
        return result


def build_dense_index(terms, descriptions: Optional[Dict[str, str]] = None) -> Optional[DenseIndex]:
    """The dense index for catalog terms, or None when switched off or the encoder cannot be loaded."""
    if not enabled():
        return None
    texts_by_code: Dict[str, List[str]] = {}
    for _kind, code, name, _term_kind, text in terms:
        texts_by_code.setdefault(code, [name]).append(text)
    for code, description in (descriptions or {}).items():
        if code in texts_by_code:
            texts_by_code[code].append(description)
    try:
        return DenseIndex(texts_by_code)
    except ImportError as error:  # the package is missing: rank by words, as before
        logger.warning("sentence encoder unavailable (%s): matters are ranked by words only", error)
        return None
