"""Text normalisation and features shared by indexing and querying."""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import Iterable, List

import jieba

jieba.setLogLevel(logging.WARNING)

# Words that say *what about* a matter, or nothing at all; they never identify a matter.
STOP_WORDS = sorted({
    "请问", "你好", "您好", "我想", "想要", "想问", "问一下", "问下", "咨询", "一下", "知道", "告诉", "帮忙",
    "需要", "要带", "带啥", "带什么", "什么", "哪些", "哪个", "啥子", "怎么", "怎样", "咋办", "如何", "多少",
    "多久", "多长", "时间", "几天", "几楼", "在哪", "哪里", "哪儿", "地方", "窗口", "能不能", "可不可以", "可以",
    "材料", "资料", "证件", "手续", "流程", "步骤", "条件", "要求", "费用", "收费", "免费", "网上", "线上",
    "办理", "办事", "去办", "要办", "能办", "怎么办", "需不需要", "是不是", "有没有", "的话", "我们", "我家",
    "现在", "今天", "明天", "我要", "应该", "还是", "或者", "然后", "就是", "这个", "那个", "一个", "东西",
    "政务", "大厅", "服务", "本市", "市里", "咱们", "相关", "具体", "情况",
})
STOP_CHARS = set("的了吗呢啊吧呀么嘛哦噢我你他她它们是在有和与及或也都就还要办啥咋想个去能会把给让被这那哪些几多少"
                 "请问一下,.!?;:，。！？；：、（）()[]【】《》<>\"'“”‘’ ")
_SPLIT_RE = re.compile("|".join(re.escape(w) for w in sorted(STOP_WORDS, key=len, reverse=True)))
_NON_WORD_RE = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")

_jieba_lock = threading.Lock()


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, collapsed white space."""
    text = unicodedata.normalize("NFKC", text or "").lower()
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
    with _jieba_lock:
        words = jieba.lcut_for_search(normalized)
    for word in words:
        word = word.strip()
        if len(word) >= 2 and word not in STOP_WORDS and not all(ch in STOP_CHARS for ch in word):
            result.append(f"w:{word}")
    return result
