"""Routes of the helper console inside the web server's application."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.web import keys

from . import views, ws
from .auth import THROTTLE, LoginThrottle, make_auth_middleware

HERE = Path(__file__).resolve().parent


def _service(app: web.Application):
    runtime = app.get(keys.HANDOFF)
    return runtime.db if runtime is not None else None


def setup_console(app: web.Application) -> None:
    settings = app[keys.SETTINGS]
    env = app[keys.JINJA]  # the process's one environment; the console's templates are on its path
    env.filters["localtime"] = views.localtime_filter
    env.filters["mask"] = views.mask_sender
    app[THROTTLE] = LoginThrottle()
    app.middlewares.append(make_auth_middleware(_service, settings.console_session_minutes))
    r = app.router
    r.add_get("/console/login", views.login_page)
    r.add_post("/console/login", views.login)
    r.add_post("/console/logout", views.logout)
    r.add_get("/console", views.queue_page)
    r.add_get("/console/", views.queue_page)
    r.add_get("/console/dashboard", views.dashboard_page)
    r.add_get(r"/console/tickets/{ticket_id:\d+}", views.ticket_page)
    r.add_get("/console/api/lists", views.api_lists)
    r.add_get("/console/partials/lists", views.lists_partial)
    r.add_get("/console/api/dashboard", views.api_dashboard)
    r.add_get(r"/console/api/tickets/{ticket_id:\d+}", views.api_ticket)
    r.add_get(r"/console/api/tickets/{ticket_id:\d+}/materials", views.api_materials)
    r.add_post(r"/console/tickets/{ticket_id:\d+}/claim", views.claim)
    r.add_post(r"/console/tickets/{ticket_id:\d+}/messages", views.send_message)
    r.add_post(r"/console/tickets/{ticket_id:\d+}/typing", views.typing)
    r.add_post(r"/console/tickets/{ticket_id:\d+}/transfer", views.transfer)
    r.add_post(r"/console/tickets/{ticket_id:\d+}/notes", views.add_note)
    r.add_post(r"/console/tickets/{ticket_id:\d+}/close", views.close)
    r.add_post(r"/console/tickets/{ticket_id:\d+}/handback", views.handback)
    r.add_get("/console/ws", ws.console_ws)
    r.add_static("/console/static/", HERE / "static", show_index=False, follow_symlinks=False)
