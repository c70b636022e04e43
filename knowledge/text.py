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

jieba.setLogLevel(logging.WARNING)

# Words that say *what about* a matter, or nothing at all; they never identify a matter.
STOP_WORDS = sorted({
    "请问", "你好", "您好", "我想", "想要", "想问", "问一下", "问下", "咨询", "一下", "知道", "告诉", "帮忙",
    "需要", "要带", "带啥", "带什么", "什么", "哪些", "哪个", "啥子", "怎么", "怎样", "咋办", "如何", "多少",
    "多久", "多长", "时间", "几天", "几楼", "在哪", "哪里", "哪儿", "地方", "窗口", "能不能", "可不可以", "可以",
    "材料", "资料", "证件", "手续", "流程", "步骤", "条件", "要求", "费用", "收费", "免费", "网上", "线上",
    "办理", "办事", "去办", "要办", "能办", "怎么办", "需不需要", "是不是", "有没有", "的话", "我们", "我家",
    "现在", "今天", "明天", "我要", "应该", "还是", "或者", "然后", "就是", "这个", "那个", "一个", "东西",
    "政务", "大厅", "服务", "本市", "市里", "咱们", "相关", "具体", "情况", "多少钱", "几点", "几号",
    "怎么弄", "咋弄", "咋整", "要不要", "能不能", "行不行", "中不中", "一般", "大概", "需要带", "请教",
    # When the hall is open is asked about the hall, never about one matter.
    "上班", "下班", "周六", "周日", "周末", "星期", "礼拜", "节假日", "放假", "中午", "午休", "开门", "关门",
})
# Particles and pronouns only: characters that also occur inside matter names (办, 个, 几 …) must stay,
# or a typo'd name ("公几金") would be cut in two.
STOP_CHARS = set("的了吗呢啊吧呀嘛哦噢哈呗我你您他她它们,.!?;:，。！？；：、（）()[]【】《》<>\"'“”‘’ ")
# Words by which a person asks for several matters at once (一件事一次办).
BUNDLE_CUES = ("一起办", "一块办", "一起弄", "一块弄", "一次办", "一次弄", "一次性办", "一件事", "一起", "一块",
               "一次办完", "都要办", "要办哪些", "哪些手续", "全套", "一条龙", "这一套", "全部弄完", "都得办")
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
