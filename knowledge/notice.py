"""The address of a printable one-time notice (一次性告知单).

The address carries only the matter code, the situation answers and which listed materials the person
already has, so the page is rebuilt from the catalog each time and holds no personal data:

    /notice/SCJG-GT-SL?s=agent:agent,form:individual&have=1,3

`have` holds 1-based positions in the list the person was shown: `MatterView.materials_for(answers)`.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, Mapping, Set, Tuple
from urllib.parse import quote, urlencode

NOTICE_PREFIX = "/notice/"
MAX_ITEMS = 200  # more positions or answers than any matter has: a forged address

_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,63}")
_ASCII_CODE = re.compile(r"[a-z0-9_]{1,32}")


def valid_matter_code(code: str) -> bool:
    return bool(_CODE.fullmatch(code or ""))


def notice_path(code: str, answers: Mapping[str, str], have: Iterable[int] = ()) -> str:
    if not valid_matter_code(code):
        raise ValueError(f"not a matter code: {code!r}")
    query = {}
    if answers:
        for situation, option in answers.items():
            if not (_ASCII_CODE.fullmatch(situation) and _ASCII_CODE.fullmatch(option)):
                raise ValueError(f"not a situation answer: {situation!r}={option!r}")
        query["s"] = ",".join(f"{k}:{v}" for k, v in sorted(answers.items()))
    positions = sorted(set(int(p) for p in have))
    if any(p < 1 for p in positions):
        raise ValueError("positions start at 1")
    if positions:
        query["have"] = ",".join(map(str, positions))
    path = NOTICE_PREFIX + quote(code)
    return path + ("?" + urlencode(query, safe=":,") if query else "")


def parse_notice_query(query: Mapping[str, str]) -> Tuple[Dict[str, str], Set[int]]:
    """The answers and positions of a notice address's query; ValueError when it is malformed."""
    answers: Dict[str, str] = {}
    raw_answers = (query.get("s") or "").strip()
    if raw_answers:
        pairs = raw_answers.split(",")
        if len(pairs) > MAX_ITEMS:
            raise ValueError("too many answers")
        for pair in pairs:
            situation, sep, option = pair.partition(":")
            if not sep or not _ASCII_CODE.fullmatch(situation) or not _ASCII_CODE.fullmatch(option):
                raise ValueError(f"bad answer {pair[:40]!r}")
            answers[situation] = option
    have: Set[int] = set()
    raw_have = (query.get("have") or "").strip()
    if raw_have:
        items = raw_have.split(",")
        if len(items) > MAX_ITEMS:
            raise ValueError("too many positions")
        for item in items:
            if not item.isdigit() or not 1 <= int(item) <= MAX_ITEMS:
                raise ValueError(f"bad position {item[:10]!r}")
            have.add(int(item))
    return answers, have
