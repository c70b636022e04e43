"""Pages of the trainer's workbench under /console/train (trainers and supervisors only), and their JSON API
under /console/api/train/. Mounted into the console by `setup_workbench(app)` (bot/console/app.py calls it);
the console's middleware gives the session, the CSRF check on every POST and the login redirect.

Server-rendered forms (the site's CSP allows no inline script; train.js only makes Enter on the intent list
save the row): each inbox row is one form, the intent preselected with the model's guess and the first row
focused, so a trainer labels by typing the intent's first letters and Enter, row after row.
"""
from __future__ import annotations

import asyncio
import functools
import json
import time
from pathlib import Path
from typing import Any, Dict
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from bot.web import keys

from . import activation, registry, training
from .annotate import AnnotationError, NluFiles, label, matter_names
from .evaluation import compare, summary
from .inbox import REASONS, read_inbox
from .paths import WorkbenchPaths

HERE = Path(__file__).resolve().parent
JINJA = web.AppKey("workbench_jinja", jinja2.Environment)
HELPER_KEY = "console_helper"  # set by the console's auth middleware
FORBIDDEN = "只有训练师和主管可以使用训练师工作台"
PAGE_SIZE = 50
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def _paths(request: web.Request) -> WorkbenchPaths:
    return WorkbenchPaths.from_settings(request.app[keys.SETTINGS])


