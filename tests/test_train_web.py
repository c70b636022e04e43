"""The workbench's pages under /console/train inside the real web application: who may open them (every
route), and a trainer labelling a message and looking at the models, on temporary copies of the files."""
from __future__ import annotations

import re

import pytest

from bot.train.sample_trackers import SampleTurn as T
from bot.web.app import create_app
from support.workbench import login as _login
from support.workbench import workbench_settings

pytestmark = pytest.mark.asyncio

FALLBACK = dict(actions=("action_not_understood",), utters=("utter_default",))


@pytest.fixture()
def settings(tmp_path, catalog_database_url):
    settings = workbench_settings(tmp_path, catalog_database_url, {
        "p1": ("rest", [T("办个渔船证上哪去", "nlu_fallback", 0.3, ranking=[("nlu_fallback", 0.35), ("ask_location", 0.31)],
                          **FALLBACK)])})
    (settings.model_dir / "assistant.tar.gz").write_bytes(b"model")
    return settings


def _routes(app):
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith(("/console/train", "/console/api/train")) and route.method != "HEAD":
            routes.add((route.method, path.replace("{model_id}", "initial-x").replace("{cid}", "0123456789ab")))
    return sorted(routes)


async def test_access_rules_for_every_workbench_route(aiohttp_client, settings):
    app = create_app(settings)
    client = await aiohttp_client(app)
    routes = _routes(app)
    assert len(routes) >= 19, routes
    for method, path in routes:  # no session
        resp = await client.request(method, path, allow_redirects=False)
        expected = 401 if (method != "GET" or path.startswith("/console/api/")) else 302
        assert resp.status == expected, (method, path, resp.status)
    csrf = await _login(client, "helper1")
    for method, path in routes:  # a helper: refused, with the reason in Chinese
        resp = await client.request(method, path, allow_redirects=False, data={"csrf_token": csrf})
        assert resp.status == 403, (method, path, resp.status)
        assert "只有训练师和主管" in await resp.text()
    client.session.cookie_jar.clear()
    csrf = await _login(client, "boss1")  # a supervisor may
    assert csrf
    resp = await client.get("/console/api/train/inbox")
    assert resp.status == 200 and (await resp.json())["groups"][0]["text"] == "办个渔船证上哪去"
    for method, path in routes:  # every POST wants the session's CSRF token
        if method == "POST":
            resp = await client.post(path, data={"group_id": "x", "tags": "x"}, allow_redirects=False)
            assert resp.status == 403 and (await resp.json())["error"] == "bad_csrf_token", path


async def test_a_trainer_labels_from_the_inbox_and_sees_the_models(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    csrf = await _login(client, "trainer1")
    page = await (await client.get("/console/train")).text()
    assert "办个渔船证上哪去" in page and "没听懂" in page
    assert re.search(r'<option value="ask_location" selected>', page)  # the model's guess preselected
    gid = re.search(r'name="group_id" value="([0-9a-f]{10})"', page).group(1)

    resp = await client.post("/console/train/annotate", data={"csrf_token": csrf, "group_id": gid,
                                                               "intent": "ask_location", "gap": "1"})
    assert resp.status == 200 and "已保存" in await resp.text()
    aspects = (settings.project_dir / "data" / "nlu" / "aspects.yml").read_text(encoding="utf-8")
    assert "    - 办个渔船证上哪去\n" in aspects
    assert "办个渔船证上哪去" in (settings.project_dir / "knowledge" / "catalog_gaps.yml").read_text(encoding="utf-8")
    assert "收件箱是空的" in await (await client.get("/console/train")).text()

    resp = await client.post("/console/train/annotate", data={"csrf_token": csrf, "group_id": gid,
                                                               "intent": "ask_procedure"})
    assert "未保存" in await resp.text() and "冲突" in await resp.text()

    models = await (await client.get("/console/train/models")).text()
    assert "正在使用" in models and "还没有训练过" in models
    resp = await client.post("/console/train/activate", data={"csrf_token": csrf})
    assert "没有待启用的候选模型" in await resp.text()
    assert (await client.get("/console/train/train.css")).status == 200
