"""Masking of personal data before it reaches a log line."""
from __future__ import annotations

import re
from typing import Any, Callable, Match

# Full-width digits count too: Chinese input methods produce them.
_D = "[0-9\uff10-\uff19]"
_NOT_DIGIT_BEFORE = r"(?<![0-9\uff10-\uff19])"
_NOT_DIGIT_AFTER = r"(?![0-9\uff10-\uff19])"
_SEP = "[ \\-\u2010-\u2015\uff0d]?"  # space or dash inside a typed phone number


def _keep(first: int, last: int) -> Callable[[Match[str]], str]:
    def repl(match: Match[str]) -> str:
        raw = match.group(0)
        # Mask only the digits/letters; keep separators so the shape stays readable.
        chars = [c for c in raw if c not in " -\u2010\u2011\u2012\u2013\u2014\u2015\uff0d"]
        if len(chars) <= first + last:
            return "*" * len(raw)
        return "".join(chars[:first]) + "*" * (len(chars) - first - last) + "".join(chars[len(chars) - last:])

    return repl


_RULES = [
    # Resident ID number: 18 characters (17 digits + digit or X), or the old 15-digit form; people also type
    # it in groups with spaces or dashes (130102 19900101 1234).
    (re.compile(rf"{_NOT_DIGIT_BEFORE}(?:{_D}{_SEP}){{17}}[0-9\uff10-\uff19Xx\uff38\uff58]{_NOT_DIGIT_AFTER}(?![A-Za-z])"),
     _keep(3, 2)),
    # Bank card and other long numbers (16-19 digits), then the old 15-digit ID.
    (re.compile(rf"{_NOT_DIGIT_BEFORE}(?:{_D}{_SEP}){{15,18}}{_D}{_NOT_DIGIT_AFTER}"), _keep(0, 4)),
    (re.compile(rf"{_NOT_DIGIT_BEFORE}(?:{_D}{_SEP}){{14}}{_D}{_NOT_DIGIT_AFTER}"), _keep(3, 2)),
    # Mainland mobile number, also typed as 138 1234 5678 or 138-1234-5678, optional +86.
    (
        re.compile(
            rf"{_NOT_DIGIT_BEFORE}(?:\+?86{_SEP})?[1\uff11][3-9\uff13-\uff19]{_D}{_SEP}{_D}{{4}}{_SEP}{_D}{{4}}{_NOT_DIGIT_AFTER}"
        ),
        None,  # handled below: keep 3 + 4 of the national number
    ),
    # Landline with area code, e.g. 0311-87654321 (a callback number left by a citizen).
    # Area codes never start with 00, which keeps 12-digit matter codes (000131128000) readable.
    (re.compile(rf"{_NOT_DIGIT_BEFORE}[0\uff10][1-9\uff11-\uff19]{_D}{{1,2}}{_SEP}{_D}{{7,8}}{_NOT_DIGIT_AFTER}"), _keep(4, 2)),
    # E-mail: keep the first character of the local part and the domain.
    (re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*(@[A-Za-z0-9.\-]+\.[A-Za-z]{2,})"), lambda m: m.group(1) + "***" + m.group(2)),
    # A name the person gives: 我叫张三 / 我是欧阳娜娜 / 姓名：张三 / 联系人：张三 -> keep the surname.
    # (我是 also precedes other words, 我是个体户: masking those in a log line costs nothing.)
    (
        re.compile(r"((?:我叫|我是|我的名字是|名字叫|名字是|本人|申请人|代办人|经办人|联系人|姓名)[是为叫:：\s]*)"
                   r"([\u4e00-\u9fff·]{2,4})"),
        lambda m: m.group(1) + m.group(2)[0] + "*" * (len(m.group(2)) - 1),
    ),
]


def _mask_mobile(match: Match[str]) -> str:
    raw = match.group(0)
    digits = [c for c in raw if c.isdigit()]
    national = digits[-11:]
    prefix = "+86" if len(digits) > 11 else ""
    return prefix + "".join(national[:3]) + "****" + "".join(national[7:])


def mask_personal_data(text: Any) -> str:
    """Return ``text`` with ID numbers, bank cards, phone numbers, e-mails and given names masked."""
    if text is None:
        return ""
    masked = str(text)
    for pattern, repl in _RULES:
        masked = pattern.sub(repl or _mask_mobile, masked)
    return masked


def mask_name(name: Any) -> str:
    """A field that holds only a name (typed by a helper or a form): keep the first character."""
    text = "" if name is None else str(name).strip()
    return text[:1] + "*" * (len(text) - 1) if text else ""


def mask_openid(openid: Any) -> str:
    """A WeChat openid names one person: keep enough to match log lines, not enough to message them."""
    text = "" if openid is None else str(openid)
    return f"{text[:4]}…{text[-2:]}" if len(text) > 8 else "…"
