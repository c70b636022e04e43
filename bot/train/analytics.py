"""What a supervisor looks at: conversations and turns per day, the share of conversations with a fallback, a
clarifying question or a handoff, ratings, the matters asked about most, the messages misunderstood most and the
catalog's gaps by how often they were met. Drawn from the conversation summaries, the inbox and the gap list."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple

from .conversations import Summary


@dataclass
class Figures:
    days: List[str]
    conversations: List[int]
    turns: List[int]
    fallback_rate: List[float]
    clarify_rate: List[float]
    handoff_rate: List[float]
    totals: Dict[str, float]
    ratings: List[Tuple[str, int]]  # ("1".."5", count)
    matters: List[Tuple[str, int]]  # ("CODE 名称", conversations)


def day_range(date_from: str, date_to: str, today: dt.date, default_days: int = 30) -> List[str]:
    """Every local day from `date_from` to `date_to` (YYYY-MM-DD), by default the last 30 days; at most a year."""
    try:
        end = dt.date.fromisoformat(date_to) if date_to else today
        start = dt.date.fromisoformat(date_from) if date_from else end - dt.timedelta(days=default_days - 1)
    except ValueError:
        end, start = today, today - dt.timedelta(days=default_days - 1)
    start, end = min(start, end), max(start, end)  # given the wrong way round
    start = max(start, end - dt.timedelta(days=365))
    return [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def figures(found: Iterable[Summary], days: List[str], day, matter_names: Dict[str, str], top: int = 10) -> Figures:
    """`day(ts)` gives the local date of a timestamp; conversations count on the day they began."""
    index = {d: i for i, d in enumerate(days)}
    n = len(days)
    conv, turns, fb, cl, ho = [0] * n, [0] * n, [0] * n, [0] * n, [0] * n
    ratings: Counter = Counter()
    matters: Counter = Counter()
    for s in found:
        for d, count in s.turn_days.items():
            if d in index:
                turns[index[d]] += count
        i = index.get(day(s.started))
        if i is None:
            continue
        conv[i] += 1
        fb[i] += bool(s.fallbacks)
        cl[i] += bool(s.clarifies)
        ho[i] += s.handoff
        if s.rating is not None:
            ratings[s.rating] += 1
        matters.update(s.matters)
    total = sum(conv)
    rated = sum(ratings.values())
    totals = {"conversations": total, "turns": sum(turns), "fallback": _rate(sum(fb), total),
              "clarify": _rate(sum(cl), total), "handoff": _rate(sum(ho), total), "rated": rated,
              "rating_mean": sum(k * v for k, v in ratings.items()) / rated if rated else 0.0}
    return Figures(days=days, conversations=conv, turns=turns,
                   fallback_rate=[_rate(a, b) for a, b in zip(fb, conv)],
                   clarify_rate=[_rate(a, b) for a, b in zip(cl, conv)],
                   handoff_rate=[_rate(a, b) for a, b in zip(ho, conv)], totals=totals,
                   ratings=[(str(k), ratings.get(k, 0)) for k in range(1, 6)],
                   matters=[(f"{code} {matter_names.get(code, '')}".strip(), c) for code, c in matters.most_common(top)])


def gaps(gap_list: List[dict], top: int = 15) -> List[Tuple[str, int]]:
    """The catalog's gap list (knowledge/catalog_gaps.yml) by how often each was met."""
    rows = [(str(g.get("text") or ""), int(g.get("count") or 0)) for g in gap_list]
    return sorted(rows, key=lambda r: (-r[1], r[0]))[:top]
