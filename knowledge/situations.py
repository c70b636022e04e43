"""Situation (情形) questions: which ones change a matter's material list, and free-text answers to them.

A question is worth asking only while some material still in the list depends on it. Answers come from
button payloads, option numbers ("1", "第二个"), option labels and the colloquial words of
`catalog/situation_words.yml` ("我是帮我爸办的" → agent: agent). Knows nothing of Rasa.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import yaml

from .schema import CatalogIssue
from .text import normalize
from .views import MatterView, SituationView
from .vocabulary import VOCABULARY

WORDS_FILE = Path(__file__).resolve().parent / "catalog" / "situation_words.yml"
NEGATIONS = VOCABULARY.negation_chars  # catalog/parsing_words.yml
NEGATION_WINDOW = 2  # "不是本人": a phrase within two characters after a negation does not count
_LABEL_SPLIT = re.compile(r"[（）()，,、；;：:/\s]|或者|或")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# "不对，是个体户": the words around a corrected matter name (catalog/parsing_words.yml).
_CORRECTION_HEAD = re.compile("^(?:" + "|".join(re.escape(w) for w in VOCABULARY.correction_head) + ")+")
_CORRECTION_TAIL = re.compile("(?:" + "|".join(re.escape(w) for w in VOCABULARY.correction_tail) + ")+$")
_OPTION_NUMBER = re.compile(r"^\s*(?:第|选)?\s*([1-9]|[一二两三四五六七八九])\s*(?:个|项|种|号|条)?\s*$")


@dataclass(frozen=True)
class SituationWords:
    """situation code → option code → phrases; and groups of other names of materials."""

    words: Mapping[str, Mapping[str, Tuple[str, ...]]]
    material_synonyms: Tuple[Tuple[str, ...], ...] = ()

    def phrases(self, situation: str, option: str) -> Tuple[str, ...]:
        return tuple(self.words.get(situation, {}).get(option, ()))


EMPTY_WORDS = SituationWords({})


def parse_situation_words(data, file: str = WORDS_FILE.name) -> Tuple[SituationWords, List[CatalogIssue]]:
    """The words of a parsed YAML document, with structural issues (codes are checked against matters later)."""
    issues: List[CatalogIssue] = []
    if not isinstance(data, dict):
        return EMPTY_WORDS, [CatalogIssue(file, "", "", "must be a mapping")]
    words: Dict[str, Dict[str, Tuple[str, ...]]] = {}
    raw_words = data.get("situation_words") or {}
    if not isinstance(raw_words, dict):
        issues.append(CatalogIssue(file, "", "situation_words", "must map situation codes to options"))
        raw_words = {}
    for situation, options in raw_words.items():
        if not isinstance(options, dict):
            issues.append(CatalogIssue(file, str(situation), "", "must map option codes to lists of phrases"))
            continue
        for option, phrases in options.items():
            if not isinstance(phrases, list) or not phrases or \
                    not all(isinstance(p, str) and p.strip() for p in phrases):
                issues.append(CatalogIssue(file, f"{situation}.{option}", "", "must be a list of non-empty phrases"))
                continue
            words.setdefault(str(situation), {})[str(option)] = tuple(normalize(p) for p in phrases)
    synonyms = []
    raw_synonyms = data.get("material_synonyms") or []
    if not isinstance(raw_synonyms, list):
        issues.append(CatalogIssue(file, "", "material_synonyms", "must be a list of groups"))
        raw_synonyms = []
    for i, group in enumerate(raw_synonyms):
        if not isinstance(group, list) or len(group) < 2 or \
                not all(isinstance(w, str) and w.strip() for w in group):
            issues.append(CatalogIssue(file, f"material_synonyms[{i}]", "", "must be a list of at least 2 words"))
            continue
        synonyms.append(tuple(normalize(w) for w in group))
    return SituationWords(words, tuple(synonyms)), issues


def situation_word_issues(words: SituationWords, matters: Iterable, file: str = WORDS_FILE.name
                          ) -> List[CatalogIssue]:
    """Codes the catalog does not have, and phrases that would answer two options of one matter's question.

    `matters` are records or views with `.code` and `.situations` (each with `.code` and `.options`)."""
    issues: List[CatalogIssue] = []
    known: Dict[str, set] = {}
    for matter in matters:
        for situation in matter.situations:
            options = _option_pairs(situation)
            known.setdefault(situation.code, set()).update(code for code, _ in options)
            seen: Dict[str, str] = {}
            for option, _ in options:
                for phrase in words.phrases(situation.code, option):
                    if phrase in seen and seen[phrase] != option:
                        issues.append(CatalogIssue(
                            file, f"{situation.code}.{option}", phrase,
                            f"also answers {seen[phrase]!r} of {matter.code}'s question {situation.code!r}"))
                    seen[phrase] = option
    for situation, options in words.words.items():
        if situation not in known:
            issues.append(CatalogIssue(file, situation, "", "no matter has this situation"))
            continue
        for option in options:
            if option not in known[situation]:
                issues.append(CatalogIssue(file, f"{situation}.{option}", "",
                                           f"no matter has this option for {situation!r}"))
    return issues


@functools.lru_cache(maxsize=4)
def load_situation_words(path: Path = WORDS_FILE) -> SituationWords:
    """The words file (validated by `python -m knowledge check`); empty when the file is absent."""
    if not Path(path).exists():
        return EMPTY_WORDS
    with open(path, encoding="utf-8") as handle:
        words, issues = parse_situation_words(yaml.safe_load(handle), Path(path).name)
    if issues:
        raise ValueError("; ".join(str(i) for i in issues))
    return words


def _option_pairs(situation) -> List[Tuple[str, str]]:
    """(code, label) pairs of a SituationView or a SituationRecord."""
    return [(o["code"], o["label"]) if isinstance(o, dict) else (o[0], o[1]) for o in situation.options]


# ---- which questions change the list ----------------------------------------------------------------

def valid_answers(matter: MatterView, answers: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """The answers that are answers to this matter's questions (others, e.g. of another matter, dropped)."""
    result = {}
    for situation in matter.situations:
        value = (answers or {}).get(situation.code)
        if value is not None and situation.label_of(value) is not None:
            result[situation.code] = value
    return result


