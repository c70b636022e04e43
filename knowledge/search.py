"""Ranks matters and bundles for a citizen's question: BM25 over words and character bigrams of every
name, alias and keyword, plus a bonus when a whole name or alias appears in the question; then the best
RERANK_DEPTH of that ranking are re-ranked with the question's closeness in meaning to each target's texts
(knowledge/rerank.py, a multilingual sentence encoder)."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from .cases import CASE_FACTOR, case_named
from .text import BUNDLE_CUES, add_words, features, normalize, segments

K1, B = 1.2, 0.5
TERM_WEIGHT = {"name": 1.0, "alias": 1.0, "keyword": 0.7}
PHRASE_BONUS = 5.0   # per character of the longest whole term found in the question (1.5 until issue 16: a
# whole alias or keyword in a real question is stronger evidence than the pairs of characters it shares)
EXACT_SCORE = 1000.0
MIN_SCORE = 4.0      # below this a question names no matter
MIN_COVERAGE = 0.34
BUNDLE_CUE_FACTOR = 1.5
# Dense re-ranking: the lexical top RERANK_DEPTH get DENSE_WEIGHT x (best lexical score) x cosine similarity added.
RERANK_DEPTH = 10
DENSE_WEIGHT = 1.5


@dataclass(frozen=True)
class Candidate:
    kind: str  # "matter" | "bundle"
    code: str
    name: str
    score: float
    lexical: Optional[float] = None  # the BM25 + phrase score alone
    dense: Optional[float] = None    # cosine similarity of the question with the target's closest text

    def as_dict(self) -> dict:
        result = {"kind": self.kind, "code": self.code, "name": self.name, "score": round(self.score, 3)}
        if self.lexical is not None:
            result["lexical"] = round(self.lexical, 3)
        if self.dense is not None:
            result["dense"] = round(self.dense, 3)
        return result


class MatterSearch:
    def __init__(self, terms: Iterable[Tuple[str, str, str, str, str]], dense=None,
                 case_words: Optional[Dict[str, Tuple[str, ...]]] = None):
        """terms: (target_kind, target_code, target_name, term_kind, text) rows, as Catalog.terms() gives;
        dense: a knowledge.rerank.DenseIndex over the same targets, or None to rank by words only;
        case_words: code -> words naming the case a matter is for (knowledge/cases.py), or None."""
        self.dense = dense
        self._case_words = dict(case_words or {})
        self.missing: list = []  # knowledge.verdict.MissingMatter entries indexed as kind "gap"
        self._targets: Dict[str, Tuple[str, str]] = {}
        self._phrases: Dict[str, List[Tuple[str, float]]] = defaultdict(list)
        self._term_features: Dict[str, List[frozenset]] = defaultdict(list)
        docs: Dict[str, Counter] = defaultdict(Counter)
        words = []
        for target_kind, code, name, term_kind, text in terms:
            self._targets[code] = (target_kind, name)
            weight = TERM_WEIGHT[term_kind]
            phrase = "".join(segments(normalize(text)))
            if len(phrase) >= 2:
                self._phrases[code].append((phrase, weight))
            words.append(text)
            term_features = frozenset(features(text))
            if term_features:
                self._term_features[code].append(term_features)
            for feature in term_features:
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
    def from_catalog(cls, catalog, dense: bool = True, missing=None, case_words=None) -> "MatterSearch":
        """Lexical index, plus the dense one unless dense=False or $MATTER_ENCODER=off. The matters of
        catalog/not_in_catalog.yml (or `missing`) are indexed too, to recognise questions about them; the
        words of catalog/case_words.yml (or `case_words`) tell a matter for one case from its general twin."""
        from .cases import load_case_words
        from .rerank import build_dense_index, catalog_descriptions
        from .verdict import load_missing, missing_terms

        terms = catalog.terms()
        missing = load_missing() if missing is None else missing
        all_terms = terms + missing_terms(missing)
        index = None
        if dense:
            targets = sorted({(kind, code) for kind, code, _, _, _ in terms})
            index = build_dense_index(all_terms, catalog_descriptions(catalog, targets))
        search = cls(all_terms, dense=index, case_words=load_case_words() if case_words is None else case_words)
        search.missing = missing
        return search

    def __len__(self) -> int:
        return len(self._targets)

    def target(self, code: str) -> Optional[Tuple[str, str]]:
        """(kind, name) of an indexed target, or None."""
        return self._targets.get(code)

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
        normalized = normalize(question)
        if any(cue in normalized for cue in BUNDLE_CUES):
            # "一起办", "都要办哪些": the person asks for the whole 一件事, not one of its members.
            for code in scores:
                if self._targets[code][0] == "bundle":
                    scores[code] *= BUNDLE_CUE_FACTOR
        compact = "".join(segments(normalized))
        for code in list(scores):
            longest = max((len(p) * w for p, w in self._phrases[code] if p in compact), default=0.0)
            scores[code] += PHRASE_BONUS * longest
            # A term that is the whole question settles it: "营业执照" means the matters called so, all
            # equally (terms shared on purpose are declared in ambiguous.yml), so they tie and the bot asks.
            if any(p == compact for p, _ in self._phrases[code]):
                scores[code] = EXACT_SCORE
            elif code in self._case_words and not case_named(self._case_words[code], normalized):
                scores[code] *= CASE_FACTOR  # a matter for one case, asked about without naming it
        return scores

    def coverage(self, code: str, query_features: frozenset) -> float:
        """How much of the best-matching term of a target the question contains (0..1)."""
        return max((len(term & query_features) / len(term) for term in self._term_features[code]), default=0.0)

    def named_lengths(self, question: str) -> Dict[str, int]:
        """code -> length of the longest of its terms found whole in the question (targets named verbatim)."""
        compact = "".join(segments(normalize(question)))
        found: Dict[str, int] = {}
        for code, phrases in self._phrases.items():
            longest = max((len(p) for p, _ in phrases if p in compact), default=0)
            if longest:
                found[code] = longest
        return found

    def question_coverage(self, code: str, query_features: frozenset) -> float:
        """How much of the question (its character pairs) a target's terms contain (0..1)."""
        pairs = [f for f in query_features if f.startswith("c:")]
        if not pairs:
            return 0.0
        doc = self._docs.get(code, {})
        return sum(1 for f in pairs if f in doc) / len(pairs)

    def search(self, question: str, top: int = 3, min_score: float = MIN_SCORE,
               min_coverage: float = MIN_COVERAGE, rerank: bool = True) -> List[Candidate]:
        """The best `top` matters and bundles for the question; rerank=False: by words only (for comparison)."""
        return [c for c in self.rank(question, min_score, min_coverage, rerank) if c.kind != "gap"][:top]

    def judge(self, question: str, top: int = 3, rerank: bool = True):
        """knowledge.verdict.Verdict: does a catalog matter fit the question, and which."""
        from .verdict import judge

        return judge(self, question, top=top, rerank=rerank)

    def rank(self, question: str, min_score: float = MIN_SCORE, min_coverage: float = MIN_COVERAGE,
             rerank: bool = True) -> List[Candidate]:
        """Every target that scores, best first — matters the catalog lacks (kind "gap") included."""
        return self.rankings(question, min_score, min_coverage, rerank)[1]

    def rankings(self, question: str, min_score: float = MIN_SCORE, min_coverage: float = MIN_COVERAGE,
                 rerank: bool = True) -> Tuple[List[Candidate], List[Candidate]]:
        """(by words only, final) rankings of every target that scores; equal when not re-ranked."""
        query_features = frozenset(features(question))
        lexical = self.scores(question)
        ranked = sorted(lexical.items(), key=lambda item: (-item[1], item[0]))
        # A high score from one rare shared word is not enough: the best candidate must have a good part of
        # one of its own terms in the question (this keeps "周末有人上班吗" or "坐几路公交" away from matters).
        ranked = [(code, score) for code, score in ranked if score >= min_score]
        while ranked and self.coverage(ranked[0][0], query_features) < min_coverage:
            ranked.pop(0)
        words_only = ranked
        similarity: Dict[str, float] = {}
        if ranked and rerank and self.dense is not None:
            ranked, similarity = self._rerank(question, ranked)
            while ranked and self.coverage(ranked[0][0], query_features) < min_coverage:
                ranked.pop(0)

        def candidates(rows):
            return [Candidate(kind=self._targets[code][0], code=code, name=self._targets[code][1], score=score,
                              lexical=lexical[code], dense=similarity.get(code)) for code, score in rows]

        final = candidates(ranked)
        return (candidates(words_only) if ranked is not words_only else final), final

    def _rerank(self, question: str, ranked: List[Tuple[str, float]]):
        """The head of the lexical ranking re-ordered by lexical score plus closeness in meaning.

        A whole-question term (EXACT_SCORE) stays first and tied; the others get DENSE_WEIGHT x the best
        non-exact lexical score x their cosine similarity added, so the two parts weigh alike whatever the
        question's length."""
        head, tail = ranked[:RERANK_DEPTH], ranked[RERANK_DEPTH:]
        similarity = self.dense.similarities(self.dense.question_vector(question), [code for code, _ in head])
        reference = max((score for _, score in head if score < EXACT_SCORE), default=0.0)
        fused = [(code, score if score >= EXACT_SCORE
                  else score + DENSE_WEIGHT * reference * similarity.get(code, 0.0)) for code, score in head]
        fused.sort(key=lambda item: (-item[1], item[0]))
        return fused + tail, similarity
