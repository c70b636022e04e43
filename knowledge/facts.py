"""`python -m knowledge check --facts`: is every legal fact of every matter traceable to a national instrument?

The structure of `verification:` records and of instruments.yml is checked by the ordinary catalog check
(knowledge.schema); this module checks their content:

- missing: a matter without a verification record, or a fact (basis line, statutory time limit, fee, national
  conditions) with neither a citation nor a place in `unverified`;
- contradictions (the check fails on them):
  * a basis line (or a citation) names an instrument that instruments.yml lacks, or that the matter's
    `source.refs` do not cite; a basis line names no instrument at all;
  * a basis line's article differs from the article its citation was checked against;
  * a citation checked against another version of an instrument than the one in instruments.yml (so two
    matters can never cite different versions of one instrument), or checked before that version existed;
  * the time limit: the citation's days differ from `legal_days`, or its working/natural days from
    `calendar_days`; `legal_days` set although the record says no national rule sets it or lists it unverified;
  * a number of days in `time_limit.note` that neither `legal_days` nor `committed_days` carries and that the
    record does not declare in `note_days`; a note saying 工作日 for a natural-day field (or 自然日 for a
    working-day one); a note saying no limit is set while the field carries one;
  * the fee: the citation says free/not free and `fee.free` says the other; `fee.free` set although unverified;
  * two matters (or a matter and instruments.yml) naming different revision years of one instrument in text;
- unverified: facts listed in `unverified` (their field is null: the bot says the fact is not registered).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Dict, Iterable, List, Optional, Set, Tuple

from .schema import (NO_RULE, CatalogIssue, CatalogRecords, CitationRecord, FeeCheck, InstrumentRecord,
                     MatterRecord, TimeLimitCheck)

TITLE_RE = re.compile(r"《([^《》]+)》")
NUMBER_RE = re.compile(r"[\u4e00-\u9fa5]{1,12}〔\d{4}〕\d+号|[\u4e00-\u9fa5]{0,12}令第\d+号")
ARTICLE_RE = re.compile(r"第([零〇一二三四五六七八九十百千\d]+)条")
# A number of days: not the day of a date (3月1日), counted in 工作日, 自然日, 日 or 天.
DAYS_RE = re.compile(r"(?<![月\d零〇一二三四五六七八九十百])([零〇一二三四五六七八九十百]+|\d+)\s*(?:个)?(工作日|自然日|日|天)")
# A revision year next to an instrument: "2026年…修订…《X》" or "《X》（2019年修订）".
REVISION_BEFORE_RE = re.compile(r"(\d{4})年[^《》。；;，,]{0,16}?(?:修订|修正|修改)[^《》。；;]{0,4}?《([^《》]+)》")
REVISION_AFTER_RE = re.compile(r"《([^《》]+)》[（(](\d{4})年[^）)]{0,12}?(?:修订|修正|修改)")
NO_LIMIT_RE = re.compile(r"未(?:单独|另行|统一)?规定[^。；;]*?(?:时限|期限|天数)|没有规定[^。；;]*?(?:时限|期限)|无法定(?:办结)?时限")

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}


def chinese_number(text: str) -> Optional[int]:
    """二十五 -> 25, 一百零三 -> 103, 25 -> 25."""
    if text.isdigit():
        return int(text)
    total, digit = 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)


def articles(text: Optional[str]) -> Set[int]:
    return {n for n in (chinese_number(a) for a in ARTICLE_RE.findall(text or "")) if n is not None}


@dataclass
class FactsReport:
    matters: int = 0
    passing: List[str] = field(default_factory=list)
    missing: List[CatalogIssue] = field(default_factory=list)
    contradictions: List[CatalogIssue] = field(default_factory=list)
    unverified: List[Tuple[str, str]] = field(default_factory=list)  # (matter code, fact)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.contradictions

    def lines(self) -> List[str]:
        out = [f"facts: {len(self.passing)} of {self.matters} matters pass; {len(self.missing)} facts without a "
               f"record; {len(self.contradictions)} contradictions; {len(self.unverified)} facts explicitly "
               f"unverified (null)"]
        if self.contradictions:
            out.append("contradictions:")
            out += [f"  {i}" for i in self.contradictions]
        if self.missing:
            out.append("not verified (no record):")
            out += [f"  {i}" for i in self.missing]
        if self.unverified:
            out.append("unverified, field null (the bot says it is not registered):")
            out += [f"  {code}: {fact}" for code, fact in self.unverified]
        return out


class Instruments:
    def __init__(self, instruments: Iterable[InstrumentRecord]):
        self.all = list(instruments)
        self.by_name: Dict[str, InstrumentRecord] = {}
        for x in self.all:
            for name in x.names():
                self.by_name[_key(name)] = x

    def find(self, name: str) -> Optional[InstrumentRecord]:
        return self.by_name.get(_key(name))

    def cited_in(self, text: str) -> Tuple[List[InstrumentRecord], List[str]]:
        """Instruments a text cites (by 《title》 or 文号), and the 《names》 it cites that are not registered."""
        found, unknown = [], []
        for title in TITLE_RE.findall(text):
            x = self.find(title)
            if x is None:
                unknown.append(title)
            elif x not in found:
                found.append(x)
        for number in NUMBER_RE.findall(text):
            x = self._number(number)
            if x is not None and x not in found:
                found.append(x)
        return found, unknown

    def _number(self, number: str) -> Optional[InstrumentRecord]:
        # "国务院令第765号" also matches inside "中华人民共和国国务院令第765号"
        for x in self.all:
            if x.number and (x.number in number or number.endswith(x.number)):
                return x
        return None


def _key(name: str) -> str:
    return re.sub(r"\s+", "", name.strip("《》 "))


def _cited_by_refs(x: InstrumentRecord, refs: List[str]) -> bool:
    joined = "\n".join(refs)
    return any(f"《{n}》" in joined or (n == x.number and n in joined) for n in x.names())


def _texts(m: MatterRecord) -> List[Tuple[str, str]]:
    """Every text of a matter that could name an instrument's revision, with its field name."""
    out = [("basis", b) for b in m.basis] + [("conditions", c) for c in m.conditions]
    out += [("materials", x) for mat in m.materials for x in (mat.name, mat.note, mat.when_text) if x]
    out += [("steps", x) for s in m.steps for x in (s.name, s.detail) if x]
    out += [(f, x) for f, x in (("time_limit.note", m.time_note), ("fee.amount", m.fee_amount),
                                ("fee.basis", m.fee_basis), ("online.note", m.online_note),
                                ("source.note", m.source_note)) if x]
    out += [("source.refs", r) for r in m.source_refs]
    return out