def pending_questions(matter: MatterView, answers: Mapping[str, str]) -> List[SituationView]:
    """Unanswered questions, in catalog order, on which a material still in the list depends."""
    undecided = set()
    for material, conditional in matter.materials_for(dict(answers)):
        if conditional and material.when:
            undecided.update(code for code in material.when if code not in answers)
    return [s for s in matter.situations if s.code in undecided]


def next_question(matter: MatterView, answers: Mapping[str, str]) -> Optional[SituationView]:
    pending = pending_questions(matter, answers)
    return pending[0] if pending else None


# ---- free-text answers ------------------------------------------------------------------------------

def _label_pieces(label: str) -> List[str]:
    pieces = [normalize(label)]
    pieces += [normalize(p) for p in _LABEL_SPLIT.split(label) if len(p.strip()) >= 2]
    return list(dict.fromkeys(pieces))


def _negated(text: str, start: int) -> bool:
    return any(ch in NEGATIONS for ch in text[max(0, start - NEGATION_WINDOW):start])


def _score(text: str, phrases: Iterable[str]) -> int:
    """Characters of `text` covered by non-negated occurrences of the phrases (longest first)."""
    covered = [False] * len(text)
    for phrase in sorted(set(phrases), key=len, reverse=True):
        if not phrase:
            continue
        start = text.find(phrase)
        while start != -1:
            end = start + len(phrase)
            if not _negated(text, start) and not any(covered[start:end]):
                covered[start:end] = [True] * len(phrase)
            start = text.find(phrase, start + 1)
    return sum(covered)


def match_situation(situation: SituationView, text: str, words: SituationWords = EMPTY_WORDS) -> Optional[str]:
    """The option of this question the text names, or None when it names none or several equally."""
    text = normalize(text)
    if not text:
        return None
    options = _option_pairs(situation)
    pieces = {code: _label_pieces(label) for code, label in options}
    # A label piece every option shares ("本市户口" in two options) says nothing.
    counts: Dict[str, int] = {}
    for code in pieces:
        for piece in pieces[code]:
            counts[piece] = counts.get(piece, 0) + 1
    scores = {}
    for code, _ in options:
        phrases = [p for p in pieces[code] if counts[p] == 1] + list(words.phrases(situation.code, code))
        scores[code] = _score(text, phrases)
    best = max(scores.values())
    winners = [code for code, score in scores.items() if score == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def option_by_number(situation: SituationView, text: str) -> Optional[str]:
    """"2" or "第二个" for the second option of the question just asked (numbered options on WeChat)."""
    match = _OPTION_NUMBER.match(normalize(text))
    if not match:
        return None
    raw = match.group(1)
    number = int(raw) if raw.isdigit() else _CN_DIGITS[raw]
    return situation.options[number - 1][0] if 1 <= number <= len(situation.options) else None


def match_answers(matter: MatterView, text: str, words: SituationWords = EMPTY_WORDS,
                  asked: Optional[str] = None) -> Dict[str, str]:
    """Every question of the matter the text answers, e.g. {"agent": "agent"} for "帮我爸办营业执照".

    `asked` is the question just put to the person: a bare option number answers it."""
    found = {}
    for situation in matter.situations:
        if situation.code == asked:
            option = option_by_number(situation, text)
            if option:
                found[situation.code] = option
                continue
        option = match_situation(situation, text, words)
        if option:
            found[situation.code] = option
    return found


def situation_summary(matter: MatterView, answers: Mapping[str, str]) -> List[str]:
    """The labels of the answers given, in question order (what the list was made for)."""
    return [s.label_of(answers[s.code]) for s in matter.situations
            if s.code in answers and s.label_of(answers[s.code])]



def corrected_matter(text: str, terms: Iterable[Tuple[str, str, str, str, str]]) -> Optional[str]:
    """The matter a correction names exactly ("不对，是个体户" → the matter whose term is 个体户), else None.

    `terms` as `Catalog.terms()` gives them; a term of several matters (营业执照) names none."""
    core = re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", normalize(text))
    core = _CORRECTION_TAIL.sub("", _CORRECTION_HEAD.sub("", core))
    if not core:
        return None
    codes = {code for kind, code, _, _, term in terms if kind == "matter" and normalize(term) == core}
    return codes.pop() if len(codes) == 1 else None
