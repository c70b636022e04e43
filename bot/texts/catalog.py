"""Catalog facts as sentences: turns catalog views into the variables of domain responses.

Every Chinese word comes from a `utter_fragment_*` response of the domain (through the domain-text service),
so all citizen-facing text lives in domain.yml; this module only decides which fragment to use and fills it.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Union

from knowledge.views import BundleView, HallView, MatterView, PlaceView

from . import DomainTexts

ASPECTS = ("materials", "conditions", "procedure", "time_limit", "fee", "location", "online", "hours")


class Fragments:
    """`Fragments(texts)`, or `Fragments(domain)` with the domain Rasa hands an action."""

    def __init__(self, texts: Union[DomainTexts, Mapping[str, Any]]):
        self.texts = texts if isinstance(texts, DomainTexts) else DomainTexts.of(texts)

    def __call__(self, fragment: str, /, **values: Any) -> str:
        """Strict: a missing fragment or variable is a bug in the domain, raised (tests catch it)."""
        return self.texts.template(f"utter_fragment_{fragment}").format(**values)

    def numbered(self, texts: List[str]) -> str:
        return "\n".join(self("numbered_line", index=i, text=t) for i, t in enumerate(texts, 1))

    def place(self, place: Optional[PlaceView]) -> str:
        if place is None:
            return self("unknown")
        if place.windows:
            return self("place", floor=place.floor, zone=place.zone, windows=place.windows)
        return self("place_no_windows", floor=place.floor, zone=place.zone)

    def _form(self, original: int, copies: int) -> str:
        form = []
        if original:
            form.append(self("original", count=original))
        if copies:
            form.append(self("copies", count=copies))
        return self("list_separator").join(form)

    def material_lines(self, matter: MatterView, answers: Dict[str, str]) -> List[str]:
        lines = []
        for index, (material, conditional) in enumerate(matter.materials_for(answers), 1):
            note = ""
            if material.note:
                note += self("material_note", note=material.note)
            if material.issued_by:
                note += self("material_issued_by", issued_by=material.issued_by)
            if material.form_url:
                note += self("material_form_url", url=material.form_url)
            condition = self("material_condition", when_text=material.when_text) if conditional else ""
            lines.append(self("material_line", index=index, name=material.name,
                              form=self._form(material.original, material.copies), condition=condition, note=note))
        return lines

    def steps(self, matter: MatterView) -> str:
        return "\n".join(self("step_line", index=i, name=s.name, detail=s.detail or "")
                         for i, s in enumerate(matter.steps, 1))

    def visits(self, visits: Optional[int]) -> str:
        if visits is None:
            return self("visits_unknown")
        if visits == 0:
            return self("visits_zero")
        return self("visits", count=visits)

    def time_limit(self, matter: MatterView) -> Optional[str]:
        """None when the catalog says nothing at all about the time limit."""
        if matter.legal_days is None and matter.committed_days is None and not matter.time_note:
            return None
        parts = []
        if matter.legal_days == 0:
            parts.append(self("legal_immediate"))
        elif matter.legal_days is not None:
            unit = "days_legal_calendar" if matter.legal_calendar_days else "days_legal"
            parts.append(self(unit, days=matter.legal_days))
        else:
            parts.append(self("days_legal_unknown"))
        if matter.committed_days == 0:
            parts.append(self("days_immediate"))
        elif matter.committed_days is not None:
            parts.append(self("days_committed", days=matter.committed_days))
        else:
            parts.append(self("days_committed_unknown"))
        text = self("clause_separator").join(parts)
        if matter.time_note:
            text += self("time_note", note=matter.time_note)
        return text

    def fee(self, matter: MatterView) -> Optional[str]:
        if matter.fee_free is True:
            return self("fee_free")
        if matter.fee_amount:
            basis = self("fee_basis", basis=matter.fee_basis) if matter.fee_basis else ""
            return self("fee_amount", amount=matter.fee_amount, basis=basis)
        return None

    def online(self, matter: MatterView) -> str:
        note = self("online_note", note=matter.online_note) if matter.online_note else ""
        url = matter.online_url or self("online_no_url")
        if matter.full_online:
            return self("online_full", url=url, note=note)
        if matter.online_available:
            return self("online_partial", visits=self.visits(matter.visits), url=url, note=note)
        return self("online_none", place=self.place(matter.place), note=note)

    def online_short(self, matter: MatterView) -> str:
        if matter.full_online:
            return self("online_yes_short")
        if matter.online_available:
            return self("online_partial_short")
        return self("online_no_short")

    def overview(self, matter: MatterView) -> str:
        lines = [
            self("overview_department", department=matter.department, type=matter.type),
            self("overview_place", place=self.place(matter.place)),
            self("overview_time", time_limit=self.time_limit(matter) or self("unknown")),
            self("overview_fee", fee=self.fee(matter) or self("unknown")),
            self("overview_online", online=self.online_short(matter)),
        ]
        return "\n".join(lines)

    def bundle_members(self, bundle: BundleView) -> str:
        return self.numbered([m.name for m in bundle.members])

    def bundle_intro(self, bundle: BundleView) -> str:
        return self("bundle_intro", intro=bundle.intro) if bundle.intro else ""

    def bundle_material_lines(self, bundle: BundleView) -> List[str]:
        """The merged list: each item once; which members need it when not all of them do."""
        names = {m.code: m.name for m in bundle.members}
        lines = []
        for index, material in enumerate(bundle.materials, 1):
            condition = ""
            if set(material.matters) != set(names):
                members = self("list_separator").join(n for code, n in names.items() if code in material.matters)
                condition = self("bundle_material_for", members=members)
            note = self("material_note", note=material.note) if material.note else ""
            lines.append(self("material_line", index=index, name=material.name,
                              form=self._form(material.original, material.copies), condition=condition, note=note))
        return lines

    def bundle_time(self, bundle: BundleView) -> str:
        if bundle.time_limit_days is None:
            return self("bundle_time_unknown")
        return self("bundle_time", days=bundle.time_limit_days)

    def aspect_label(self, aspect: str) -> str:
        return self(f"aspect_{aspect}")

    def aspect_buttons(self, matter_code: str, skip: str = "") -> List[Dict[str, str]]:
        return [{"title": self(f"button_{a}"), "payload": f'/ask_{a}{{"matter":"{matter_code}"}}'}
                for a in ASPECTS if a not in (skip, "hours")]


def matter_button(code: str, name: str) -> Dict[str, str]:
    return {"title": name, "payload": f'/choose_matter{{"matter":"{code}"}}'}


def hall_values(hall: HallView, fragments: Fragments) -> Dict[str, str]:
    return {"hall_name": hall.name, "hours": hall.hours, "address": hall.address or fragments("unknown"),
            "phone": hall.phone or fragments("unknown")}
