"""The printable one-time notice (一次性告知单): GET /notice/{matter_code}?s=…&have=…[&download=1].

The address (knowledge/notice.py) carries only the matter, the situation answers and the positions the person
already has; the page is rebuilt from the catalog, with the bot's own material lines (bot.texts.catalog.Fragments)
and labels from the domain's `utter_fragment_notice_*` responses.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Optional, Set, Tuple

from aiohttp import web

from bot.texts.catalog import Fragments
from knowledge import Catalog
from knowledge.notice import parse_notice_query, valid_matter_code
from knowledge.views import MaterialView, MatterView

from . import keys

logger = logging.getLogger(__name__)

NOTICE_CSS = keys.STATIC_DIR / "notice.css"
# The page depends on the catalog and the day only; no personal data in it.
PAGE_CACHE = "public, max-age=300"
ERROR_CACHE = "no-store"
LABELS = ("title", "matter", "department", "situation", "situation_none", "have", "to_prepare", "missing_none",
          "how_form", "how_unknown", "place", "hours", "time_limit", "phone", "date", "print", "download", "back")


class BadNotice(ValueError):
    """The query does not fit the matter (unknown situation, option or position)."""


@dataclass(frozen=True)
class MissingItem:
    position: int
    name: str
    how: Tuple[str, ...]
    form_url: Optional[str]


@dataclass(frozen=True)
class Notice:
    matter: MatterView
    situation: Tuple[Tuple[str, str], ...]  # (question, chosen option label)
    lines: Tuple[Tuple[str, bool], ...]  # (the bot's line, the person has it)
    checked: bool  # the person said what they have
    missing: Tuple[MissingItem, ...]
    place: str
    hours: str
    time_limit: str
    phone: str
    hall_name: str


class NoticeResources:
    """What the page needs besides the process's shared texts, catalog and templates: its style sheet and fragments."""

    def __init__(self, app: web.Application):
        self._app = app
        self.env = app[keys.JINJA]
        self.fragments = Fragments(app[keys.TEXTS])
        self._css: Optional[str] = None

    def catalog(self) -> Catalog:
        return self._app[keys.CATALOG].get()

    def css(self) -> str:
        if self._css is None:
            self._css = NOTICE_CSS.read_text(encoding="utf-8")
        return self._css


RESOURCES = web.AppKey("notice_resources", NoticeResources)


def setup_notice(app: web.Application) -> None:
    app[RESOURCES] = NoticeResources(app)
    app.router.add_get("/notice/{code}", notice_page)


def build_notice(catalog: Catalog, f: Fragments, matter: MatterView, answers: Dict[str, str],
                 have: Set[int]) -> Notice:
    known = {s.code for s in matter.situations}
    if set(answers) - known:
        raise BadNotice(f"{sorted(set(answers) - known)} are not situations of {matter.code}")
    chosen = []
    for situation in matter.situations:  # in the catalog's order, as the bot asks
        if situation.code in answers:
            label = situation.label_of(answers[situation.code])
            if label is None:
                raise BadNotice(f"{answers[situation.code]!r} is not an option of {situation.code}")
            chosen.append((situation.question, label))

    materials = matter.materials_for(answers)
    if have and max(have) > len(materials):
        raise BadNotice(f"position {max(have)} beyond the {len(materials)} listed")
    lines = f.material_lines(matter, answers)
    missing = tuple(_missing(f, i, m) for i, (m, _) in enumerate(materials, 1) if i not in have)
    hall = catalog.hall()
    return Notice(
        matter=matter,
        situation=tuple(chosen),
        lines=tuple((line, i in have) for i, line in enumerate(lines, 1)),
        checked=bool(have),
        missing=missing if have else (),
        place=f.place(matter.place),
        hours=matter.hours or hall.hours,
        time_limit=f.time_limit(matter) or f("unknown"),
        phone=matter.contact_phone or hall.phone or f("unknown"),
        hall_name=hall.name,
    )


def _missing(f: Fragments, position: int, material: MaterialView) -> MissingItem:
    how = []
    if material.note:
        how.append(f("notice_how_note", note=material.note))
    if material.issued_by:
        how.append(f("notice_how_issued_by", issued_by=material.issued_by))
    return MissingItem(position, material.name, tuple(how), material.form_url)  # the loader allows http(s) only


def _labels(f: Fragments) -> Dict[str, str]:
    return {name: f(f"notice_{name}") for name in LABELS}


def _error(resources: NoticeResources, status: int, fragment: str) -> web.Response:
    f = resources.fragments
    html = resources.env.get_template("notice_error.html").render(
        title=f("notice_title"), message=f(fragment), back=f("notice_back"))
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": ERROR_CACHE})


async def notice_page(request: web.Request) -> web.Response:
    resources = request.app[RESOURCES]
    code = request.match_info["code"]
    if not valid_matter_code(code):
        return _error(resources, 404, "notice_not_found")
    try:
        answers, have = parse_notice_query(request.query)
    except ValueError:
        # Not the query itself: a forged address may carry anything, personal data included.
        logger.info("malformed notice query for %s", code)
        return _error(resources, 400, "notice_bad_request")
    download = request.query.get("download")
    if download not in (None, "1"):
        return _error(resources, 400, "notice_bad_request")

    f = resources.fragments

    def build() -> Optional[Notice]:
        catalog = resources.catalog()
        matter = catalog.matter(code)
        return build_notice(catalog, f, matter, answers, have) if matter else None

    try:
        # SQL and the first catalog load are blocking: keep them off the event loop.
        notice = await request.app[keys.SQL].run(build)
    except BadNotice:
        logger.info("notice query does not fit %s", code)
        return _error(resources, 400, "notice_bad_request")
    if notice is None:
        return _error(resources, 404, "notice_not_found")

    today = datetime.now(request.app[keys.SETTINGS].hall_tz).date()  # the hall's day, not the server's
    html = resources.env.get_template("notice.html").render(
        n=notice, t=_labels(f), download=download == "1",
        page_title=f("notice_page_title", matter_name=notice.matter.name),
        materials_heading=f("notice_materials", count=len(notice.lines)),
        missing_heading=f("notice_missing", count=len(notice.missing)),
        as_of=f("notice_as_of", as_of=notice.matter.as_of),
        generated=f("notice_date_value", year=today.year, month=today.month, day=today.day),
        download_href=_download_href(request),
        inline_css=resources.css() if download == "1" else None,
    )
    headers = {"Cache-Control": PAGE_CACHE}
    if download == "1":
        headers["Content-Disposition"] = f'attachment; filename="notice-{code}-{today.isoformat()}.html"'
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers=headers)


def _download_href(request: web.Request) -> str:
    query = {k: v for k, v in request.query.items() if k in ("s", "have")}
    query["download"] = "1"
    return str(request.rel_url.with_query(query))
