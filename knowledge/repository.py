"""Queries of the catalog, returning detached views; one short session per call."""
from __future__ import annotations

from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from . import models
from .views import (BundleMaterialView, BundleView, HallView, MaterialView, MatterRef, MatterView, PlaceView, SituationView,
                    StepView)


def _place(location: Optional[models.Location]) -> Optional[PlaceView]:
    if location is None:
        return None
    return PlaceView(floor=location.floor, zone=location.zone, windows=location.windows)


class Catalog:
    """Reads the catalog. With cache=True, views are kept for the life of the object: right for a
    server process, where the catalog changes only with a reload and restart."""

    def __init__(self, engine: Engine, cache: bool = False):
        self.engine = engine
        self._cache: Optional[dict] = {} if cache else None

    def _cached(self, key: tuple, load):
        if self._cache is None:
            return load()
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    def hall(self) -> HallView:
        return self._cached(("hall",), self._load_hall)

    def _load_hall(self) -> HallView:
        with Session(self.engine) as session:
            hall = session.get(models.Hall, 1)
            if hall is None:
                raise LookupError("the catalog is not loaded: run `python -m knowledge load`")
            return HallView(
                name=hall.name, city=hall.city, address=hall.address, phone=hall.phone, hours=hall.hours,
                online_portal=hall.online_portal,
                help_place=_place(session.get(models.Location, hall.help_location_code)
                                  if hall.help_location_code else None),
                complaint_place=_place(session.get(models.Location, hall.complaint_location_code)
                                       if hall.complaint_location_code else None),
                complaint_reply_days=hall.complaint_reply_days)

    def matter(self, code: str) -> Optional[MatterView]:
        return self._cached(("matter", code), lambda: self._load_matter(code))

    def _load_matter(self, code: str) -> Optional[MatterView]:
        query = (select(models.Matter).where(models.Matter.code == code)
                 .options(selectinload(models.Matter.situations), selectinload(models.Matter.materials),
                          selectinload(models.Matter.steps), selectinload(models.Matter.department),
                          selectinload(models.Matter.location)))
        with Session(self.engine) as session:
            m = session.scalars(query).first()
            if m is None:
                return None
            related = session.execute(
                select(models.Matter.code, models.Matter.name)
                .join(models.Relation, models.Relation.related_code == models.Matter.code)
                .where(models.Relation.matter_code == code).order_by(models.Relation.position)).all()
            bundles = session.execute(
                select(models.Bundle.code, models.Bundle.name)
                .join(models.BundleMember, models.BundleMember.bundle_code == models.Bundle.code)
                .where(models.BundleMember.matter_code == code).order_by(models.Bundle.code)).all()
            return MatterView(
                code=m.code, name=m.name, type=m.type, department=m.department.name,
                department_phone=m.department.phone, basis=tuple(m.basis), conditions=tuple(m.conditions),
                situations=tuple(SituationView(code=s.code, question=s.question,
                                               options=tuple((o["code"], o["label"]) for o in s.options))
                                 for s in m.situations),
                materials=tuple(MaterialView(name=x.name, original=x.original, copies=x.copies,
                                             required=x.required, when=x.when, when_text=x.when_text,
                                             note=x.note, issued_by=x.issued_by, form_url=x.form_url)
                                for x in m.materials),
                steps=tuple(StepView(name=s.name, detail=s.detail) for s in m.steps),
                legal_days=m.legal_days, legal_calendar_days=m.legal_calendar_days, committed_days=m.committed_days, time_note=m.time_note,
                fee_free=m.fee_free, fee_amount=m.fee_amount, fee_basis=m.fee_basis, place=_place(m.location),
                hours=m.hours, phone=m.phone, online_available=m.online_available, full_online=m.full_online,
                online_url=m.online_url, online_note=m.online_note, visits=m.visits, flags=tuple(m.flags),
                related=tuple(MatterRef(c, n) for c, n in related),
                bundles=tuple(MatterRef(c, n) for c, n in bundles),
                source_refs=tuple(m.source_refs), as_of=m.as_of)

    def bundle(self, code: str) -> Optional[BundleView]:
        return self._cached(("bundle", code), lambda: self._load_bundle(code))

    def _load_bundle(self, code: str) -> Optional[BundleView]:
        with Session(self.engine) as session:
            b = session.get(models.Bundle, code)
            if b is None:
                return None
            members = session.execute(
                select(models.Matter.code, models.Matter.name)
                .join(models.BundleMember, models.BundleMember.matter_code == models.Matter.code)
                .where(models.BundleMember.bundle_code == code).order_by(models.BundleMember.position)).all()
            location = session.get(models.Location, b.location_code) if b.location_code else None
            materials = session.scalars(select(models.BundleMaterial)
                                        .where(models.BundleMaterial.bundle_code == code)
                                        .order_by(models.BundleMaterial.position)).all()
            return BundleView(code=b.code, name=b.name, intro=b.intro,
                              members=tuple(MatterRef(c, n) for c, n in members),
                              materials=tuple(BundleMaterialView(name=x.name, original=x.original, copies=x.copies,
                                                                 matters=tuple(x.matters), note=x.note)
                                              for x in materials),
                              place=_place(location), time_limit_days=b.time_limit_days)

    def terms(self) -> List[tuple]:
        """(target_kind, target_code, target_name, term_kind, text) for every name, alias and keyword."""
        with Session(self.engine) as session:
            names = dict(session.execute(select(models.Matter.code, models.Matter.name)).all())
            names.update(session.execute(select(models.Bundle.code, models.Bundle.name)).all())
            rows = session.execute(select(models.Term.target_kind, models.Term.target_code, models.Term.kind,
                                          models.Term.text).order_by(models.Term.id)).all()
            return [(kind, code, names[code], term_kind, text) for kind, code, term_kind, text in rows]
