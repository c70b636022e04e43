"""Ranks matters and bundles for a citizen's question: BM25 over words and character bigrams of every
name, alias and keyword, plus a bonus when a whole name or alias appears in the question."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple

from .text import add_words, features, normalize, segments

K1, B = 1.2, 0.5
TERM_WEIGHT = {"name": 1.0, "alias": 1.0, "keyword": 0.7}
PHRASE_BONUS = 1.5   # per character of the longest whole term found in the question
EXACT_FACTOR = 2.0
MIN_SCORE = 4.0      # below this a question names no matter


@dataclass(frozen=True)
class Candidate:
    kind: str  # "matter" | "bundle"
    code: str
    name: str
    score: float

    def as_dict(self) -> dict:
        return {"kind": self.kind, "code": self.code, "name": self.name, "score": round(self.score, 3)}


class MatterSearch:
    def __init__(self, terms: Iterable[Tuple[str, str, str, str, str]]):
        """terms: (target_kind, target_code, target_name, term_kind, text) rows, as Catalog.terms() gives."""
        self._targets: Dict[str, Tuple[str, str]] = {}
        self._phrases: Dict[str, List[Tuple[str, float]]] = defaultdict(list)
        docs: Dict[str, Counter] = defaultdict(Counter)
        words = []
        for target_kind, code, name, term_kind, text in terms:
            self._targets[code] = (target_kind, name)
            weight = TERM_WEIGHT[term_kind]
            phrase = "".join(segments(normalize(text)))
            if len(phrase) >= 2:
                self._phrases[code].append((phrase, weight))
            words.append(text)
            for feature in set(features(text)):
                docs[code][feature] += weight
        add_words(words)
        self._docs = dict(docs)
        self._lengths = {code: sum(doc.values()) for code, doc in docs.items()}
        self._average_length = (sum(self._lengths.values()) / len(self._lengths)) if self._lengths else 1.0
        df = Counter(feature for doc in docs.values() for feature in doc)
        n = len(docs)
        self._idf = {f: math.log(1 + (n - c + 0.5) / (c + 0.5)) for f, c in df.items()}
        self._postings: Dict[str, List[str]] = defaultdict(list)
        for code, doc in docs.items():
            for feature in doc:
                self._postings[feature].append(code)

    @classmethod
    def from_catalog(cls, catalog) -> "MatterSearch":
        return cls(catalog.terms())

    def __len__(self) -> int:
        return len(self._targets)

    def scores(self, question: str) -> Dict[str, float]:
        query = Counter(features(question))
        scores: Dict[str, float] = defaultdict(float)
        for feature in query:
            idf = self._idf.get(feature)
            if idf is None:
                continue
            for code in self._postings[feature]:
                tf = self._docs[code][feature]
                norm = K1 * (1 - B + B * self._lengths[code] / self._average_length)
                scores[code] += idf * tf * (K1 + 1) / (tf + norm)
        compact = "".join(segments(normalize(question)))
        for code in list(scores):
            # A term that is the whole question counts double: "营业执照" means the matters called so.
            longest = max((len(p) * w * (EXACT_FACTOR if p == compact else 1.0)
                           for p, w in self._phrases[code] if p in compact), default=0.0)
            scores[code] += PHRASE_BONUS * longest
        return scores

    def search(self, question: str, top: int = 3, min_score: float = MIN_SCORE) -> List[Candidate]:
        ranked = sorted(self.scores(question).items(), key=lambda item: (-item[1], item[0]))
        return [Candidate(kind=self._targets[code][0], code=code, name=self._targets[code][1], score=score)
                for code, score in ranked[:top] if score >= min_score]
