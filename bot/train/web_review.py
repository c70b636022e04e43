"""Conversation review and analytics pages of the workbench (/console/train/conversations, /console/train/analytics):
browse conversations with filters, read one as a chat with the model's reading per turn, tag it, mark it
reviewed, turn it into a conversation test; the supervisor's charts. Same guard, rendering and forms as web.py.

Keyboard: the list focuses its first conversation (Enter opens it); a conversation focuses its tag field (Enter
saves); accesskeys r (reviewed), s (turn into a test), n / p (next / previous conversation of the same filter).
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from bot.web import keys

from . import analytics, charts, marks, stories
from .annotate import gap_list, matter_names
from .conversations import Filters, Summary, chat, events, select, summaries
from .web import HELPER_KEY, _blocking, _dumps, _paths, _read, _render, trainer_only

LIST_SIZE = 50
BASE = "/console/train/conversations"


def _tz(request: web.Request):
    return request.app[keys.SETTINGS].hall_tz


def _day(request: web.Request):
    tz = _tz(request)
    return lambda ts: dt.datetime.fromtimestamp(ts or 0.0, tz).strftime("%Y-%m-%d")


def _marks(request: web.Request) -> marks.Marks:
    return marks.open_marks(request.app[keys.SETTINGS].handoff_db_url)


def _filtered(request: web.Request, f: Filters) -> Tuple[List[Summary], List[Summary], Dict[str, marks.Mark],
                                                          Dict[str, str]]:
    """(every conversation, those passing the filters, review marks, matter names); blocking."""
    settings = request.app[keys.SETTINGS]
    found = summaries(settings.tracker_db, _tz(request))
    names = matter_names(_paths(request).catalog_dir)
    all_marks = _marks(request).all()
    return found, select(found, f, _day(request), all_marks, names), all_marks, names


def _query(f: Filters, **extra) -> str:
    q = dict(f.as_query(), **{k: str(v) for k, v in extra.items() if v})
    return urlencode(q)


@trainer_only
async def list_page(request: web.Request) -> web.Response:
    f = Filters.from_query(request.query)
    found, chosen, all_marks, names = await _blocking(_filtered, request, f)
    try:
        page = max(int(request.query.get("page", "1")), 1)
    except ValueError:
        page = 1
    shown = chosen[(page - 1) * LIST_SIZE:page * LIST_SIZE]
    channels = sorted({s.channel for s in found})
    intents = sorted({i for s in found for i in s.intents})
    return _render(request, "conversations.html", f=f, rows=shown, total=len(chosen), everything=len(found),
                   page=page, more=len(chosen) > page * LIST_SIZE, channels=channels, intents=intents,
                   marks=all_marks, names=names, day=_day(request), query=_query(f), q=_query,
                   matters=sorted(names.items()))


def _neighbours(chosen: List[Summary], cid: str) -> Tuple[Optional[str], Optional[str]]:
    ids = [s.id for s in chosen]
    if cid not in ids:
        return None, None
    i = ids.index(cid)
    return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None)


def _find(found: List[Summary], cid: str) -> Summary:
    summary = next((s for s in found if s.id == cid), None)
    if summary is None:
        raise web.HTTPNotFound(text="没有这段对话（可能已按保存期限删除）", content_type="text/plain")
    return summary


@trainer_only
async def conversation_page(request: web.Request) -> web.Response:
    cid = request.match_info["cid"]
    f = Filters.from_query(request.query)
    found, chosen, all_marks, names = await _blocking(_filtered, request, f)
    summary = _find(found, cid)
    entries = chat(await _blocking(events, request.app[keys.SETTINGS].tracker_db, summary.sender))
    previous, following = _neighbours(chosen, cid)
    return _render(request, "conversation.html", s=summary, entries=entries, mark=all_marks.get(cid), f=f,
                   query=_query(f), previous=previous, following=following, names=names, day=_day(request),
                   story_file=f"tests/conversations/{stories.FILE_NAME}")


def _back_to(cid: str, form, **message: str) -> web.HTTPSeeOther:
    """Back to the conversation, keeping the list's filters (re-read through Filters: nothing else passes)."""
    f = Filters.from_query(dict(parse_qsl(str(form.get("q") or ""))))
    return web.HTTPSeeOther(f"{BASE}/{cid}?{_query(f, **message)}")


