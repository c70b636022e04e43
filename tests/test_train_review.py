"""Conversation review and analytics in the real web application (in-process aiohttp), on conversations that
Rasa's own SQLTrackerStore wrote: filters, the chat with the model's reading, tags and reviewed marks, a story
written by "转为对话测试" that Rasa's YAML story reader and validator accept, and the supervisor's charts."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from bot.train.annotate import add_gap
from bot.train.paths import WorkbenchPaths
from bot.train.sample_trackers import SampleTurn as T
from bot.train.sample_trackers import write_conversations
from bot.web.app import create_app
from support.workbench import login, workbench_settings

pytestmark = pytest.mark.asyncio

FALLBACK = dict(actions=("action_not_understood",), utters=("utter_default",))
CLARIFY = dict(actions=("action_answer",), utters=("utter_clarify_matter",))
HALL = ZoneInfo("Asia/Shanghai")
DAY1 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=HALL).timestamp()
DAY3 = dt.datetime(2026, 12, 3, 10, 0, tzinfo=HALL).timestamp()
RATE = dict(actions=("action_rate",), utters=())


@pytest.fixture()
def settings(tmp_path, catalog_database_url):
    settings = workbench_settings(tmp_path, catalog_database_url, {})
    write_conversations(settings.tracker_db, {
        "alice-0001": ("rest", [
            T("公积金提取要带什么，我电话13812345678", "ask_materials", 0.93, slots={"matter": "GJJ-TQ"},
              entities=[{"entity": "matter", "value": "GJJ-TQ", "start": 0, "end": 5}]),
            T("那要多久", "ask_time_limit", 0.41, ranking=[("ask_time_limit", 0.41), ("ask_hours", 0.3)]),
            T('/rate{"rating_score":"5"}', "rate", 1.0, slots={"rating_score": "5"}, **RATE)]),
        "bob-0000002": ("wechat", [
            T("渔船证咋弄", "nlu_fallback", 0.3, ranking=[("nlu_fallback", 0.35), ("ask_procedure", 0.3)], **FALLBACK),
            T("转人工", "request_human", 0.99, actions=("action_handoff",), utters=("utter_handoff_queued",))]),
    }, start=DAY1)
    write_conversations(settings.tracker_db, {
        "carol-00003": ("socketio", [
            T("我要反映办不成事", "complain", 0.95, actions=("action_complaint_start",), utters=()),
            T('/rate{"rating_score":"1"}', "rate", 1.0, slots={"rating_score": "1", "rating_low": True}, **RATE)]),
        "dave-000004": ("rest", [
            T("营业执照", "inform_matter", 0.99, **CLARIFY),
            T('/choose_matter{"matter":"SCJG-GT-SL"}', "choose_matter", 1.0, slots={"matter": "SCJG-GT-SL"})]),
    }, start=DAY3)
    return settings


async def _ids(client, **query) -> list:
    resp = await client.get("/console/api/train/conversations?" + urlencode(query))
    assert resp.status == 200
    return [c["person"][:4] for c in (await resp.json())["conversations"]]


async def test_filters(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    await login(client, "trainer1")
    assert sorted(await _ids(client)) == ["alic", "bob-", "caro", "dave"]
    assert await _ids(client, channel="wechat") == ["bob-"]
    assert await _ids(client, fallback="1") == ["bob-"]
    assert await _ids(client, handoff="1") == ["bob-"]
    assert await _ids(client, complaint="1") == ["caro"]
    assert await _ids(client, rating="low") == ["caro"]
    assert await _ids(client, rating="high") == ["alic"]
    assert sorted(await _ids(client, rating="none")) == ["bob-", "dave"]
    assert await _ids(client, matter="GJJ-TQ") == ["alic"]
    assert await _ids(client, matter="个体工商户") == ["dave"]  # by the matter's name
    assert await _ids(client, intent="ask_time_limit") == ["alic"]
    assert sorted(await _ids(client, to="2026-12-02")) == ["alic", "bob-"]
    assert sorted(await _ids(client, **{"from": "2026-12-02"})) == ["caro", "dave"]
    assert await _ids(client, channel="rest", **{"from": "2026-12-03", "to": "2026-12-03"}) == ["dave"]
    page = await (await client.get("/console/train/conversations?fallback=1")).text()
    page = page.split('<table class="conversations">')[1]
    assert "渔船证咋弄" in page and "公积金提取" not in page and "没听懂 1" in page
    assert "bob-0000002" not in page  # sender ids masked


async def test_read_tag_review_and_turn_into_a_test(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    csrf = await login(client, "trainer1")
    found = (await (await client.get("/console/api/train/conversations?rating=high")).json())["conversations"]
    cid = found[0]["id"]
    url = f"/console/train/conversations/{cid}"
    page = await (await client.get(url + "?rating=high")).text()
    assert "13812345678" not in page and "138****5678" in page  # masked
    assert "ask_time_limit</b> 0.41" in page and "置信度低" in page and "ask_hours 0.30" in page
    assert "matter=GJJ-TQ" in page and "action_answer" in page

    back = "rating=high"
    resp = await client.post(url + "/tags", data={"csrf_token": csrf, "q": back, "tags": "材料, 时限 材料"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith(url + "?rating=high&msg=")
    page = await (await client.get(resp.headers["Location"])).text()
    assert "标签已保存：材料、时限" in page and 'value="材料 时限"' in page
    assert await _ids(client, tag="时限") == ["alic"]
    assert await _ids(client, reviewed="yes") == []
    resp = await client.post(url + "/review", data={"csrf_token": csrf, "reviewed": "1"})
    assert "已标记为已审阅" in await resp.text() and "trainer1 已审阅" in await resp.text()
    assert await _ids(client, reviewed="yes") == ["alic"]

    resp = await client.post(url + "/story", data={"csrf_token": csrf, "q": back})
    text = await resp.text()
    assert "已写入对话测试" in text and "test_reviewed.yml" in text
    story_file = settings.project_dir / "tests" / "conversations" / "test_reviewed.yml"
    written = story_file.read_text(encoding="utf-8")
    assert "13812345678" not in written
    assert ('      - user: |\n          [公积金提取]{"entity": "matter", "value": "GJJ-TQ"}要带什么，我电话138****5678\n'
            "        intent: ask_materials\n      - action: action_answer\n") in written
    assert '          - rating_score: "5"\n' in written
    _rasa_accepts(settings.project_dir, story_file, cid)
    resp = await client.post(url + "/story", data={"csrf_token": csrf, "q": back})
    assert "未写入：这段对话已经转成过测试" in await resp.text()
    assert story_file.read_text(encoding="utf-8") == written
    listing = (await (await client.get("/console/api/train/conversations?reviewed=yes")).json())["conversations"]
    assert listing[0]["story"] == f"reviewed conversation {cid}" and listing[0]["tags"] == ["材料", "时限"]

    # a second conversation appended to the same file, which still loads
    other = (await (await client.get("/console/api/train/conversations?handoff=1")).json())["conversations"][0]["id"]
    resp = await client.post(f"/console/train/conversations/{other}/story", data={"csrf_token": csrf})
    assert "已写入对话测试" in await resp.text()
    _rasa_accepts(settings.project_dir, story_file, other)
    assert (await client.get("/console/train/conversations/0123456789ab")).status == 404


def _rasa_accepts(project, path, cid) -> None:
    """The file as `rasa test` and `rasa data validate` read it: Rasa's YAML reader, then its validator."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.core.training_data.structures import StoryGraph
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from rasa.validator import Validator

    domain = Domain.load(str(project / "domain.yml"))
    assert YAMLStoryReader.is_test_stories_file(path)
    steps = YAMLStoryReader(domain, str(path)).read_from_file(path)
    story = next(s for s in steps if s.block_name == f"reviewed conversation {cid}")
    users = [e for e in story.events if isinstance(e, UserUttered)]
    assert users and all(e.intent_name in domain.intents and e.text for e in users)
    validator = Validator(domain, TrainingData(), StoryGraph(steps), None)
    assert validator.verify_actions_in_stories_rules()
    assert validator.verify_forms_in_stories_rules()
    assert validator.verify_utterances_in_stories(ignore_warnings=False)


async def test_analytics(aiohttp_client, settings):
    add_gap(WorkbenchPaths.from_settings(settings), "养蜂证在哪里办", count=3)
    client = await aiohttp_client(create_app(settings))
    await login(client, "boss1")
    page = await (await client.get("/console/train/analytics?from=2026-12-01&to=2026-12-03")).text()
    assert page.count("<svg") == 6
    assert "<b>4</b> 段对话" in page and "<b>9</b> 轮群众发言" in page
    assert "<b>25.0%</b> 的对话有没听懂" in page and "<b>25.0%</b> 的对话转了人工" in page
    assert "<b>25.0%</b> 的对话反问了哪一项" in page and "平均 <b>3.0</b> 分" in page
    assert "GJJ-TQ 住房公积金提取" in page and "渔船证咋弄" in page and "养蜂证在哪里办" in page
    assert "1 非常不满意" in page
    days = re.findall(r"<title>(2026-12-0\d) 对话：(\d+)</title>", page)
    assert days == [("2026-12-01", "2"), ("2026-12-02", "0"), ("2026-12-03", "2")]
    assert "<script" not in page.split("</head>")[1]  # drawn on the server, no chart script
