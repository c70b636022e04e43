"""Console pages (server-rendered) and the small JSON API their scripts use."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from aiohttp import web

from bot.handoff.runtime import HandoffRuntime, console_message, iso, note_frame, ticket_frame
from bot.handoff.records import HandoffError, TicketInfo, mask_sender
from bot.texts import DomainTexts
from bot.texts.catalog import Fragments
from bot.web import keys

from .auth import (LOGIN_COOKIE, THROTTLE, TOKEN, check_csrf, clear_session_cookie, current_helper, new_login_token,
                   set_session_cookie)

logger = logging.getLogger(__name__)

MAX_FORM_TEXT = 2000


def _runtime(request: web.Request) -> HandoffRuntime:
    runtime = request.app.get(keys.HANDOFF)
    if runtime is None:
        raise web.HTTPServiceUnavailable(text="handoff unavailable")
    return runtime


def localtime_filter(value: Optional[datetime], tz=None, fmt: str = "%H:%M") -> str:
    if value is None:
        return ""
    moment = value.replace(tzinfo=timezone.utc)
    return moment.astimezone(tz).strftime(fmt) if tz is not None else moment.strftime(fmt)


def _render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    helper = request.get("console_helper")
    runtime = request.app.get(keys.HANDOFF)
    base = {"helper": helper, "csrf_token": request.get("console_csrf", ""), "path": request.path,
            "tz": runtime.config.tz if runtime else None,
            "hall_timezone": request.app[keys.SETTINGS].hall_timezone,
            "resolution_label": runtime.config.resolution_label if runtime else str,
            "queues": runtime.config.queues if runtime else ()}
    base.update(context)
    html = request.app[keys.JINJA].get_template(template).render(**base)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    # With "no-referrer" (the site default) browsers send "Origin: null" on form posts; the console checks
    # the Origin of every POST, so its pages let the browser name our own origin (never to other sites).
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _is_json(request: web.Request) -> bool:
    return request.content_type == "application/json"


async def _json_body(request: web.Request) -> Dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise web.HTTPBadRequest(text="invalid json")
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="invalid json")
    return data


async def _field(request: web.Request, name: str) -> str:
    if _is_json(request):
        value = (await _json_body(request)).get(name)
    else:
        value = (await request.post()).get(name)
    return value if isinstance(value, str) else ""


def _ticket_id(request: web.Request) -> int:
    return int(request.match_info["ticket_id"])


def _failed(request: web.Request, error: HandoffError, back: str) -> web.StreamResponse:
    status = 404 if error.code == "not_found" else 409
    if _is_json(request) or request.method == "GET":
        return web.json_response({"error": error.code}, status=status)
    raise web.HTTPSeeOther(f"{back}?error={error.code}")


# -- login -------------------------------------------------------------------------------------------


async def login_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    runtime = request.app.get(keys.HANDOFF)
    token = request.cookies.get("sqfd_console", "")
    if not error and runtime is not None and token and await runtime.db.session(
            token, request.app[keys.SETTINGS].console_session_minutes):
        raise web.HTTPFound("/console")
    login_token = new_login_token()
    response = _render(request, "login.html", status=status, login_token=login_token, error=error)
    response.set_cookie(LOGIN_COOKIE, login_token, path="/console/login", httponly=True, samesite="Strict",
                        secure=request.app[keys.SETTINGS].console_secure_cookie)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    runtime = _runtime(request)
    form = await request.post()
    username, password = str(form.get("username") or "")[:64], str(form.get("password") or "")[:256]
    cookie_token = request.cookies.get(LOGIN_COOKIE, "")
    request["console_csrf"] = cookie_token
    if not check_csrf(request, str(form.get("login_token") or "")):
        return await login_page(request, error="expired", status=403)
    throttle, address = request.app[THROTTLE], request.remote or ""
    wait = throttle.retry_after(username, address)
    if wait > 0:
        response = await login_page(request, error="throttled", status=429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    helper = await runtime.db.authenticate(username, password)
    if helper is None:
        throttle.failed(username, address)
        logger.info("console login failed")
        return await login_page(request, error="wrong", status=401)
    throttle.succeeded(username, address)
    settings = request.app[keys.SETTINGS]
    token, _ = await runtime.db.create_session(helper.id, settings.console_session_minutes)
    logger.info("console login: helper %s", helper.id)
    response = web.HTTPSeeOther("/console")
    set_session_cookie(response, token, settings.console_secure_cookie)
    response.del_cookie(LOGIN_COOKIE, path="/console/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    runtime = _runtime(request)
    await runtime.db.end_session(request[TOKEN])
    helper = current_helper(request)
    if not runtime.console_hub.helper_connected(helper.id):
        await runtime.db.set_on_duty(helper.id, None)
    response = web.HTTPSeeOther("/console/login")
    clear_session_cookie(response)
    raise response


# -- queue view --------------------------------------------------------------------------------------


async def _lists_json(runtime: HandoffRuntime, helper) -> dict:
    lists = await runtime.db.lists(helper)
    return {name: [ticket_frame(t) for t in tickets] for name, tickets in lists.items()}


async def queue_page(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    helper = current_helper(request)
    lists = await runtime.db.lists(helper)
    return _render(request, "queue.html", lists=lists, mask=mask_sender,
                   now=datetime.now(timezone.utc).replace(tzinfo=None))


async def lists_partial(request: web.Request) -> web.Response:
    """The four lists as server-rendered (autoescaped) HTML, for the queue page's live refresh."""
    runtime = _runtime(request)
    lists = await runtime.db.lists(current_helper(request))
    return _render(request, "_lists.html", lists=lists, now=datetime.now(timezone.utc).replace(tzinfo=None))