async def _known(request: web.Request, cid: str) -> Summary:
    found = await _blocking(summaries, request.app[keys.SETTINGS].tracker_db, _tz(request))
    return _find(found, cid)


@trainer_only
async def save_tags(request: web.Request) -> web.StreamResponse:
    cid = request.match_info["cid"]
    form = await request.post()
    await _known(request, cid)
    tags = marks.clean_tags(str(form.get("tags") or ""))
    await _blocking(_marks(request).set_tags, cid, tags)
    raise _back_to(cid, form, msg=f"标签已保存：{'、'.join(tags) or '（无）'}")


@trainer_only
async def mark_reviewed(request: web.Request) -> web.StreamResponse:
    cid = request.match_info["cid"]
    form = await request.post()
    await _known(request, cid)
    done = form.get("reviewed") != "0"
    await _blocking(_marks(request).set_reviewed, cid, request[HELPER_KEY].username if done else None)
    raise _back_to(cid, form, msg="已标记为已审阅" if done else "已取消“已审阅”")


@trainer_only
async def make_story(request: web.Request) -> web.StreamResponse:
    cid = request.match_info["cid"]
    form = await request.post()
    summary = await _known(request, cid)
    helper = request[HELPER_KEY]
    stored = await _blocking(events, request.app[keys.SETTINGS].tracker_db, summary.sender)
    note = f"{_day(request)(summary.started)} {summary.channel or '-'}, reviewed by {helper.username}"
    try:
        written = await _blocking(stories.write_story, _paths(request).project_dir, cid, stored, note)
    except stories.StoryError as exc:
        raise _back_to(cid, form, err=f"未写入：{exc}")
    await _blocking(_marks(request).set_story, cid, written.name, helper.username)
    raise _back_to(cid, form, msg=f"已写入对话测试“{written.name}”（{written.steps} 步）→ "
                                  f"tests/conversations/{written.path.name}")


async def _api_conversations(request: web.Request) -> web.Response:
    f = Filters.from_query(request.query)
    _found, chosen, all_marks, _names = await _blocking(_filtered, request, f)
    day = _day(request)

    def row(s: Summary) -> dict:
        mark = all_marks.get(s.id)
        return {"id": s.id, "person": s.person, "channel": s.channel, "day": day(s.started), "turns": s.turns,
                "first_text": s.first_text, "matters": sorted(s.matters), "fallbacks": s.fallbacks,
                "clarifies": s.clarifies, "handoff": s.handoff, "complaint": s.complaint, "rating": s.rating,
                "tags": mark.tags if mark else [], "reviewed": bool(mark and mark.reviewed_at),
                "story": mark.story if mark else None}

    return web.json_response({"total": len(chosen), "conversations": [row(s) for s in chosen[:500]]},
                             dumps=_dumps)


# ---------------------------------------------------------------- analytics


def _analytics(request: web.Request, f: Filters) -> dict:
    settings = request.app[keys.SETTINGS]
    paths = _paths(request)
    today = dt.datetime.now(_tz(request)).date()
    days = analytics.day_range(f.date_from, f.date_to, today)
    names = matter_names(paths.catalog_dir)
    found = summaries(settings.tracker_db, _tz(request))
    inbox = _read(request)
    return {"figures": analytics.figures(found, days, _day(request), names),
            "misread": [(g.text, g.count) for g in inbox.groups[:10]],
            "gaps": analytics.gaps(gap_list(paths))}


@trainer_only
async def analytics_page(request: web.Request) -> web.Response:
    f = Filters.from_query(request.query)
    context = await _blocking(_analytics, request, f)
    return _render(request, "analytics.html", f=f, charts=charts, **context)


def add_routes(router: web.UrlDispatcher) -> None:
    cid = r"{cid:[0-9a-f]{12}}"
    router.add_get(BASE, list_page)
    router.add_get(f"{BASE}/{cid}", conversation_page)
    router.add_post(f"{BASE}/{cid}/tags", save_tags)
    router.add_post(f"{BASE}/{cid}/review", mark_reviewed)
    router.add_post(f"{BASE}/{cid}/story", make_story)
    router.add_get("/console/train/analytics", analytics_page)
    router.add_get("/console/api/train/conversations", trainer_only(_api_conversations))
