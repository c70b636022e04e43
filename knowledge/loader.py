"""Reads the catalog files, validates them and replaces the database content in one transaction."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, List, Optional

import yaml
from sqlalchemy import delete, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import models
from .cases import CASE_WORDS_FILE, parse_case_words
from .text import normalize
from .schema import (CatalogError, CatalogIssue, CatalogRecords, Reader, read_bundle, read_department,
                     read_hall, read_instrument, read_location, read_matter)
from .situations import WORDS_FILE, parse_situation_words, situation_word_issues
from .vocabulary import VOCABULARY_FILE, read_vocabulary

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"


def _parse_yaml(path: Path, issues: List[CatalogIssue], name: str) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        issues.append(CatalogIssue(name, "", "", f"not valid YAML: {error}"))
        return None


def _substitute_city(value: Any, city: str) -> Any:
    if isinstance(value, str):
        return value.replace("{city}", city)
    if isinstance(value, list):
        return [_substitute_city(v, city) for v in value]
    if isinstance(value, dict):
        return {k: _substitute_city(v, city) for k, v in value.items()}
    return value


def _records_of(data: Any, key: str, path: Path, issues: List[CatalogIssue]) -> List[Any]:
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get(key, []), list):
        issues.append(CatalogIssue(path.name, "", key, f"the file must hold a mapping with a list `{key}`"))
        return []
    return data.get(key) or []


def read_catalog(directory: Path = CATALOG_DIR, city: Optional[str] = None) -> CatalogRecords:
    """Reads and validates every catalog file; raises CatalogError listing all problems."""
    directory = Path(directory)
    issues: List[CatalogIssue] = []
    records = CatalogRecords()
    hall_path = directory / "hall.yml"
    if not hall_path.exists():
        raise CatalogError([CatalogIssue("hall.yml", "", "", "file is missing")])
    hall_data = _parse_yaml(hall_path, issues, hall_path.name) or {}
    raw_city = (hall_data.get("hall") or {}).get("city") if isinstance(hall_data, dict) else None
    city = city or raw_city or ""
    hall_data = _substitute_city(hall_data, city)
    if isinstance(hall_data, dict):
        records.hall = read_hall(Reader(issues, hall_path.name, "hall", hall_data.get("hall")))
        for i, raw in enumerate(_records_of(hall_data, "departments", hall_path, issues)):
            records.departments.append(read_department(Reader(issues, hall_path.name, f"departments[{i}]", raw)))
        for i, raw in enumerate(_records_of(hall_data, "locations", hall_path, issues)):
            records.locations.append(read_location(Reader(issues, hall_path.name, f"locations[{i}]", raw)))

    for path in sorted((directory / "matters").glob("*.yml")):
        name = f"matters/{path.name}"
        data = _substitute_city(_parse_yaml(path, issues, name), city)
        for i, raw in enumerate(_records_of(data, "matters", path, issues)):
            label = raw.get("code") if isinstance(raw, dict) and raw.get("code") else f"matters[{i}]"
            records.matters.append(read_matter(Reader(issues, name, str(label), raw), name))

    bundles_path = directory / "bundles.yml"
    if bundles_path.exists():
        data = _substitute_city(_parse_yaml(bundles_path, issues, bundles_path.name), city)
        for i, raw in enumerate(_records_of(data, "bundles", bundles_path, issues)):
            label = raw.get("code") if isinstance(raw, dict) and raw.get("code") else f"bundles[{i}]"
            records.bundles.append(read_bundle(Reader(issues, bundles_path.name, str(label), raw), bundles_path.name))

    ambiguous_path = directory / "ambiguous.yml"
    if ambiguous_path.exists():
        data = _parse_yaml(ambiguous_path, issues, ambiguous_path.name) or {}
        terms = data.get("ambiguous_terms") if isinstance(data, dict) else None
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            issues.append(CatalogIssue(ambiguous_path.name, "", "ambiguous_terms", "must be a list of texts"))
        else:
            records.ambiguous_terms = terms

    case_words_path = directory / CASE_WORDS_FILE.name
    if case_words_path.exists():
        codes = [t.code for t in list(records.matters) + list(records.bundles)]
        issues.extend(parse_case_words(_parse_yaml(case_words_path, issues, case_words_path.name) or {}, codes)[1])

    instruments_path = directory / "instruments.yml"
    if instruments_path.exists():
        data = _parse_yaml(instruments_path, issues, instruments_path.name)
        for i, raw in enumerate(_records_of(data, "instruments", instruments_path, issues)):
            label = raw.get("title") if isinstance(raw, dict) and raw.get("title") else f"instruments[{i}]"
            records.instruments.append(read_instrument(Reader(issues, instruments_path.name, str(label), raw)))
        names = [n for x in records.instruments for n in x.names() if n]
        for name in _duplicates(names):
            issues.append(CatalogIssue(instruments_path.name, name, "title", "names two instruments (or is listed twice)"))

    words_path = directory / WORDS_FILE.name
    if words_path.exists():
        words, word_issues = parse_situation_words(_parse_yaml(words_path, issues, words_path.name), words_path.name)
        issues.extend(word_issues + situation_word_issues(words, records.matters, words_path.name))

    vocabulary_path = directory / VOCABULARY_FILE.name
    if vocabulary_path.exists():
        issues.extend(read_vocabulary(vocabulary_path)[1])

    issues.extend(_cross_reference_issues(records))
    issues.extend(_shared_term_issues(records))
    if issues:
        raise CatalogError(issues)
    return records


def _duplicates(values) -> List[str]:
    return [value for value, count in Counter(values).items() if value and count > 1]


def _cross_reference_issues(records: CatalogRecords) -> List[CatalogIssue]:
    issues: List[CatalogIssue] = []
    departments = {d.code for d in records.departments}
    locations = {l.code for l in records.locations}
    matters = {m.code for m in records.matters}
    for code in _duplicates([d.code for d in records.departments]):
        issues.append(CatalogIssue("hall.yml", code, "code", "duplicate department code"))
    for code in _duplicates([l.code for l in records.locations]):
        issues.append(CatalogIssue("hall.yml", code, "code", "duplicate location code"))
    for code in _duplicates([m.code for m in records.matters] + [b.code for b in records.bundles]):
        issues.append(CatalogIssue("matters", code, "code", "duplicate matter or bundle code"))
    if records.hall:
        for name in ("help_location", "complaint_location"):
            value = getattr(records.hall, name)
            if value and value not in locations:
                issues.append(CatalogIssue("hall.yml", "hall", name, f"unknown location {value!r}"))
    for m in records.matters:
        if m.department and m.department not in departments:
            issues.append(CatalogIssue(m.file, m.code, "department", f"unknown department {m.department!r}"))
        if m.location and m.location not in locations:
            issues.append(CatalogIssue(m.file, m.code, "location", f"unknown location {m.location!r}"))
        for related in m.related:
            if related not in matters:
                issues.append(CatalogIssue(m.file, m.code, "related", f"unknown matter {related!r}"))
            elif related == m.code:
                issues.append(CatalogIssue(m.file, m.code, "related", "a matter cannot be related to itself"))
        for alias in _duplicates(m.aliases + m.keywords):
            issues.append(CatalogIssue(m.file, m.code, "aliases", f"{alias!r} is listed twice"))
    for b in records.bundles:
        for member in b.members:
            if member not in matters:
                issues.append(CatalogIssue(b.file, b.code, "members", f"unknown matter {member!r}"))
        if b.location and b.location not in locations:
            issues.append(CatalogIssue(b.file, b.code, "location", f"unknown location {b.location!r}"))
    return issues


def _shared_term_issues(records: CatalogRecords) -> List[CatalogIssue]:
    """A term that names several matters must be declared ambiguous, so the bot asks instead of guessing."""
    owners = {}
    for target in list(records.matters) + list(records.bundles):
        for term in {normalize(t) for t in [target.name] + target.aliases + target.keywords}:
            owners.setdefault(term, []).append(target)
    declared = {normalize(t) for t in records.ambiguous_terms}
    issues = []
    for term, targets in sorted(owners.items()):
        if len(targets) > 1 and term not in declared:
            codes = ", ".join(t.code for t in targets)
            issues.append(CatalogIssue(targets[0].file, targets[0].code, "aliases",
                                       f"{term!r} also names {codes}: make it specific or list it in ambiguous.yml"))
    for term in sorted(declared - {t for t, targets in owners.items() if len(targets) > 1}):
        issues.append(CatalogIssue("ambiguous.yml", "", "ambiguous_terms",
                                   f"{term!r} is not shared by several matters"))
    return issues


def _drop_outdated_tables(engine: Engine) -> None:
    """A database written by an older version lacks new columns: its catalog tables are rebuilt (the files
    are the source of truth, so nothing is lost)."""
    inspector = inspect(engine)
    existing = set(inspector.get_table_names())
    for table in models.Base.metadata.sorted_tables:
        if table.name in existing:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            if not {c.name for c in table.columns} <= columns:
                models.Base.metadata.drop_all(engine)
                return


def write_catalog(engine: Engine, records: CatalogRecords) -> None:
    """Replaces the whole catalog in one transaction, so readers never see a half-loaded state."""
    _drop_outdated_tables(engine)
    models.Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        for table in reversed(models.Base.metadata.sorted_tables):
            session.execute(delete(table))
        session.add_all(models.Department(code=d.code, name=d.name, phone=d.phone) for d in records.departments)
        session.add_all(models.Location(code=l.code, floor=l.floor, zone=l.zone, windows=l.windows)
                        for l in records.locations)
        session.flush()
        h = records.hall
        session.add(models.Hall(
            id=1, name=h.name, city=h.city, address=h.address, phone=h.phone, hours=h.hours,
            online_portal=h.online_portal, help_location_code=h.help_location,
            complaint_location_code=h.complaint_location, complaint_reply_days=h.complaint_reply_days,
            source=h.source, as_of=h.as_of))
        for m in records.matters:
            session.add(_matter_row(m))
        session.flush()
        for m in records.matters:
            session.add_all(models.Relation(matter_code=m.code, related_code=r, position=i)
                            for i, r in enumerate(m.related))
            session.add_all(_terms("matter", m.code, m.name, m.aliases, m.keywords))
        for b in records.bundles:
            session.add(models.Bundle(code=b.code, name=b.name, intro=b.intro, location_code=b.location,
                                      time_limit_days=b.time_limit_days, source_refs=b.source_refs, as_of=b.as_of))
            session.add_all(models.BundleMember(bundle_code=b.code, matter_code=c, position=i)
                            for i, c in enumerate(b.members))
            session.add_all(models.BundleMaterial(bundle_code=b.code, position=i, name=x.name, original=x.original,
                                                  copies=x.copies, matters=x.matters, note=x.note)
                            for i, x in enumerate(b.materials))
            session.add_all(_terms("bundle", b.code, b.name, b.aliases, b.keywords))


def _terms(target_kind: str, code: str, name: str, aliases: List[str], keywords: List[str]):
    yield models.Term(target_kind=target_kind, target_code=code, kind="name", text=name)
    for alias in aliases:
        yield models.Term(target_kind=target_kind, target_code=code, kind="alias", text=alias)
    for keyword in keywords:
        yield models.Term(target_kind=target_kind, target_code=code, kind="keyword", text=keyword)


def _matter_row(m) -> models.Matter:
    row = models.Matter(
        code=m.code, name=m.name, national_code=m.national_code, type=m.type, department_code=m.department,
        basis=m.basis, conditions=m.conditions, legal_days=m.legal_days,
        legal_calendar_days=m.legal_calendar_days, committed_days=m.committed_days,
        time_note=m.time_note, fee_free=m.fee_free, fee_amount=m.fee_amount, fee_basis=m.fee_basis,
        location_code=m.location, hours=m.hours, phone=m.phone, online_available=m.online_available,
        full_online=m.full_online, online_url=m.online_url, online_note=m.online_note, visits=m.visits,
        flags=m.flags, source_refs=m.source_refs, source_note=m.source_note, as_of=m.as_of, source_file=m.file)
    row.situations = [models.Situation(position=i, code=s.code, question=s.question, options=s.options)
                      for i, s in enumerate(m.situations)]
    row.materials = [models.Material(position=i, name=x.name, original=x.original, copies=x.copies,
                                     required=x.required, when=x.when, when_text=x.when_text, note=x.note,
                                     issued_by=x.issued_by, form_url=x.form_url)
                     for i, x in enumerate(m.materials)]
    row.steps = [models.Step(position=i, name=s.name, detail=s.detail) for i, s in enumerate(m.steps)]
    return row


def load(engine: Engine, directory: Path = CATALOG_DIR, city: Optional[str] = None) -> CatalogRecords:
    records = read_catalog(directory, city)
    write_catalog(engine, records)
    return records
