"""Read-only views of catalog records, detached from any database session."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple


@dataclass(frozen=True)
class PlaceView:
    floor: str
    zone: str
    windows: Optional[str]


@dataclass(frozen=True)
class HallView:
    name: str
    city: str
    address: Optional[str]
    phone: Optional[str]
    hours: str
    online_portal: Optional[str]
    help_place: Optional[PlaceView]
    complaint_place: Optional[PlaceView]
    complaint_reply_days: Optional[int] = None  # working days; None: not registered


@dataclass(frozen=True)
class SituationView:
    code: str
    question: str
    options: Tuple[Tuple[str, str], ...]  # (code, label)

    def label_of(self, option_code: str) -> Optional[str]:
        return dict(self.options).get(option_code)


@dataclass(frozen=True)
class MaterialView:
    name: str
    original: int
    copies: int
    required: bool
    when: Optional[Dict[str, str]]
    when_text: Optional[str]
    note: Optional[str]
    issued_by: Optional[str]
    form_url: Optional[str]

    def applies(self, answers: Dict[str, str]) -> Optional[bool]:
        """True/False when the answers decide it, None when it depends on an unanswered situation."""
        if self.required:
            return True
        if not self.when:
            return None
        decided = True
        for situation, option in self.when.items():
            if situation not in answers:
                decided = False
            elif answers[situation] != option:
                return False
        return True if decided else None


@dataclass(frozen=True)
class StepView:
    name: str
    detail: Optional[str]


@dataclass(frozen=True)
class MatterRef:
    code: str
    name: str


@dataclass(frozen=True)
class MatterView:
    code: str
    name: str
    type: str
    department: str
    department_phone: Optional[str]
    basis: Tuple[str, ...]
    conditions: Tuple[str, ...]
    situations: Tuple[SituationView, ...]
    materials: Tuple[MaterialView, ...]
    steps: Tuple[StepView, ...]
    legal_days: Optional[int]
    legal_calendar_days: bool
    committed_days: Optional[int]
    time_note: Optional[str]
    fee_free: Optional[bool]
    fee_amount: Optional[str]
    fee_basis: Optional[str]
    place: Optional[PlaceView]
    hours: Optional[str]
    phone: Optional[str]
    online_available: bool
    full_online: bool
    online_url: Optional[str]
    online_note: Optional[str]
    visits: Optional[int]
    flags: Tuple[str, ...]
    related: Tuple[MatterRef, ...]
    bundles: Tuple[MatterRef, ...]
    source_refs: Tuple[str, ...]
    as_of: str

    @property
    def contact_phone(self) -> Optional[str]:
        return self.phone or self.department_phone

    def materials_for(self, answers: Dict[str, str]) -> List[Tuple[MaterialView, bool]]:
        """The complete list for the answers given: (material, conditional) pairs.

        A material whose situation is not answered yet stays in the list, marked conditional, so the
        list is complete whatever the person's situation turns out to be.
        """
        result = []
        for material in self.materials:
            applies = material.applies(answers)
            if applies is False:
                continue
            result.append((material, applies is None))
        return result


@dataclass(frozen=True)
class BundleMaterialView:
    name: str
    original: int
    copies: int
    matters: Tuple[str, ...]
    note: Optional[str]


@dataclass(frozen=True)
class BundleView:
    code: str
    name: str
    intro: Optional[str]
    members: Tuple[MatterRef, ...]
    materials: Tuple[BundleMaterialView, ...]
    place: Optional[PlaceView]
    time_limit_days: Optional[int]