async def api_lists(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    data = await _lists_json(runtime, current_helper(request))
    data["server_time"] = iso(runtime.service.clock())
    return web.json_response(data)


# -- one ticket --------------------------------------------------------------------------------------


async def _visible_ticket(request: web.Request) -> TicketInfo:
    runtime = _runtime(request)
    info = await runtime.db.ticket(_ticket_id(request), current_helper(request))
    if info is None:
        raise web.HTTPNotFound(text="no such ticket")
    return info


async def ticket_page(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    info = await _visible_ticket(request)
    helper = current_helper(request)
    db = runtime.db
    helpers = [h for h in await db.helpers() if h.active and h.id != info.helper_id]
    return _render(request, "ticket.html", t=info, person=mask_sender(info.sender),
                   situation_labels=await request.app[keys.SQL].run(situation_labels, request.app[keys.CATALOG].get,
                                                                     info),
                   transcript=await db.transcript(info.id), messages=await db.messages(info.id),
                   notes=await db.notes(info.id), helpers=helpers, resolutions=runtime.config.resolutions,
                   mine=info.status == "active" and info.helper_id == helper.id,
                   can_manage=(info.status in ("waiting", "collecting")
                               or (info.status == "active" and (helper.supervisor or info.helper_id == helper.id))),
                   error=request.query.get("error", "")[:40], has_materials=bool(info.matter_code))


async def api_ticket(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    info = await _visible_ticket(request)
    try:
        after = max(0, int(request.query.get("after", "0")))
    except ValueError:
        after = 0
    return web.json_response({
        "ticket": ticket_frame(info),
        "messages": [console_message(msg) for msg in await runtime.db.messages(info.id, after)],
        "notes": [note_frame(n) for n in await runtime.db.notes(info.id)],
    })


def situation_labels(open_catalog, info: TicketInfo) -> list:
    """The person's situation as the catalog words it ("委托他人代办"), never as codes ("agent：agent")."""
    if not info.situation:
        return []
    try:
        from knowledge.situations import situation_summary

        matter = open_catalog().matter(info.matter_code) if info.matter_code else None  # blocking: SQL thread
        if matter is not None:
            known = {s.code for s in matter.situations}
            return situation_summary(matter, {k: v for k, v in info.situation.items() if k in known})
    except Exception:
        logger.exception("situation labels for ticket %s", info.id)
    return []


def materials_text(texts: DomainTexts, open_catalog, info: TicketInfo) -> Optional[str]:
    """The bot's own one-time list of materials for the ticket's matter (and situation, where known)."""
    catalog = open_catalog()  # blocking: called on the SQL thread
    matter = catalog.matter(info.matter_code) if info.matter_code else None
    if matter is None:
        return None
    fragments = Fragments(texts)
    known = {s.code for s in matter.situations}
    answers = {k: v for k, v in (info.situation or {}).items() if k in known}
    lines = fragments.material_lines(matter, answers)
    return texts.template("utter_materials").format(matter_name=matter.name, count=len(lines),
                                                    materials="\n".join(lines), place=fragments.place(matter.place))


async def api_materials(request: web.Request) -> web.Response:
    info = await _visible_ticket(request)
    try:
        text = await request.app[keys.SQL].run(materials_text, request.app[keys.TEXTS], request.app[keys.CATALOG].get,
                                               info)
    except Exception:
        logger.exception("materials for ticket %s", info.id)
        text = None
    if text is None:
        return web.json_response({"error": "no_matter"}, status=404)
    return web.json_response({"text": text})


# -- actions on a ticket -----------------------------------------------------------------------------


async def claim(request: web.Request) -> web.StreamResponse:
    runtime = _runtime(request)
    ticket_id = _ticket_id(request)
    try:
        result = await runtime.claim(current_helper(request), ticket_id)
    except HandoffError as exc:
        return _failed(request, exc, f"/console/tickets/{ticket_id}")
    if _is_json(request):
        return web.json_response({"won": result.won, "ticket": ticket_frame(result.ticket) if result.ticket else None},
                                 status=200 if result.won else 409)
    raise web.HTTPSeeOther(f"/console/tickets/{ticket_id}" + ("" if result.won else "?error=taken"))


async def send_message(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    ticket_id = _ticket_id(request)
    text = (await _field(request, "text"))[:MAX_FORM_TEXT]
    try:
        message = await runtime.helper_message(current_helper(request), ticket_id, text)
    except HandoffError as exc:
        return web.json_response({"error": exc.code}, status=404 if exc.code == "not_found" else 409)
    return web.json_response({"message": console_message(message)})


async def typing(request: web.Request) -> web.Response:
    await _runtime(request).helper_typing(current_helper(request), _ticket_id(request))
    return web.json_response({"ok": True})


async def transfer(request: web.Request) -> web.StreamResponse:
    runtime = _runtime(request)
    ticket_id = _ticket_id(request)
    helper = current_helper(request)
    queue, target = await _field(request, "queue"), await _field(request, "helper")
    try:
        if target:
            try:
                target_id = int(target)
            except ValueError:
                raise HandoffError("unknown_helper")
            info = await runtime.transfer_to_helper(helper, ticket_id, target_id)
        elif queue:
            info = await runtime.transfer_to_queue(helper, ticket_id, queue)
        else:
            raise HandoffError("nothing_to_do")
    except HandoffError as exc:
        return _failed(request, exc, f"/console/tickets/{ticket_id}")
    if _is_json(request):
        return web.json_response({"ticket": ticket_frame(info)})
    raise web.HTTPSeeOther("/console")


async def add_note(request: web.Request) -> web.StreamResponse:
    runtime = _runtime(request)
    ticket_id = _ticket_id(request)
    text = (await _field(request, "text"))[:MAX_FORM_TEXT]
    try:
        note = await runtime.add_note(current_helper(request), ticket_id, text)
    except HandoffError as exc:
        return _failed(request, exc, f"/console/tickets/{ticket_id}")
    if _is_json(request):
        return web.json_response({"note": note_frame(note)})
    raise web.HTTPSeeOther(f"/console/tickets/{ticket_id}#notes")


async def _finish(request: web.Request, handback: bool) -> web.StreamResponse:
    runtime = _runtime(request)
    ticket_id = _ticket_id(request)
    resolution = await _field(request, "resolution") or ("answered" if handback else "")
    try:
        info = await runtime.close(current_helper(request), ticket_id, resolution, handback)
    except HandoffError as exc:
        return _failed(request, exc, f"/console/tickets/{ticket_id}")
    if _is_json(request):
        return web.json_response({"ticket": ticket_frame(info)})
    raise web.HTTPSeeOther("/console")


async def close(request: web.Request) -> web.StreamResponse:
    return await _finish(request, handback=False)


async def handback(request: web.Request) -> web.StreamResponse:
    return await _finish(request, handback=True)


# -- dashboard ---------------------------------------------------------------------------------------


def _stats_json(row) -> dict:
    return {"queue": row.queue_code, "queue_name": row.queue_name, "tickets": row.tickets, "waiting": row.waiting,
            "active": row.active, "closed": row.closed, "median_wait_s": row.median_wait_s,
            "median_handle_s": row.median_handle_s, "ratings": row.ratings, "rating_avg": row.rating_avg}


async def dashboard_page(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    rows = await runtime.db.dashboard(current_helper(request))
    return _render(request, "dashboard.html", rows=rows[:-1], total=rows[-1])


async def api_dashboard(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    return web.json_response({"queues": [_stats_json(r) for r in await runtime.db.dashboard(current_helper(request))]})


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
