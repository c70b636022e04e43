"""Handoff configuration (bot/handoff/handoff.yml or $HANDOFF_CONFIG): queues, routing, office hours."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Tuple

import yaml

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover - Python < 3.9
    ZoneInfo = None  # type: ignore

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_PERIOD_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class HandoffConfigError(ValueError):
    """The handoff configuration file is wrong; the message names the field."""


def _dates(values, where: str) -> FrozenSet[date]:
    days = set()
    for raw in values or []:
        text = str(raw)
        try:
            if ".." in text:
                first, last = (date.fromisoformat(p.strip()) for p in text.split("..", 1))
                if last < first:
                    raise ValueError
                days.update(first + timedelta(days=i) for i in range((last - first).days + 1))
            else:
                days.add(date.fromisoformat(text.strip()))
        except ValueError:
            raise HandoffConfigError(f"{where}: {text!r} is not a date (YYYY-MM-DD) or range (A..B)") from None
    return frozenset(days)


@dataclass(frozen=True)
class OfficeHours:
    description: str
    weekdays: FrozenSet[int]
    periods: Tuple[Tuple[time, time], ...]
    holidays: FrozenSet[date] = frozenset()
    workdays: FrozenSet[date] = frozenset()  # 调休: open although a weekend

    @classmethod
    def parse(cls, data: dict, where: str, base: Optional["OfficeHours"] = None) -> "OfficeHours":
        if not isinstance(data, dict):
            raise HandoffConfigError(f"{where} must be a mapping")
        if base is not None:
            merged = {"description": base.description}
            merged.update(data)
            data = merged
        days = data.get("weekdays", None if base is None else [k for k, v in WEEKDAYS.items() if v in base.weekdays])
        if not isinstance(days, list) or any(str(d).lower()[:3] not in WEEKDAYS for d in days):
            raise HandoffConfigError(f"{where}.weekdays must be a list of mon..sun")
        raw_periods = data.get("periods")
        if raw_periods is None and base is not None:
            periods = base.periods
        else:
            if not isinstance(raw_periods, list):
                raise HandoffConfigError(f"{where}.periods must be a list like [\"09:00-12:00\"]")
            parsed = []
            for raw in raw_periods:
                match = _PERIOD_RE.match(str(raw))
                if not match:
                    raise HandoffConfigError(f"{where}.periods: {raw!r} is not HH:MM-HH:MM")
                h1, m1, h2, m2 = (int(g) for g in match.groups())
                if not (0 <= h1 <= 24 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60) or (h1, m1) >= (h2, m2):
                    raise HandoffConfigError(f"{where}.periods: {raw!r} is not a valid period")
                end = time.max if (h2, m2) == (24, 0) else time(h2, m2)
                parsed.append((time(h1 % 24, m1), end))
            periods = tuple(parsed)
        holidays = _dates(data.get("holidays"), f"{where}.holidays") if "holidays" in data or base is None \
            else base.holidays
        workdays = _dates(data.get("workdays"), f"{where}.workdays") if "workdays" in data or base is None \
            else base.workdays
        return cls(description=str(data.get("description") or ""),
                   weekdays=frozenset(WEEKDAYS[str(d).lower()[:3]] for d in days),
                   periods=periods, holidays=holidays, workdays=workdays)

    def is_open(self, local: datetime) -> bool:
        day = local.date()
        if day in self.holidays:
            return False
        if local.weekday() not in self.weekdays and day not in self.workdays:
            return False
        now = local.time()
        return any(start <= now < end or (end == time.max and now >= start) for start, end in self.periods)


@dataclass(frozen=True)
class QueueConfig:
    code: str
    name: str
    locations: Tuple[str, ...] = ()
    departments: Tuple[str, ...] = ()
    priority: int = 0
    priority_label: str = ""
    office_hours: Optional[OfficeHours] = None


@dataclass(frozen=True)
class Resolution:
    code: str
    label: str


@dataclass(frozen=True)
class HandoffConfig:
    timezone_name: str
    office_hours: OfficeHours
    queues: Tuple[QueueConfig, ...]
    default_queue: str
    matters: Dict[str, str] = field(default_factory=dict)  # matter code -> queue code (overrides)
    reason_priority: Dict[str, int] = field(default_factory=dict)
    resolutions: Tuple[Resolution, ...] = ()
    minutes_per_ticket: float = 6.0
    on_duty_grace_seconds: int = 45
    supervisors_on_duty_for_all: bool = True
    rating_window_hours: int = 24
    channels: Dict[str, dict] = field(default_factory=dict)

    # -- lookups -------------------------------------------------------------------------------

    def queue(self, code: str) -> Optional[QueueConfig]:
        return next((q for q in self.queues if q.code == code), None)

    def queue_name(self, code: str) -> str:
        queue = self.queue(code)
        return queue.name if queue else code

    def hours_for(self, queue_code: str) -> OfficeHours:
        queue = self.queue(queue_code)
        return queue.office_hours if queue and queue.office_hours else self.office_hours

    @property
    def tz(self):
        if ZoneInfo is None:
            return timezone(timedelta(hours=8))
        return ZoneInfo(self.timezone_name)

    def local(self, utc_naive: datetime) -> datetime:
        return utc_naive.replace(tzinfo=timezone.utc).astimezone(self.tz)

    def local_day_start_utc(self, utc_naive: datetime) -> datetime:
        """UTC (naive) of the start of the local day containing the given instant."""
        local = self.local(utc_naive)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.astimezone(timezone.utc).replace(tzinfo=None)

    def is_open(self, queue_code: str, utc_naive: datetime) -> bool:
        return self.hours_for(queue_code).is_open(self.local(utc_naive))

    def resolution_label(self, code: Optional[str]) -> str:
        """What helpers read for a closed ticket's resolution code (已解答, not answered)."""
        return next((r.label for r in self.resolutions if r.code == code), code or "")

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, timezone_name: Optional[str] = None) -> "HandoffConfig":
        """The file at `path`; `timezone_name` (the hall's clock, Settings.hall_timezone) wins over its own."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise HandoffConfigError(f"cannot read the handoff configuration {path}: {exc}") from None
        except yaml.YAMLError as exc:
            raise HandoffConfigError(f"{path} is not valid YAML: {exc}") from None
        data = data or {}
        if timezone_name and isinstance(data, dict):
            data = {**data, "timezone": timezone_name}
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict, where: str = "handoff configuration") -> "HandoffConfig":
        if not isinstance(data, dict):
            raise HandoffConfigError(f"{where} must be a mapping")
        tz_name = str(data.get("timezone") or "Asia/Shanghai")
        if ZoneInfo is not None:
            try:
                ZoneInfo(tz_name)
            except Exception:
                raise HandoffConfigError(f"{where}: unknown timezone {tz_name!r}") from None
        hours = OfficeHours.parse(data.get("office_hours") or {}, f"{where}: office_hours")
        queues: List[QueueConfig] = []
        raw_queues = data.get("queues")
        if not isinstance(raw_queues, list) or not raw_queues:
            raise HandoffConfigError(f"{where}: queues must be a non-empty list")
        for index, raw in enumerate(raw_queues):
            at = f"{where}: queues[{index}]"
            if not isinstance(raw, dict):
                raise HandoffConfigError(f"{at} must be a mapping")
            code = str(raw.get("code") or "")
            if not _CODE_RE.match(code):
                raise HandoffConfigError(f"{at}.code must be lower-case letters/digits/_ (got {code!r})")
            if any(q.code == code for q in queues):
                raise HandoffConfigError(f"{at}.code {code!r} is used twice")
            if not raw.get("name"):
                raise HandoffConfigError(f"{at}.name is missing")
            own_hours = raw.get("office_hours")
            queues.append(QueueConfig(
                code=code, name=str(raw["name"]),
                locations=tuple(str(x) for x in raw.get("locations") or ()),
                departments=tuple(str(x) for x in raw.get("departments") or ()),
                priority=int(raw.get("priority") or 0),
                priority_label=str(raw.get("priority_label") or ""),
                office_hours=OfficeHours.parse(own_hours, f"{at}.office_hours", base=hours) if own_hours else None,
            ))
        default_queue = str(data.get("default_queue") or queues[-1].code)
        codes = {q.code for q in queues}
        if default_queue not in codes:
            raise HandoffConfigError(f"{where}: default_queue {default_queue!r} is not one of the queues")
        matters = {str(k): str(v) for k, v in (data.get("matters") or {}).items()}
        for matter, queue in matters.items():
            if queue not in codes:
                raise HandoffConfigError(f"{where}: matters.{matter} names an unknown queue {queue!r}")
        resolutions = tuple(Resolution(str(r["code"]), str(r["label"])) for r in data.get("resolutions") or ())
        if not resolutions:
            raise HandoffConfigError(f"{where}: resolutions must list at least one {{code, label}}")
        return cls(
            timezone_name=tz_name, office_hours=hours, queues=tuple(queues), default_queue=default_queue,
            matters=matters,
            reason_priority={str(k): int(v) for k, v in (data.get("reason_priority") or {}).items()},
            resolutions=resolutions,
            minutes_per_ticket=float(data.get("minutes_per_ticket") or 6),
            on_duty_grace_seconds=int(data.get("on_duty_grace_seconds") or 45),
            supervisors_on_duty_for_all=bool(data.get("supervisors_on_duty_for_all", True)),
            rating_window_hours=int(data.get("rating_window_hours") or 24),
            channels={str(k): dict(v or {}) for k, v in (data.get("channels") or {}).items()},
        )
