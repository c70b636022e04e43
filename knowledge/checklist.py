"""一次性告知单 checklist: which listed materials a person says they already have.

Accepts positions ("1、3、4", "1 3 4", "第1和第3项", "第一、三项") and names ("我有身份证和租房合同"),
matched against the names of the list shown, with the catalog's other names for materials (户口本 = 户口簿):
each name goes to the most specific material it names, a general word to the material every applicant needs.
Positions are 1-based in the list shown. Knows nothing of Rasa.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Sequence, Set, Tuple

from .text import normalize
from .vocabulary import VOCABULARY

MAX_TEXT = 500  # a checklist answer is short; longer text is cut, never scanned at length
MIN_COVERAGE = 0.5  # at least half of the words' bigrams in the name
_CN_NUMBERS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
# A number inside code-like text ("alert(1)", "x=2", "v3") or a quantity ("2寸照片", "3份") is not a position.
_DIGITS = re.compile(r"(?<![a-z0-9(=._\-])\d{1,3}(?![a-z0-9)=._\-]|[寸份张岁年月日天元页])")
_CN_RUN = re.compile(r"第([一二两三四五六七八九十]{1,3}(?:[、，,和及与跟还有\s]*[一二两三四五六七八九十]{1,3})*)")
_CN_ONLY = re.compile(r"^[一二两三四五六七八九十、，,和及与跟还有第项个号条\s]+$")
_SEPARATORS = re.compile(r"[、，,；;。.\s/+]|和|及|与|跟|还有|以及|外加|加上")
# Words around the names that say "I have" and nothing about which material (catalog/parsing_words.yml).
_FILLERS = re.compile("|".join(re.escape(word) for word in VOCABULARY.checklist_fillers))
_BRACKETS = re.compile(r"[《》“”\"'（）()【】\[\]]")


# Whole answers that tick nothing or everything (the web page sends one of the first when nothing is ticked).
NOTHING = set(VOCABULARY.checklist_nothing)
EVERYTHING = set(VOCABULARY.checklist_everything)
_CORE_NOISE = re.compile(r"[\W_我了的啊呢吧呀哈]")


@dataclass
class ChecklistAnswer:
    have: Set[int] = field(default_factory=set)  # 1-based positions
    unknown: List[str] = field(default_factory=list)  # pieces of text that named no listed material
    nothing: bool = False  # "都没有"
    everything: bool = False  # "都有了"

    @property
    def understood(self) -> bool:
        return bool(self.have) or self.nothing or self.everything


def _cn_number(text: str) -> int:
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _CN_NUMBERS.get(text[1:], 0)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _CN_NUMBERS.get(tens, 0) * 10 + _CN_NUMBERS.get(ones, 0)
    return _CN_NUMBERS.get(text, 0)


def _split_cn(run: str) -> List[int]:
    return [_cn_number(piece) for piece in re.split(r"[、，,和及与跟还有\s]+", run) if piece]


def positions_in(text: str) -> Tuple[Set[int], str]:
    """Positions written in the text, and the text with them taken out."""
    found: Set[int] = set()
    if _CN_ONLY.match(text):
        found.update(_cn_number(ch) for ch in re.findall(r"十[一二三四五六七八九]?|[一二两三四五六七八九]十?", text))
        return found, ""
    for match in _CN_RUN.finditer(text):
        found.update(_split_cn(match.group(1)))
    text = _CN_RUN.sub(" ", text)
    found.update(int(d) for d in _DIGITS.findall(text))
    return found, _DIGITS.sub(" ", text)


def _bigrams(text: str) -> Set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def _coverage(words: str, name: str) -> Tuple[float, int]:
    """How much of the person's words the name holds (1.0 when it holds them whole), and how many of the
    name's bigrams the words leave unsaid (the name's own qualifiers: 卖方配偶的…, 代理人…)."""
    x, y = _bigrams(words), _bigrams(name)
    shared = len(x & y)
    coverage = 1.0 if len(words) >= 2 and words in name else (shared / len(x) if x else 0.0)
    return coverage, len(y) - shared


def _variants(piece: str, synonyms: Sequence[Sequence[str]]) -> List[str]:
    """The piece with each other name of a material it holds ("配偶户口本" → 配偶户口簿); its other words stay."""
    variants = [piece]
    for group in synonyms:
        for word in group:
            if word in piece:
                variants += [v.replace(word, other) for v in variants for other in group if other != word]
                break
    return list(dict.fromkeys(variants))


def _best_material(piece: str, names: Sequence[str], general: Sequence[bool],
                   synonyms: Sequence[Sequence[str]]) -> int:
    """1-based position of the material the piece names, or 0.

    The most specific material the words name wins: the one that holds most of them ("配偶的身份证" → 卖方配偶的
    居民身份证). When several hold them equally, a general word goes to the material every applicant needs
    ("身份证" → 买卖双方的居民身份证, not 卖方配偶的居民身份证), then to the one with the fewest other words, then
    to the first in the list.
    """
    best, best_key = 0, None
    variants = _variants(piece, synonyms)
    for position, name in enumerate(names, 1):
        coverage, unsaid = max((_coverage(v, name) for v in variants), key=lambda c: (c[0], -c[1]))
        if coverage < MIN_COVERAGE:
            continue
        key = (round(coverage, 3), position <= len(general) and general[position - 1], -unsaid, -position)
        if best_key is None or key > best_key:
            best, best_key = position, key
    return best


def read_checklist(text: str, names: Sequence[str], synonyms: Sequence[Sequence[str]] = (),
                   general: Sequence[bool] = ()) -> ChecklistAnswer:
    """What the person has, from positions and names in `text`, for the list `names` (in shown order).

    `general[i]` is True when the i-th material is one every applicant brings (not tied to a situation)."""
    text = normalize(text)[:MAX_TEXT]
    # "的" is said or left out at will ("配偶身份证" = 配偶的身份证); the person's words lose it too (_FILLERS).
    clean_names = [_BRACKETS.sub("", normalize(n)).replace("的", "") for n in names]
    answer = ChecklistAnswer()
    core = _CORE_NOISE.sub("", text)
    if core in NOTHING or core in EVERYTHING:
        answer.nothing, answer.everything = core in NOTHING, core in EVERYTHING
        return answer
    positions, rest = positions_in(text)
    answer.have.update(p for p in positions if 1 <= p <= len(names))
    answer.unknown.extend(str(p) for p in sorted(positions) if not 1 <= p <= len(names))
    for raw in _SEPARATORS.split(_BRACKETS.sub("", rest)):
        piece = _FILLERS.sub("", raw).strip("第项个号条")
        if len(piece) < 2:
            continue
        position = _best_material(piece, clean_names, general, synonyms)
        if position:
            answer.have.add(position)
        else:
            answer.unknown.append(raw.strip())
    return answer
