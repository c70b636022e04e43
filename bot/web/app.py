"""Application factory for the citizen web page."""
from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Optional

import aiohttp
from aiohttp import web

from bot.metrics import Metrics, metrics_handler
from bot.settings import Settings

from bot.handoff.sql import SqlThread
from bot.texts import DomainTexts

from .keys import (CATALOG, HANDOFF, HANDOFF_SITE, JINJA, MAX_BODY_BYTES, RASA, SENDER_SECRET, SESSION, SETTINGS, SQL,
                   METRICS, STATIC_DIR, TEXTS, WORKER, SharedCatalog, make_jinja, unavailable_messages)
from bot.clients.rasa import CHAT_TIMEOUT, RasaClient, TurnGate
from .routes import setup_routes

logger = logging.getLogger(__name__)
METRICS_TASK = web.AppKey("metrics_task", asyncio.Task)


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # A signal rather than a middleware: it also covers static files and aiohttp's own errors.
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith(("/api/", "/console")) or request.path == "/healthz":
        if not request.path.startswith("/console/static/"):
            response.headers["Cache-Control"] = "no-store"


@web.middleware
async def _json_errors(request: web.Request, handler):
    """API callers always get JSON, whatever went wrong."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return web.json_response({"error": exc.reason}, status=exc.status)
    except Exception:
        logger.exception("Unexpected error on %s", request.path)
        request.app[METRICS].inc("assistant_errors_total", kind="internal")
        texts = request.app[TEXTS]
        return web.json_response(
            {"error": "internal_error", "messages": unavailable_messages(texts)}, status=500
        )


@web.middleware
async def _close_after_413(request: web.Request, handler):
    """An unread body is still on the connection after a 413: close it, or the next request there hangs."""
    try:
        response = await handler(request)
    except web.HTTPRequestEntityTooLarge as exc:
        exc.force_close()
        raise
    if response.status == 413:
        response.force_close()
    return response


async def _on_startup(app: web.Application) -> None:
    # Enough connections for every admitted turn plus the handoff's calls: nobody waits for the pool.
    connector = aiohttp.TCPConnector(limit=app[SETTINGS].rasa_in_flight + 32)
    session = aiohttp.ClientSession(timeout=CHAT_TIMEOUT, connector=connector)
    app[SESSION] = session
    settings = app[SETTINGS]
    app[RASA] = RasaClient(session, settings.rasa_worker_urls, settings.rasa_token,
                           TurnGate(in_flight=settings.rasa_in_flight, waiting=settings.rasa_queue_limit))
    logger.info("Forwarding chat to Rasa at %s", ", ".join(settings.rasa_worker_urls))
    if settings.web_workers > 1:  # the other workers read this one's counters from its file
        app[METRICS_TASK] = asyncio.get_running_loop().create_task(app[METRICS].keep_written())
    await _start_handoff(app)


async def _start_handoff(app: web.Application) -> None:
    """The handoff service (SQL), its live pushes and, on 127.0.0.1 (HANDOFF_HOST), its internal API."""
    from knowledge import make_engine

    from bot.clients.handoff import HandoffClient
    from bot.handoff.config import HandoffConfig
    from bot.handoff.bus import make_bus
    from bot.handoff.idle import IdleTimers, IdleWatcher
    from bot.handoff.internal_api import create_internal_app
    from bot.handoff.runtime import HandoffRuntime
    from bot.handoff.service import HandoffService

    settings: Settings = app[SETTINGS]
    # A wrong file stops the start, naming the field; the clock is the hall's (HALL_TIMEZONE).
    config = HandoffConfig.load(settings.handoff_config, settings.hall_timezone)
    engine = make_engine(settings.handoff_db_url)
    service = HandoffService(engine, config)
    await app[SQL].run(service.setup)
    runtime = HandoffRuntime(service, app[TEXTS], app[RASA],
                             HandoffClient(settings.handoff_url, settings.handoff_secret, session=app[SESSION]),
                             sql=app[SQL],
                             channel_urls=channel_urls(settings), bus=make_bus(settings.pubsub_url))
    await runtime.start()  # subscribed to the other web processes' live events before serving anyone
    runtime.idle = IdleWatcher(runtime.db, app[SQL].wrap(IdleTimers(engine)), runtime.rasa, runtime.person_hub,
                               runtime.live.to_person, settings.rating_idle_minutes * 60)
    runtime.idle.start()
    runtime.live.on_error = lambda: app[METRICS].inc("assistant_errors_total", kind="live_events")
    app[HANDOFF] = runtime
    if settings.handoff_port:
        runner = web.AppRunner(create_internal_app(runtime, settings.handoff_secret, metrics=metrics_view(app)),
                               access_log=None)
        await runner.setup()
        # Shared by every web process (SO_REUSEPORT): the action server has one address whichever is alive.
        await web.TCPSite(runner, settings.handoff_host, settings.handoff_port,
                          reuse_port=settings.web_workers > 1 or None).start()
        app[HANDOFF_SITE] = runner
        logger.info("Internal handoff API on %s:%d%s", settings.handoff_host, settings.handoff_port,
                    "" if settings.handoff_secret else " (no HANDOFF_SECRET: every call is refused)")
    else:
        logger.info("No HANDOFF_PORT: the internal handoff API is off (bot.run sets it)")


def channel_urls(settings: Settings) -> dict:
    """The channels in the Rasa process that a helper's messages are pushed to (socket.io widgets, WeChat)."""
    urls = {"socketio": settings.socketio_deliver_url}
    if settings.wechat_enabled:
        urls["wechat"] = settings.wechat_deliver_url
    return urls


