from pathlib import Path

from aiohttp import web

from . import views
from .notice import setup_notice


def setup_routes(app: web.Application, static_dir: Path) -> None:
    app.router.add_get("/", views.index)
    app.router.add_post("/api/session", views.session)
    app.router.add_post("/api/chat", views.chat)
    app.router.add_get("/api/texts", views.texts)
    app.router.add_get("/api/events", views.events)
    app.router.add_get("/healthz", views.healthz)
    setup_notice(app)  # GET /notice/{code}: the printable one-time notice
    app.router.add_static("/static/", static_dir, show_index=False, follow_symlinks=False)
