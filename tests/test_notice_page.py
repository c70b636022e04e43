"""The printable one-time notice page (GET /notice/…) on our real web app (aiohttp test server, real SQLite).

Expected texts are computed from the catalog and the domain, so the page is checked to say exactly what the
bot says. The page in headless Chromium (phone, print) is tests/test_notice_browser.py.
"""
from __future__ import annotations

import re
import shutil
from datetime import date, datetime
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from bot.texts.catalog import Fragments
from bot.settings import Settings
from bot.web.app import create_app
from knowledge import Catalog, make_engine
from knowledge.loader import load
from knowledge.notice import notice_path

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
F = Fragments(DOMAIN)
CODE = "SCJG-GT-SL"
ANSWERS = {"agent": "agent", "form": "individual"}


def app_for(database_url: str, tmp_path: Path, hall_timezone: str = "Asia/Shanghai"):
    return create_app(Settings(database_url=database_url,
                               handoff_database_url=f"sqlite:///{tmp_path / 'handoff.sqlite3'}",
                               handoff_config=ROOT / "tests" / "fixtures" / "handoff.yml",
                               hall_timezone=hall_timezone))


def hall_today(zone: str = "Asia/Shanghai") -> date:
    return datetime.now(ZoneInfo(zone)).date()


@pytest_asyncio.fixture
async def client(aiohttp_client, catalog_database_url, tmp_path):
    return await aiohttp_client(app_for(catalog_database_url, tmp_path))


@pytest.fixture(scope="module")
def catalog(catalog_database_url):
    return Catalog(make_engine(catalog_database_url))


def text_of(html: str) -> str:
    """The page's visible text, one line per element, entities decoded."""
    import html as html_lib

    body = re.sub(r"<(script|style|title)\b.*?</\1>", "", html, flags=re.S)
    lines = html_lib.unescape(re.sub(r"<[^>]+>", "\n", body)).split("\n")
    return "\n".join(line.strip() for line in lines if line.strip())


async def test_the_notice_shows_matter_situation_list_missing_place_hours_time_limit_and_date(client, catalog):
    matter = catalog.matter(CODE)
    listed = matter.materials_for(ANSWERS)
    have = {1, 2}
    resp = await client.get(notice_path(CODE, ANSWERS, have))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    html = await resp.text()
    text = text_of(html)

    assert f"<title>「{matter.name}」一次性告知单</title>" in html
    assert matter.name in text and matter.department in text
    for situation in matter.situations:
        if situation.code in ANSWERS:
            assert f"{situation.question}\n{situation.label_of(ANSWERS[situation.code])}" in text
    # The very lines the bot gives for this situation, in order, each marked have / to prepare.
    lines = F.material_lines(matter, ANSWERS)
    assert f"所需材料（共{len(lines)}项）" in text
    for index, line in enumerate(lines, 1):
        mark = "已有" if index in have else "待准备"
        assert f"{mark}\n{line}" in text
    assert html.count('<li class="missing">') == len(lines) - len(have)
    assert html.count('<li class="have">') == len(have)
    # Missing items again, with how to get them.
    assert f"还缺以下{len(listed) - len(have)}项材料" in text
    missing_box = html[html.index('id="missing"'):html.index('id="where"')]
    for position, (material, _) in enumerate(listed, 1):
        assert (f"<strong>{material.name}</strong>" in missing_box) == (position not in have)
        if position not in have and material.issued_by:
            assert f"出具单位：{material.issued_by}" in missing_box
    hall = catalog.hall()
    assert F.place(matter.place) in text
    assert (matter.hours or hall.hours) in text
    assert F.time_limit(matter) in text
    assert (matter.contact_phone or hall.phone) in text
    today = hall_today()  # the hall's day (HALL_TIMEZONE), not the machine's
    assert f"生成日期\n{today.year}年{today.month}月{today.day}日" in text
    assert f"事项信息截至{matter.as_of}" in text
    assert 'id="print-notice"' in html and 'src="/static/notice.js"' in html
    download = re.search(r'id="download-notice" href="([^"]+)"', html).group(1)
    assert download.replace("&amp;", "&").endswith("&download=1")


async def test_without_answers_or_checklist_the_whole_list_and_no_missing_box(client, catalog):
    matter = catalog.matter(CODE)
    resp = await client.get(notice_path(CODE, {}))
    assert resp.status == 200
    html = await resp.text()
    text = text_of(html)
    assert "未选择情形：清单包含各种情形的材料，标【】的按情形提供。" in text
    for line in F.material_lines(matter, {}):
        assert line in text
    assert 'id="missing"' not in html and "待准备" not in text


