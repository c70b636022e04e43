"""Validation of catalog files into plain records, with errors naming file, record and field."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

# CatalogError and CatalogIssue are imported from here by the catalog's users (the reader's plumbing is internal).
from .reader import CatalogError, CatalogIssue  # noqa: F401
from .reader import Reader, is_code, is_date, is_url, is_version

MATTER_TYPES = {"行政许可", "行政确认", "行政备案", "行政给付", "行政裁决", "其他行政权力", "公共服务"}
FLAGS = {"全程网办", "快捷即办", "跨省通办", "帮办代办", "容缺受理", "免费邮寄", "一件事"}
SITUATION_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Kinds of national instruments in instruments.yml.
INSTRUMENT_KINDS = {"法律", "行政法规", "部门规章", "国务院文件", "部门文件", "司法解释", "国家标准"}
# Facts of a matter that a verification record covers (and that `unverified` may name).
FACTS = ("basis", "time_limit", "fee", "conditions")
# `time_limit: none` / `fee: none` in a verification record: checked, and no national rule sets it.
NO_RULE = "none"


@dataclass
class HallRecord:
    name: str
    city: str
    address: Optional[str]
    phone: Optional[str]
    hours: str
    online_portal: Optional[str]
    help_location: Optional[str]
    complaint_location: Optional[str]
    source: Optional[str]
    as_of: Optional[str]
    # 办不成事: working days within which the hall promises to answer a complaint (a local fact).
    complaint_reply_days: Optional[int] = None


@dataclass
class DepartmentRecord:
    code: str
    name: str
    phone: Optional[str]


@dataclass
class LocationRecord:
    code: str
    floor: str
    zone: str
    windows: Optional[str]


@dataclass
class SituationRecord:
    code: str
    question: str
    options: List[Dict[str, str]]


@dataclass
class MaterialRecord:
    name: str
    original: int
    copies: int
    required: bool
    when: Optional[Dict[str, str]]
    when_text: Optional[str]
    note: Optional[str]
    issued_by: Optional[str]
    form_url: Optional[str]


@dataclass
class StepRecord:
    name: str
    detail: Optional[str]


@dataclass
class CitationRecord:
    """One place in one national instrument that a fact was checked against."""
    instrument: str             # a title, short name or 文号 from instruments.yml
    article: Optional[str]      # e.g. 第二十五条, 第十条第二款; null = the instrument as a whole
    version: Optional[str]      # the version checked (YYYY-MM-DD of the revision); null = the catalog's version
    checked: Optional[str]      # YYYY-MM-DD; null = the record's date


@dataclass
class TimeLimitCheck(CitationRecord):
    days: Optional[int] = None      # the statutory number the article sets
    working: Optional[bool] = None  # true = 工作日, false = natural days (日/自然日)


@dataclass
class FeeCheck(CitationRecord):
    free: Optional[bool] = None     # what the article says: true = no fee may be charged


@dataclass
class VerificationRecord:
    checked: Optional[str]                           # YYYY-MM-DD the matter's facts were checked
    basis: List[Optional[CitationRecord]]            # one per line of `basis`, same order
    time_limit: Any                                  # TimeLimitCheck, NO_RULE or None (not recorded)
    fee: Any                                         # FeeCheck, NO_RULE or None
    conditions: List[CitationRecord]                 # articles the national conditions come from
    unverified: List[str]                            # facts that could not be checked (their field is null)
    note_days: List[int] = field(default_factory=list)  # other periods time_limit.note names (延长, 公示期 …)
    note: Optional[str] = None


@dataclass
class ChangeRecord:
    date: str
    change: str     # what changed, in words a trainer reads
    reason: str     # why (the instrument and article, or the audit finding)


@dataclass
class InstrumentRecord:
    title: str                  # official title without 《》
    short: List[str]            # other names it is cited by (e.g. 社会保险法)
    kind: str                   # one of INSTRUMENT_KINDS
    issuer: Optional[str]
    number: Optional[str]       # 文号 / 令号, e.g. 国务院令第765号
    version: str                # YYYY-MM-DD of the version in force that was checked
    version_note: Optional[str]  # e.g. 2018年12月29日第二次修正
    in_force: Optional[str]     # YYYY-MM-DD the checked version took effect
    url: Optional[str]
    checked: Optional[str]      # YYYY-MM-DD the text was read
    note: Optional[str]

    def names(self) -> List[str]:
        return [self.title] + self.short + ([self.number] if self.number else [])


@dataclass
class MatterRecord:
    file: str
    code: str
    name: str
    national_code: Optional[str]
    type: str
    department: str
    basis: List[str]
    conditions: List[str]
    situations: List[SituationRecord]
    materials: List[MaterialRecord]
    steps: List[StepRecord]
    legal_days: Optional[int]
    legal_calendar_days: bool
    committed_days: Optional[int]
    time_note: Optional[str]
    fee_free: Optional[bool]
    fee_amount: Optional[str]
    fee_basis: Optional[str]
    location: str
    hours: Optional[str]
    phone: Optional[str]
    online_available: bool
    full_online: bool
    online_url: Optional[str]
    online_note: Optional[str]
    visits: Optional[int]
    flags: List[str]
    aliases: List[str]
    keywords: List[str]
    related: List[str]
    source_refs: List[str]
    source_note: Optional[str]
    as_of: str
    verification: Optional[VerificationRecord] = None
    changes: List[ChangeRecord] = field(default_factory=list)


@dataclass
class BundleMaterialRecord:
    name: str
    original: int
    copies: int
    matters: List[str]  # member matters that need it (shared items are listed once)
    note: Optional[str]


@dataclass
class BundleRecord:
    file: str
    code: str
    name: str
    intro: Optional[str]
    aliases: List[str]
    keywords: List[str]
    members: List[str]
    materials: List[BundleMaterialRecord]
    location: Optional[str]
    time_limit_days: Optional[int]
    source_refs: List[str]
    as_of: str


@dataclass
class CatalogRecords:
    hall: Optional[HallRecord] = None
    departments: List[DepartmentRecord] = field(default_factory=list)
    locations: List[LocationRecord] = field(default_factory=list)
    matters: List[MatterRecord] = field(default_factory=list)
    bundles: List[BundleRecord] = field(default_factory=list)
    ambiguous_terms: List[str] = field(default_factory=list)
    instruments: List[InstrumentRecord] = field(default_factory=list)


def read_hall(r: Reader) -> HallRecord:
    return HallRecord(
        name=r.text("name"), city=r.text("city"), address=r.text("address", False),
        phone=r.text("phone", False), hours=r.text("hours"),
        online_portal=r.text("online_portal", False, is_url, "must start with http(s)://"),
        help_location=r.text("help_location", False), complaint_location=r.text("complaint_location", False),
        source=r.text("source", False), as_of=r.text("as_of", False, is_date, "YYYY-MM-DD"),
        complaint_reply_days=r.integer("complaint_reply_days", minimum=1),
    )


def read_department(r: Reader) -> DepartmentRecord:
    return DepartmentRecord(code=r.text("code", check=is_code), name=r.text("name"), phone=r.text("phone", False))


def read_location(r: Reader) -> LocationRecord:
    return LocationRecord(code=r.text("code", check=is_code), floor=r.text("floor"), zone=r.text("zone"),
                          windows=r.text("windows", False))


def read_situation(r: Reader) -> SituationRecord:
    options = []
    for i, raw in enumerate(r.items("options", minimum=2)):
        o = r.child(f"options[{i}]", raw)
        code = o.text("code", check=lambda v: bool(SITUATION_CODE_RE.match(v)), hint="lower-case ascii")
        label = o.text("label")
        if code and label:
            options.append({"code": code, "label": label})
    codes = [o["code"] for o in options]
    if len(set(codes)) != len(codes):
        r.fail("options", "option codes must be unique")
    return SituationRecord(code=r.text("code", check=lambda v: bool(SITUATION_CODE_RE.match(v)),
                                       hint="lower-case ascii"),
                           question=r.text("question"), options=options)


def read_material(r: Reader, situations: List[SituationRecord]) -> MaterialRecord:
    when = r.mapping("when", required=False)
    required = r.boolean("required")
    when_text = r.text("when_text", False)
    if when:
        by_code = {s.code: s for s in situations}
        for key, value in when.items():
            situation = by_code.get(key)
            if situation is None:
                r.fail("when", f"unknown situation {key!r}")
            elif str(value) not in {o["code"] for o in situation.options}:
                r.fail("when", f"unknown option {value!r} of situation {key!r}")
        when = {str(k): str(v) for k, v in when.items()}
    if (when or required is False) and not when_text:
        r.fail("when_text", "is required when the material is not always needed")
    if when and required:
        r.fail("required", "must be false when `when` is set")
    original = r.integer("original", required=True)
    copies = r.integer("copies", required=True)
    if original == 0 and copies == 0:
        r.fail("original", "original and copies cannot both be 0")
    return MaterialRecord(
        name=r.text("name"), original=original or 0, copies=copies or 0, required=bool(required),
        when=when or None, when_text=when_text, note=r.text("note", False), issued_by=r.text("issued_by", False),
        form_url=r.text("form_url", False, is_url, "must start with http(s)://"),
    )


def read_matter(r: Reader, file: str) -> MatterRecord:
    situations = [read_situation(r.child(f"situations[{i}]", s)) for i, s in enumerate(r.items("situations"))]
    if len({s.code for s in situations}) != len(situations):
        r.fail("situations", "situation codes must be unique")
    materials = [read_material(r.child(f"materials[{i}]", m), situations)
                 for i, m in enumerate(r.items("materials", minimum=1))]
    steps = []
    for i, raw in enumerate(r.items("steps", minimum=2)):
        s = r.child(f"steps[{i}]", raw)
        steps.append(StepRecord(name=s.text("name"), detail=s.text("detail", False)))
    time_limit = r.child("time_limit", r.mapping("time_limit") or {})
    fee = r.child("fee", r.mapping("fee") or {})
    fee_free = fee.boolean("free", required=False)
    fee_amount = fee.text("amount", False)
    if fee_free is False and not fee_amount:
        fee.fail("amount", "is required when the matter is not free")
    online = r.child("online", r.mapping("online") or {})
    online_available = online.boolean("available")
    full_online = online.boolean("full_online")
    online_url = online.text("url", False, is_url, "must start with http(s)://")
    if full_online and not online_available:
        online.fail("full_online", "cannot be true when available is false")
    flags = r.texts("flags")
    for flag in flags:
        if flag not in FLAGS:
            r.fail("flags", f"unknown flag {flag!r} (allowed: {', '.join(sorted(FLAGS))})")
    source = r.child("source", r.mapping("source") or {})
    return MatterRecord(
        file=file, code=r.text("code", check=is_code, hint="e.g. SCJG-GT-SL"), name=r.text("name"),
        national_code=r.text("national_code", False),
        type=r.text("type", check=lambda v: v in MATTER_TYPES, hint="one of " + "、".join(sorted(MATTER_TYPES))),
        department=r.text("department"), basis=r.texts("basis", minimum=1),
        conditions=r.texts("conditions", minimum=1), situations=situations, materials=materials, steps=steps,
        legal_days=time_limit.integer("legal_days"),
        legal_calendar_days=bool(time_limit.boolean("calendar_days", required=False)), committed_days=time_limit.integer("committed_days"),
        time_note=time_limit.text("note", False),
        fee_free=fee_free, fee_amount=fee_amount, fee_basis=fee.text("basis", False),
        location=r.text("location"), hours=r.text("hours", False), phone=r.text("phone", False),
        online_available=bool(online_available), full_online=bool(full_online), online_url=online_url,
        online_note=online.text("note", False), visits=r.integer("visits"), flags=flags,
        aliases=r.texts("aliases", minimum=1), keywords=r.texts("keywords"), related=r.texts("related"),
        source_refs=source.texts("refs", minimum=1), source_note=source.text("note", False),
        as_of=source.text("as_of", check=is_date, hint="YYYY-MM-DD"),
        verification=read_verification(r, len(r.data.get("basis") or [])),
        changes=read_changes(r),
    )


def _citation(r: Reader, cls=CitationRecord, **extra) -> CitationRecord:
    return cls(instrument=r.text("instrument"), article=r.text("article", False),
               version=r.text("version", False, is_version, "YYYY-MM-DD (or YYYY-MM, YYYY)"),
               checked=r.text("checked", False, is_date, "YYYY-MM-DD"), **extra)


def _rule_or_citation(r: Reader, name: str, read) -> Any:
    value = r.data.get(name)
    if value is None:
        return None
    if value == NO_RULE:
        return NO_RULE
    if not isinstance(value, dict):
        r.fail(name, f"must be a citation mapping or {NO_RULE!r}")
        return None
    return read(r.child(name, value))


def read_verification(matter: Reader, basis_count: int) -> Optional[VerificationRecord]:
    """The optional `verification:` record of a matter (structure only; knowledge.facts checks the content)."""
    raw = matter.data.get("verification")
    if raw is None:
        return None
    r = matter.child("verification", raw)
    basis: List[Optional[CitationRecord]] = []
    for i, item in enumerate(r.items("basis")):
        basis.append(None if item is None else _citation(r.child(f"basis[{i}]", item)))
    if r.data.get("basis") is not None and len(basis) != basis_count:
        r.fail("basis", f"has {len(basis)} entries, the matter's basis has {basis_count}: one per line, same order")

    def time_limit(t: Reader) -> TimeLimitCheck:
        return _citation(t, TimeLimitCheck, days=t.integer("days"), working=t.boolean("working", required=False))

    def fee(f: Reader) -> FeeCheck:
        return _citation(f, FeeCheck, free=f.boolean("free", required=False))

    unverified = r.texts("unverified")
    for name in unverified:
        if name not in FACTS:
            r.fail("unverified", f"unknown fact {name!r} (one of {', '.join(FACTS)})")
    return VerificationRecord(
        checked=r.text("checked", True, is_date, "YYYY-MM-DD"), basis=basis,
        time_limit=_rule_or_citation(r, "time_limit", time_limit), fee=_rule_or_citation(r, "fee", fee),
        conditions=[_citation(r.child(f"conditions[{i}]", c)) for i, c in enumerate(r.items("conditions"))],
        unverified=unverified, note_days=_whole_numbers(r, "note_days"), note=r.text("note", False))


def _whole_numbers(r: Reader, name: str) -> List[int]:
    value = r.data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                              for v in value):
        r.fail(name, "must be a list of whole numbers")
        return []
    return value


def read_changes(matter: Reader) -> List[ChangeRecord]:
    changes = []
    for i, raw in enumerate(matter.items("changes")):
        c = matter.child(f"changes[{i}]", raw)
        changes.append(ChangeRecord(date=c.text("date", check=is_date, hint="YYYY-MM-DD"), change=c.text("change"),
                                    reason=c.text("reason")))
    return changes


def read_instrument(r: Reader) -> InstrumentRecord:
    title = r.text("title")
    if title and ("《" in title or "》" in title):
        r.fail("title", "without 《》")
    return InstrumentRecord(
        title=title, short=r.texts("short"),
        kind=r.text("kind", check=lambda v: v in INSTRUMENT_KINDS, hint="one of " + "、".join(sorted(INSTRUMENT_KINDS))),
        issuer=r.text("issuer", False), number=r.text("number", False),
        version=r.text("version", check=is_version, hint="YYYY-MM-DD (or YYYY-MM, YYYY)"),
        version_note=r.text("version_note", False),
        in_force=r.text("in_force", False, is_date, "YYYY-MM-DD"),
        url=r.text("url", False, is_url, "must start with http(s)://"),
        checked=r.text("checked", False, is_date, "YYYY-MM-DD"), note=r.text("note", False))


def read_bundle(r: Reader, file: str) -> BundleRecord:
    source = r.child("source", r.mapping("source") or {})
    members = r.texts("members", minimum=2)
    materials = []
    for i, raw in enumerate(r.items("materials")):
        m = r.child(f"materials[{i}]", raw)
        original, copies = m.integer("original", required=True), m.integer("copies", required=True)
        if original == 0 and copies == 0:
            m.fail("original", "original and copies cannot both be 0")
        needed_by = m.texts("for", minimum=1)
        for code in needed_by:
            if code not in members:
                m.fail("for", f"{code!r} is not a member of the bundle")
        materials.append(BundleMaterialRecord(name=m.text("name"), original=original or 0, copies=copies or 0,
                                              matters=needed_by, note=m.text("note", False)))
    return BundleRecord(
        file=file, code=r.text("code", check=is_code), name=r.text("name"), intro=r.text("intro", False),
        aliases=r.texts("aliases", minimum=1), keywords=r.texts("keywords"), members=members,
        materials=materials, location=r.text("location", False), time_limit_days=r.integer("time_limit_days"),
        source_refs=source.texts("refs", minimum=1), as_of=source.text("as_of", check=is_date, hint="YYYY-MM-DD"),
    )
