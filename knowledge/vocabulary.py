"""The parser's vocabulary: the words people type that are treated specially (stop words, bundle cues, checklist
answers, corrections and negations), read from `catalog/parsing_words.yml` so trainers can extend them.

Loaded once at import by knowledge/text.py, checklist.py and situations.py. A broken entry is logged and left
out (the assistant keeps running on the rest); `python -m knowledge check` reports every problem and fails.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Tuple

import yaml

from .schema import CatalogIssue

logger = logging.getLogger(__name__)

VOCABULARY_FILE = Path(__file__).resolve().parent / "catalog" / "parsing_words.yml"
# (section, key) of every list of words; the file may hold nothing else.
WORD_LISTS = (("", "stop_words"), ("", "hall_time_words"), ("", "bundle_cues"), ("checklist", "nothing"),
              ("checklist", "everything"), ("checklist", "fillers"), ("situations", "correction_head"),
              ("situations", "correction_tail"))
# (section, key) of strings of single characters.
CHARACTER_SETS = (("", "stop_chars"), ("situations", "negation_chars"))


@dataclass(frozen=True)
class Vocabulary:
    stop_words: Tuple[str, ...] = ()
    hall_time_words: Tuple[str, ...] = ()
    stop_chars: str = ""
    bundle_cues: Tuple[str, ...] = ()
    checklist_nothing: Tuple[str, ...] = ()
    checklist_everything: Tuple[str, ...] = ()
    checklist_fillers: Tuple[str, ...] = ()
    negation_chars: str = ""
    correction_head: Tuple[str, ...] = ()
    correction_tail: Tuple[str, ...] = ()


def _field(section: str, key: str) -> str:
    return {"checklist": f"checklist_{key}"}.get(section, key)


def parse_vocabulary(data: Any, file: str = VOCABULARY_FILE.name) -> Tuple[Vocabulary, List[CatalogIssue]]:
    """The vocabulary of a parsed YAML document and its problems (an entry with a problem is left out)."""
    issues: List[CatalogIssue] = []
    if not isinstance(data, dict):
        return Vocabulary(), [CatalogIssue(file, "", "", "must be a mapping")]
    known_sections = {section for section, _ in WORD_LISTS + CHARACTER_SETS if section}
    known_top = {key for section, key in WORD_LISTS + CHARACTER_SETS if not section} | known_sections
    for key in data:
        if key not in known_top:
            issues.append(CatalogIssue(file, "", str(key), "unknown entry"))
    values = {}

    def raw(section: str, key: str) -> Any:
        holder = data.get(section) if section else data
        if section and not isinstance(holder, dict):
            return None
        return holder.get(key)

    for section, key in WORD_LISTS:
        where, value = f"{section + '.' if section else ''}{key}", raw(section, key)
        if not isinstance(value, list) or not value or not all(isinstance(w, str) and w.strip() for w in value):
            issues.append(CatalogIssue(file, "", where, "must be a non-empty list of words"))
            continue
        words = [w.strip() for w in value]
        duplicates = sorted({w for w in words if words.count(w) > 1})
        if duplicates:
            issues.append(CatalogIssue(file, "", where, f"listed twice: {'、'.join(duplicates)}"))
        values[_field(section, key)] = tuple(dict.fromkeys(words))
    for section, key in CHARACTER_SETS:
        where, value = f"{section + '.' if section else ''}{key}", raw(section, key)
        if not isinstance(value, str) or not value:
            issues.append(CatalogIssue(file, "", where, "must be a non-empty string of characters"))
            continue
        values[_field(section, key)] = value
    if "negation_chars" in values:
        values["negation_chars"] = values.pop("negation_chars")
    return Vocabulary(**values), issues


def read_vocabulary(path: Path = VOCABULARY_FILE) -> Tuple[Vocabulary, List[CatalogIssue]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        return Vocabulary(), [CatalogIssue(Path(path).name, "", "", f"cannot be read: {error}")]
    return parse_vocabulary(data, Path(path).name)


def load_vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    vocabulary, issues = read_vocabulary(path)
    for issue in issues:
        logger.error("parsing vocabulary: %s", issue)
    return vocabulary


VOCABULARY = load_vocabulary()
