"""The workbench's pages under /console/train inside the real web application: who may open them (every
route), and a trainer labelling a message and looking at the models, on temporary copies of the files."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.handoff.config import HandoffConfig
from bot.handoff.service import HandoffService
from bot.settings import Settings
from bot.train.sample_trackers import SampleTurn as T
from bot.train.sample_trackers import write_conversations
from bot.web.app import create_app
from knowledge import make_engine

pytestmark = pytest.mark.asyncio

REPO = Path(__file__).resolve().parent.parent
HANDOFF_CONFIG = REPO / "tests" / "fixtures" / "handoff.yml"
PASSWORD = "Workbench-Pass-2026"
FALLBACK = dict(actions=("action_not_understood",), utters=("utter_default",))


@pytest.fixture()
def settings(tmp_path, catalog_database_url):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copytree(REPO / "data" / "nlu", project / "data" / "nlu")
    (project / "knowledge").mkdir()
    shutil.copytree(REPO / "knowledge" / "catalog", project / "knowledge" / "catalog")
    shutil.copy(REPO / "domain.yml", project / "domain.yml")
    db = tmp_path / "tracker.sqlite3"
    write_conversations(db, {"p1": ("rest", [T("办个渔船证上哪去", "nlu_fallback", 0.3,
                                               ranking=[("nlu_fallback", 0.35), ("ask_location", 0.31)],
                                               **FALLBACK)])})
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "assistant.tar.gz").write_bytes(b"model")
    handoff_url = f"sqlite:///{tmp_path / 'handoff.sqlite3'}"
    service = HandoffService(make_engine(handoff_url), HandoffConfig.load(HANDOFF_CONFIG))
    service.setup()
    queue = service.config.queues[0].code
    service.add_helper("helper1", "钱七", "H001", PASSWORD, [queue])
    service.add_helper("trainer1", "王五", "T001", PASSWORD, role="trainer")
    service.add_helper("boss1", "李主任", "S001", PASSWORD, role="supervisor")
    return Settings(database_url=catalog_database_url, handoff_database_url=handoff_url,
                    handoff_config=HANDOFF_CONFIG, tracker_db=db, model_dir=tmp_path / "models",
                    project_dir=project, rasa_port=1)  # no Rasa behind port 1


async def _login(client, username: str) -> str:
    page = await (await client.get("/console/login")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)
    resp = await client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                     "login_token": token}, allow_redirects=False)
    assert resp.status in (302, 303), await resp.text()
    home = await (await client.get("/console")).text()  # the console's own page names the session's token
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', home).group(1)


def _routes(app):
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith(("/console/train", "/console/api/train")) and route.method != "HEAD":
            routes.add((route.method, path.replace("{model_id}", "initial-x")))
    return sorted(routes)


async def test_access_rules_for_every_workbench_route(aiohttp_client, settings):
    app = create_app(settings)
    client = await aiohttp_client(app)
    routes = _routes(app)
    assert len(routes) >= 12, routes
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
    resp = await client.post("/console/train/annotate", data={"group_id": "x"}, allow_redirects=False)
    assert resp.status == 403  # no CSRF token


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
