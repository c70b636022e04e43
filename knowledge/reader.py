"""The catalog reader's plumbing: issues that name file, record and field, the error that carries them all, a
Reader that collects issues instead of stopping at the first, and the value checks the record readers share."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

CODE_RE = re.compile(r"^[A-Z0-9]+(-[A-Z0-9]+)*$")


@dataclass(frozen=True)
class CatalogIssue:
    file: str
    record: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.record}: {self.field}: {self.message}"


class CatalogError(Exception):
    """Raised when catalog files are invalid; carries every issue found."""

    def __init__(self, issues: List[CatalogIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class Reader:
    """Reads fields of one record, collecting issues instead of stopping at the first."""

    def __init__(self, issues: List[CatalogIssue], file: str, record: str, data: Any):
        self.issues, self.file, self.record = issues, file, record
        self.data = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            self.fail("", "must be a mapping")

    def fail(self, name: str, message: str) -> None:
        self.issues.append(CatalogIssue(self.file, self.record, name, message))

    def text(self, name: str, required: bool = True, check: Optional[Callable[[str], bool]] = None,
             hint: str = "") -> Optional[str]:
        value = self.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(name, "is required")
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(name, "must be text")
            return None
        value = value.strip()
        if check and not check(value):
            self.fail(name, f"invalid value {value!r}{': ' + hint if hint else ''}")
            return None
        return value

    def integer(self, name: str, required: bool = False, minimum: int = 0) -> Optional[int]:
        value = self.data.get(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(name, f"must be a whole number >= {minimum}")
            return None
        return value

    def boolean(self, name: str, required: bool = True) -> Optional[bool]:
        value = self.data.get(name)
        if value is None:
            if required:
                self.fail(name, "is required (true or false)")
            return None
        if not isinstance(value, bool):
            self.fail(name, "must be true or false")
            return None
        return value

    def texts(self, name: str, minimum: int = 0) -> List[str]:
        value = self.data.get(name)
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(name, "must be a list of non-empty texts")
            return []
        if len(value) < minimum:
            self.fail(name, f"needs at least {minimum} entries")
        return [v.strip() for v in value]

    def mapping(self, name: str, required: bool = True) -> Optional[dict]:
        value = self.data.get(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        if not isinstance(value, dict):
            self.fail(name, "must be a mapping")
            return None
        return value

    def items(self, name: str, minimum: int = 0) -> List[Any]:
        value = self.data.get(name)
        if value is None:
            value = []
        if not isinstance(value, list):
            self.fail(name, "must be a list")
            return []
        if len(value) < minimum:
            self.fail(name, f"needs at least {minimum} entries")
        return value

    def child(self, name: str, data: Any) -> "Reader":
        return Reader(self.issues, self.file, f"{self.record}.{name}", data)


def is_code(value: str) -> bool:
    return bool(CODE_RE.match(value))


def is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def is_date(value: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{2}(-\d{2})?$", value))


def is_version(value: str) -> bool:
    """The date of an instrument's version: YYYY-MM-DD, or YYYY-MM / YYYY when only that much is known."""
    return bool(re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", value))