def trainer_only(handler):
    """Trainers and supervisors; a helper gets 403 (the console already refused anyone without a session)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request):
        helper = request.get(HELPER_KEY)
        if helper is None:
            return web.json_response({"error": "login_required"}, status=401)
        if not getattr(helper, "can_train", False):
            if request.path.startswith("/console/api/") or request.method != "GET":
                return web.json_response({"error": "forbidden", "message": FORBIDDEN}, status=403, dumps=_dumps)
            return _render(request, "forbidden.html", status=403)
        return await handler(request)

    return wrapped


def _render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    base = {"helper": request.get(HELPER_KEY), "csrf_token": request.get("console_csrf", ""), "path": request.path,
            "reasons": REASONS, "statuses": registry.STATUS_LABELS, "when": _when, "pct": _pct,
            "message": request.query.get("msg", ""), "error": request.query.get("err", "")}
    base.update(context)
    html = request.app[JINJA].get_template(template).render(**base)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Referrer-Policy"] = "same-origin"  # as the console's pages: form posts carry our Origin
    return response


def _when(ts) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def _back(path: str, **query: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{path}?{urlencode(query)}" if query else path)


async def _blocking(func, *args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(func, *args, **kwargs))


def _read(request: web.Request, include_labelled: bool = False):
    settings = request.app[keys.SETTINGS]
    return read_inbox(settings.tracker_store_url, _paths(request), include_labelled=include_labelled)


# ---------------------------------------------------------------- inbox and labels


@trainer_only
async def inbox_page(request: web.Request) -> web.Response:
    paths = _paths(request)
    inbox = await _blocking(_read, request)
    intents = await _blocking(lambda: NluFiles(paths.nlu_dir).intents)
    matters = await _blocking(matter_names, paths.catalog_dir)
    return _render(request, "inbox.html", inbox=inbox, groups=inbox.groups[:PAGE_SIZE], intents=intents,
                   matters=sorted(matters.items()))


@trainer_only
async def annotate(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    gid = str(form.get("group_id") or "")
    intent = str(form.get("intent") or "") or None
    matter = str(form.get("matter") or "").strip().split(" ")[0] or None  # "CODE 名称" from the list
    gap = form.get("gap") == "1"
    inbox = await _blocking(_read, request, True)
    group = inbox.find(gid)
    if group is None:
        raise _back("/console/train", err="这条消息已不在收件箱里")
    text = str(form.get("text") or "").strip() or group.text
    try:
        written = await _blocking(label, _paths(request), text, intent=intent, matter=matter, gap=gap,
                                  count=group.count)
    except AnnotationError as exc:
        raise _back("/console/train", err=f"未保存：{exc}")
    kinds = {"example": "例句", "alias": "事项别名", "gap": "目录缺项"}
    done = "；".join(f"{kinds[w.kind]}“{w.text}”→{w.path.name}" for w in written)
    raise _back("/console/train", msg=f"已保存：{done}")


async def _api_inbox(request: web.Request) -> web.Response:
    inbox = await _blocking(_read, request, request.query.get("all") == "1")
    return web.json_response({"messages": inbox.messages, "seconds": round(inbox.seconds, 2),
                              "groups": [g.as_json() for g in inbox.groups]}, dumps=_dumps)


# ---------------------------------------------------------------- train, evaluate, switch


def _models_context(paths: WorkbenchPaths) -> Dict[str, Any]:
    registry.ensure_active_registered(paths)
    entries = registry.models(paths)
    active = next((e for e in entries if e["status"] == "active"), None)
    candidate = registry.latest_candidate(paths)
    changes = None
    if candidate and active and candidate.get("figures") and active.get("figures"):
        changes = compare(candidate["figures"], active["figures"])
    return {"entries": entries, "active": active, "candidate": candidate, "changes": changes,
            "run": training.status(paths)}


@trainer_only
async def models_page(request: web.Request) -> web.Response:
    context = await _blocking(_models_context, _paths(request))
    running = bool(context["run"] and context["run"]["state"] in training.RUNNING)
    return _render(request, "models.html", running=running, **context)


@trainer_only
async def start_training(request: web.Request) -> web.StreamResponse:
    paths = _paths(request)
    settings = request.app[keys.SETTINGS]
    try:
        await _blocking(registry.ensure_active_registered, paths)
        state = await _blocking(training.start, paths, env=settings.child_env())
    except training.TrainingError as exc:
        raise _back("/console/train/models", err=str(exc))
    raise _back("/console/train/models", msg=f"已开始训练 {state['id']}")


@trainer_only
async def cancel_training(request: web.Request) -> web.StreamResponse:
    try:
        state = await _blocking(training.cancel, _paths(request))
    except training.TrainingError as exc:
        raise _back("/console/train/models", err=str(exc))
    raise _back("/console/train/models", msg=f"训练 {state['id']} 已取消")


@trainer_only
async def activate(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    settings = request.app[keys.SETTINGS]
    try:
        model_id = await _blocking(activation.activate, _paths(request), str(form.get("model") or "") or None,
                                   settings.rasa_worker_urls, settings.rasa_token)
    except activation.ActivationError as exc:
        raise _back("/console/train/models", err=f"未切换：{exc}")
    raise _back("/console/train/models", msg=f"已启用模型 {model_id}，助手现在用它回答")


@trainer_only
async def discard(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        await _blocking(registry.discard, _paths(request), str(form.get("model") or ""))
    except registry.RegistryError as exc:
        raise _back("/console/train/models", err=str(exc))
    raise _back("/console/train/models", msg="已丢弃")


@trainer_only
async def confusion_image(request: web.Request) -> web.StreamResponse:
    model_id = request.match_info["model_id"]
    path = _paths(request).store_dir / f"{model_id}.confusion.png"
    if "/" in model_id or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": "image/png"})


@trainer_only
async def stylesheet(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(HERE / "static" / "train.css", headers={"Content-Type": "text/css"})


@trainer_only
async def script(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(HERE / "static" / "train.js", headers={"Content-Type": "text/javascript"})


async def _api_status(request: web.Request) -> web.Response:
    state = await _blocking(training.status, _paths(request))
    return web.json_response({"run": state}, dumps=_dumps)


async def _api_models(request: web.Request) -> web.Response:
    paths = _paths(request)
    await _blocking(registry.ensure_active_registered, paths)
    entries = await _blocking(registry.models, paths)
    return web.json_response({"models": [dict(e, figures=summary(e.get("figures"))) for e in entries]}, dumps=_dumps)


def setup_workbench(app: web.Application) -> None:
    """Routes of the workbench; call after the console's setup (its auth middleware guards /console)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=jinja2.select_autoescape(["html"], default=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    app[JINJA] = env
    r = app.router
    r.add_get("/console/train", inbox_page)
    r.add_post("/console/train/annotate", annotate)
    r.add_get("/console/train/models", models_page)
    r.add_post("/console/train/train", start_training)
    r.add_post("/console/train/cancel", cancel_training)
    r.add_post("/console/train/activate", activate)
    r.add_post("/console/train/discard", discard)
    r.add_get(r"/console/train/models/{model_id:[0-9A-Za-z_-]+}/confusion.png", confusion_image)
    r.add_get("/console/train/train.css", stylesheet)
    r.add_get("/console/train/train.js", script)
    r.add_get("/console/api/train/inbox", trainer_only(_api_inbox))
    r.add_get("/console/api/train/status", trainer_only(_api_status))
    r.add_get("/console/api/train/models", trainer_only(_api_models))
    from .web_review import add_routes  # imports this module's guard and rendering

    add_routes(r)