def check_facts(records: CatalogRecords) -> FactsReport:
    instruments = Instruments(records.instruments)
    report = FactsReport(matters=len(records.matters))
    revisions: Dict[str, Dict[str, List[str]]] = {}  # instrument key -> year -> matter codes
    for m in records.matters:
        before = (len(report.missing), len(report.contradictions))
        _check_matter(m, instruments, report)
        for name, text in _texts(m):
            for year, title in REVISION_BEFORE_RE.findall(text):
                revisions.setdefault(_key(title), {}).setdefault(year, []).append(f"{m.code} ({name})")
            for title, year in REVISION_AFTER_RE.findall(text):
                revisions.setdefault(_key(title), {}).setdefault(year, []).append(f"{m.code} ({name})")
        if (len(report.missing), len(report.contradictions)) == before:
            report.passing.append(m.code)
    by_code = {m.code: m for m in records.matters}
    for title, years in sorted(revisions.items()):
        x = instruments.find(title)
        allowed = {x.version[:4], (x.in_force or x.version)[:4]} if x else None
        if len(years) > 1 or (allowed and not set(years) <= allowed):
            said = "; ".join(f"{y}: {', '.join(codes)}" for y, codes in sorted(years.items()))
            what = f"the catalog checked the {x.version} version" if x else "instruments.yml lacks it"
            for year, codes in sorted(years.items()):
                if allowed and year in allowed:
                    continue
                code = codes[0].split(" ")[0]
                report.contradictions.append(CatalogIssue(
                    by_code[code].file, code, "text",
                    f"names the {year} revision of 《{title}》, but matters disagree ({said}); {what}"))
                if code in report.passing:
                    report.passing.remove(code)
    return report