def metrics_view(app: web.Application):
    """GET /metrics, on the page's port and on the internal handoff API (bot/metrics.py: METRICS_TOKEN)."""
    return metrics_handler(lambda: metrics_text(app), app[SETTINGS].metrics_token)


async def metrics_text(app: web.Application) -> str:
    """The exposition: counters of the machine's web processes, the waiting tickets live from SQL."""
    gauges = []
    runtime = app.get(HANDOFF)
    if runtime is not None:
        for code, waiting in (await app[SQL].run(runtime.service.waiting_counts)).items():
            gauges.append(("assistant_handoffs_waiting", {"queue": code}, waiting))
        gauges.append(("assistant_live_sockets", {"kind": "page"}, runtime.person_hub.count()))
        gauges.append(("assistant_live_sockets", {"kind": "console"}, runtime.console_hub.count()))
    return app[METRICS].exposition(gauges)


async def _on_shutdown(app: web.Application) -> None:
    runtime = app.get(HANDOFF)
    if runtime is not None:
        await runtime.stop()  # closes pages' and consoles' WebSockets: they reconnect to the next process


async def _on_cleanup(app: web.Application) -> None:
    task = app.get(METRICS_TASK)
    if task is not None:
        task.cancel()
    runner = app.get(HANDOFF_SITE)
    if runner is not None:
        await runner.cleanup()
    runtime = app.get(HANDOFF)
    if runtime is not None:
        runtime.service.engine.dispose()
    await app[SESSION].close()
    app[SQL].shutdown()
    app[METRICS].write()


def create_app(settings: Optional[Settings] = None, worker: int = 0) -> web.Application:
    settings = settings or Settings.from_env()
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_close_after_413, _json_errors])
    app[SETTINGS] = settings
    app[WORKER] = worker
    # One process: its own numbers. Several: each also writes a file, and /metrics sums the machine's files.
    app[METRICS] = Metrics(settings.metrics_dir if settings.web_workers > 1 else None, worker, settings.web_workers)
    if not settings.web_secret:
        logger.warning("No WEB_SECRET: the page's sender ids are valid for this process only (bot.run sets one)")
    app[SENDER_SECRET] = settings.web_secret or secrets.token_urlsafe(32)
    app[TEXTS] = DomainTexts.load(settings.domain_path)
    # Responses the web server renders itself: a missing one is logged once, at start-up.
    from bot.handoff.runtime import HANDOFF_TEXTS

    app[TEXTS].require(["utter_service_unavailable", "utter_no_reply", "utter_message_cut", "utter_busy",
                        "utter_busy_wait", *HANDOFF_TEXTS])
    app[CATALOG] = SharedCatalog(settings)
    app[JINJA] = make_jinja()
    app[SQL] = SqlThread()
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    app.on_cleanup.append(_on_cleanup)
    app.on_response_prepare.append(_add_security_headers)
    setup_routes(app, STATIC_DIR)
    app.router.add_get("/metrics", metrics_view(app))
    from .views import PAGE, page_html

    app[PAGE] = page_html(app)
    from bot.console.app import setup_console

    setup_console(app)
    return app
