"""Text normalisation and features shared by indexing and querying."""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import Iterable, List

import jieba
import zhconv
from pypinyin import lazy_pinyin

from .vocabulary import VOCABULARY

jieba.setLogLevel(logging.WARNING)

# The vocabulary lives in catalog/parsing_words.yml (knowledge/vocabulary.py).
# Words that say *what about* a matter, or nothing at all (and when the hall is open); never a matter.
STOP_WORDS = sorted(set(VOCABULARY.stop_words) | set(VOCABULARY.hall_time_words))
# Particles and pronouns only (characters inside matter names must stay, or a typo'd name is cut in two).
STOP_CHARS = set(VOCABULARY.stop_chars)
# Words by which a person asks for several matters at once (一件事一次办).
BUNDLE_CUES = VOCABULARY.bundle_cues
_SPLIT_RE = re.compile("|".join(re.escape(w) for w in sorted(STOP_WORDS, key=len, reverse=True)))
_NON_WORD_RE = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")

_jieba_lock = threading.Lock()


def normalize(text: str) -> str:
    """Full-width to half-width, traditional to simplified, lower case, collapsed white space."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = zhconv.convert(text, "zh-cn")
    return re.sub(r"\s+", " ", text).strip()


def segments(text: str) -> List[str]:
    """Pieces of a normalised text left once stop words, stop characters and punctuation are cut out."""
    text = _SPLIT_RE.sub(" ", text)
    text = _NON_WORD_RE.sub(" ", text)
    cleaned = "".join(" " if ch in STOP_CHARS else ch for ch in text)
    return [piece for piece in cleaned.split() if piece]


def add_words(words: Iterable[str]) -> None:
    """Teaches jieba the catalog's names and aliases so they stay whole tokens."""
    with _jieba_lock:
        for word in words:
            word = normalize(word)
            if len(word) >= 2 and " " not in word:
                jieba.add_word(word, freq=20000)


def features(text: str) -> List[str]:
    """Jieba words and character bigrams of the meaningful pieces of a text."""
    normalized = normalize(text)
    result: List[str] = []
    for piece in segments(normalized):
        result.extend(f"c:{piece[i:i + 2]}" for i in range(len(piece) - 1))
        if len(piece) == 1:
            result.append(f"c:{piece}")
        # Syllable pairs catch homophone typos (公几金 ~ 公积金) that character pairs miss.
        syllables = lazy_pinyin(piece)
        result.extend(f"p:{syllables[i]}{syllables[i + 1]}" for i in range(len(syllables) - 1))
    with _jieba_lock:
        words = jieba.lcut_for_search(normalized)
    for word in words:
        word = word.strip()
        if len(word) >= 2 and word not in STOP_WORDS and not all(ch in STOP_CHARS for ch in word):
            result.append(f"w:{word}")
    return result
