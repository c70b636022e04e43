"""Words that name the particular case a matter is for, when a near-twin matter serves everyone else.

Some matters differ from a general twin only by who or what they are for: 企业不动产交易税费 against the
individual's 二手房税费, 机关事业单位退休 against the enterprise employee's 退休, 死亡提取 against 公积金提取,
补证/补卡 against the first certificate or card. Their aliases share most words with the twin, so a question that
names no such case ("缴房子契税要带什么") can rank them first. `catalog/case_words.yml` lists, for these matters
only, the words by which a question names their case; a question with none of them gets CASE_FACTOR x the score
(knowledge/search.py), so the general twin ranks first unless the case is named.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

from .schema import CatalogIssue
from .text import normalize

logger = logging.getLogger(__name__)

CASE_WORDS_FILE = Path(__file__).resolve().parent / "catalog" / "case_words.yml"
CASE_FACTOR = 0.85


def parse_case_words(data: Any, codes: Optional[Iterable[str]] = None, file: str = CASE_WORDS_FILE.name
                     ) -> Tuple[Dict[str, Tuple[str, ...]], List[CatalogIssue]]:
    """code -> normalised words, and the problems (an entry with a problem is left out). With `codes`, a code
    that is not among them is a problem too."""
    known = set(codes) if codes is not None else None
    entries = data.get("case_words") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return {}, [CatalogIssue(file, "", "case_words", "must be a mapping of matter codes to lists of words")]
    result: Dict[str, Tuple[str, ...]] = {}
    issues: List[CatalogIssue] = []
    for code, words in entries.items():
        if known is not None and code not in known:
            issues.append(CatalogIssue(file, str(code), "case_words", "unknown matter or bundle code"))
        elif not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            issues.append(CatalogIssue(file, str(code), "case_words", "must be a non-empty list of words"))
        else:
            result[str(code)] = tuple(normalize(w) for w in words)
    return result, issues


def load_case_words(path: Path = CASE_WORDS_FILE) -> Dict[str, Tuple[str, ...]]:
    """The file's entries; a broken entry is logged and left out (`python -m knowledge check` fails on it)."""
    if not path.exists():
        return {}
    words, issues = parse_case_words(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, file=path.name)
    for issue in issues:
        logger.warning("%s", issue)
    return words


def case_named(words: Tuple[str, ...], normalized_question: str) -> bool:
    return any(word in normalized_question for word in words)