async def test_all_items_held_says_the_list_is_complete(client, catalog):
    count = len(catalog.matter(CODE).materials_for(ANSWERS))
    resp = await client.get(notice_path(CODE, ANSWERS, range(1, count + 1)))
    assert resp.status == 200
    text = text_of(await resp.text())
    assert "清单上的材料您都已备齐" in text and "待准备" not in text


async def test_download_is_the_same_notice_as_a_self_contained_attachment(client, catalog):
    page = await (await client.get(notice_path(CODE, ANSWERS, {1}))).text()
    resp = await client.get(notice_path(CODE, ANSWERS, {1}) + "&download=1")
    assert resp.status == 200
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="notice-{CODE}-{hall_today().isoformat()}.html"' in disposition
    html = await resp.text()
    assert "<style>" in html and "@media print" in html  # readable offline, without our server
    assert "<script" not in html and 'id="print-notice"' not in html
    # Same content as the page, without the toolbar.
    toolbar = page[page.index("<nav"):page.index("</nav>") + len("</nav>")]
    assert text_of(html) == text_of(page.replace(toolbar, ""))


@pytest.mark.parametrize("path", [
    "/notice/NO-SUCH-MATTER",
    "/notice/scjg-gt-sl",
    "/notice/%3Cscript%3E",
    "/notice/" + "A" * 80,
])
async def test_unknown_matter_is_a_404_page(client, path):
    resp = await client.get(path)
    assert resp.status == 404
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers["Cache-Control"] == "no-store"
    html = await resp.text()
    assert "没有找到这个事项的告知单" in html and "<script" not in html


@pytest.mark.parametrize("query", [
    "s=agent",                                  # no option
    "s=agent:nobody",                           # not an option of the situation
    "s=colour:red",                             # not a situation of the matter
    "have=0",
    "have=abc",
    "have=1,,2",
    "have=99",                                  # beyond the list shown
    "have=" + ",".join(["1"] * 300),
    "s=%3Cscript%3Ealert(1)%3C/script%3E:x",
    "s=agent:agent%27%20OR%201=1--",
    "download=yes",
])
async def test_malformed_query_is_a_400_page_that_echoes_nothing(client, query):
    resp = await client.get(f"/notice/{CODE}?{query}")
    assert resp.status == 400, query
    assert resp.headers["Cache-Control"] == "no-store"
    html = await resp.text()
    assert "告知单地址不完整或有误" in html
    assert "alert(1)" not in html and "OR 1=1" not in html


async def test_markup_from_the_catalog_is_escaped(aiohttp_client, tmp_path):
    source = Path(__file__).parent / "fixtures" / "catalog"
    catalog_dir = tmp_path / "catalog"
    shutil.copytree(source, catalog_dir)
    matters = catalog_dir / "matters"
    file = next(matters.glob("*.yml"))
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    data["matters"][1]["name"] = "食品<b>经营</b>许可"
    data["matters"][1]["materials"][0]["note"] = "<script>alert('x')</script>"
    data["matters"][1]["materials"].append({"name": "场所<i>平面图</i>", "original": 1, "copies": 0,
                                            "required": True, "form_url": "https://example.org/?a=1&b=<x>"})
    file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'markup.sqlite3'}"
    load(make_engine(url), catalog_dir)
    client = await aiohttp_client(app_for(url, tmp_path))

    resp = await client.get("/notice/T-SP-XK?have=1")
    assert resp.status == 200
    html = await resp.text()
    assert "<b>经营</b>" not in html and "食品&lt;b&gt;经营&lt;/b&gt;许可" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    # The missing item and its form link (the loader only accepts http(s) addresses), escaped too.
    assert "<strong>场所&lt;i&gt;平面图&lt;/i&gt;</strong>" in html
    assert 'href="https://example.org/?a=1&amp;b=&lt;x&gt;"' in html


async def test_personal_data_in_a_forged_address_is_not_logged(client, caplog):
    caplog.set_level("INFO", logger="bot.web.notice")
    for query in ("s=13812345678:x", "s=agent:13812345678", "have=1,13812345678"):
        resp = await client.get(f"/notice/{CODE}?{query}")
        assert resp.status == 400
    assert "malformed notice query" in caplog.text and "does not fit" in caplog.text
    assert "1381234" not in caplog.text


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])  # UTC+14 and UTC-12: never the same day
async def test_the_date_is_the_halls_day_in_its_time_zone(aiohttp_client, catalog_database_url, tmp_path, zone):
    client = await aiohttp_client(app_for(catalog_database_url, tmp_path, hall_timezone=zone))
    text = text_of(await (await client.get(notice_path(CODE, ANSWERS, {1}))).text())
    day = hall_today(zone)
    assert f"生成日期\n{day.year}年{day.month}月{day.day}日" in text