def _check_matter(m: MatterRecord, instruments: Instruments, report: FactsReport) -> None:
    def contradiction(name: str, message: str) -> None:
        report.contradictions.append(CatalogIssue(m.file, m.code, name, message))

    def missing(name: str, message: str) -> None:
        report.missing.append(CatalogIssue(m.file, m.code, name, message))

    # The basis: every instrument registered and in the source list.
    line_instruments: List[List[InstrumentRecord]] = []
    for i, line in enumerate(m.basis):
        found, unknown = instruments.cited_in(line)
        for title in unknown:
            contradiction(f"basis[{i}]", f"cites 《{title}》, which instruments.yml lacks")
        if not found and not unknown:
            contradiction(f"basis[{i}]", f"{line!r} names no instrument (《title》 or 文号)")
        for x in found:
            if not _cited_by_refs(x, m.source_refs):
                contradiction(f"basis[{i}]", f"cites 《{x.title}》, which source.refs lacks")
        line_instruments.append(found)
    _check_note_days(m, contradiction)

    v = m.verification
    if v is None:
        missing("verification", "no verification record (basis, time limit, fee and conditions unverified)")
        return
    unverified = set(v.unverified)
    for fact in v.unverified:
        report.unverified.append((m.code, fact))

    def citation(name: str, c: CitationRecord) -> Optional[InstrumentRecord]:
        x = instruments.find(c.instrument)
        if x is None:
            contradiction(name, f"cites {c.instrument!r}, which instruments.yml lacks")
            return None
        if c.version and c.version != x.version:
            contradiction(name, f"checked against the {c.version} version of 《{x.title}》; the catalog uses "
                                f"{x.version} (instruments.yml)")
        checked = c.checked or v.checked
        if checked and checked > date.today().isoformat():
            contradiction(name, f"checked on {checked}, a date still to come")
        if checked and checked < x.version:
            contradiction(name, f"checked on {checked}, before the {x.version} version of 《{x.title}》 existed")
        return x

    # basis
    if "basis" in unverified:
        pass
    elif not v.basis:
        missing("verification.basis", "the basis lines have no citations")
    else:
        for i, (line, c) in enumerate(zip(m.basis, v.basis)):
            if c is None:
                missing(f"verification.basis[{i}]", f"{line!r} is not verified")
                continue
            x = citation(f"verification.basis[{i}]", c)
            if x is None:
                continue
            if line_instruments[i] and x not in line_instruments[i]:
                contradiction(f"verification.basis[{i}]", f"cites 《{x.title}》 but the basis line is {line!r}")
            elif len(line_instruments[i]) == 1 and articles(line) and articles(line) != articles(c.article):
                contradiction(f"verification.basis[{i}]",
                              f"{line!r} names another article than the one checked ({c.article or 'none'})")

    # statutory time limit
    t = v.time_limit
    if "time_limit" in unverified:
        if t is not None:
            contradiction("verification.time_limit", "is both recorded and listed unverified")
        if m.legal_days is not None:
            contradiction("time_limit.legal_days", f"is {m.legal_days} although unverified: set it null")
    elif t is None:
        missing("verification.time_limit", "the statutory time limit is not verified (cite it, or `none`)")
    elif t == NO_RULE:
        if m.legal_days is not None:
            contradiction("time_limit.legal_days", f"is {m.legal_days}, but the record says no national rule sets it")
    elif isinstance(t, TimeLimitCheck):
        citation("verification.time_limit", t)
        if t.days is None:
            contradiction("verification.time_limit", f"gives no days: cite the days, or write `{NO_RULE}`")
        elif t.days != m.legal_days:
            contradiction("time_limit.legal_days", f"is {m.legal_days}, the checked article sets {t.days}")
        if t.working is None:
            contradiction("verification.time_limit", "says neither working: true (工作日) nor false (natural days)")
        elif t.days is not None and t.working == m.legal_calendar_days:
            counted = "working days" if t.working else "natural days"
            contradiction("time_limit.calendar_days", f"is {str(m.legal_calendar_days).lower()}, the article counts "
                                                      f"{counted}")

    # fee
    f = v.fee
    if "fee" in unverified:
        if f is not None:
            contradiction("verification.fee", "is both recorded and listed unverified")
        if m.fee_free is not None:
            contradiction("fee.free", "is set although unverified: set it null")
    elif f is None:
        missing("verification.fee", "the fee is not verified (cite it, or `none` when no rule allows a charge)")
    elif f == NO_RULE:
        if m.fee_free is False:
            contradiction("fee.free", "is false, but the record says no national rule sets a charge")
    elif isinstance(f, FeeCheck):
        citation("verification.fee", f)
        if f.free is not None and m.fee_free is not None and f.free != m.fee_free:
            contradiction("fee.free", f"is {str(m.fee_free).lower()}, the checked article says "
                                      f"{'free' if f.free else 'a charge'}")

    # national conditions
    if "conditions" in unverified:
        pass
    elif not v.conditions:
        missing("verification.conditions", "the national conditions cite no article")
    for i, c in enumerate(v.conditions):
        citation(f"verification.conditions[{i}]", c)


def _check_note_days(m: MatterRecord, contradiction) -> None:
    note = m.time_note or ""
    if not note:
        return
    carried = {d for d in (m.legal_days, m.committed_days) if d is not None}
    declared = set(m.verification.note_days) if m.verification else set()
    reported = set()
    for match in DAYS_RE.finditer(note):
        raw, unit = match.group(1), match.group(2)
        n = chinese_number(raw)
        if n is None:
            continue
        if n not in carried and n not in declared and n not in reported:
            reported.add(n)
            contradiction("time_limit.note", f"states {match.group(0)!r}, which neither legal_days ({m.legal_days}) nor "
                                             f"committed_days carries (declare other periods in "
                                             f"verification.note_days)")
        if n == m.legal_days and unit == "工作日" and m.legal_calendar_days:
            contradiction("time_limit.calendar_days", f"is true (natural days), the note says {raw}个工作日")
        if n == m.legal_days and unit == "自然日" and not m.legal_calendar_days:
            contradiction("time_limit.calendar_days", f"is false (working days), the note says {raw}自然日")
    if m.legal_days is not None and m.legal_days > 0 and NO_LIMIT_RE.search(note):
        contradiction("time_limit.note", f"says no limit is set, legal_days carries {m.legal_days}")
    if m.legal_days and re.search(r"按自然日|自然日计", note) and not m.legal_calendar_days:
        contradiction("time_limit.calendar_days", "is false (working days), the note says natural days")
