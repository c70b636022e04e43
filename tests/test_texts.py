"""The domain-text service (bot/texts): responses read once, rendered by name, never crashing on a bad domain."""
from pathlib import Path

import pytest

from bot.texts import DomainTexts
from bot.texts.catalog import Fragments

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_domain_texts_load_defensively(tmp_path, caplog):
    domain = tmp_path / "domain.yml"
    domain.write_text(
        "responses:\n"
        "  utter_a:\n"
        "    - text: 微信版\n"
        "      channel: wechat\n"
        "    - text: 通用版\n"
        "  utter_b:\n"
        "    - custom: {x: 1}\n",
        encoding="utf-8",
    )
    texts = DomainTexts.load(domain)
    assert texts.names() == ["utter_a"] and texts.render("utter_a") == "通用版"
    assert texts.render("utter_service_unavailable") == ""
    assert "utter_service_unavailable" in caplog.text

    assert DomainTexts.load(tmp_path / "missing.yml").names() == []
    broken = tmp_path / "broken.yml"
    broken.write_text("responses: [: :", encoding="utf-8")
    assert DomainTexts.load(broken).names() == []


def test_domain_split_over_a_folder_is_read(tmp_path):
    folder = tmp_path / "domain"
    folder.mkdir()
    (folder / "a.yml").write_text("responses:\n  utter_a:\n    - text: 甲\n", encoding="utf-8")
    (folder / "b.yml").write_text("responses:\n  utter_b:\n    - text: 乙\n", encoding="utf-8")
    assert sorted(DomainTexts.load(tmp_path / "domain.yml").names()) == ["utter_a", "utter_b"]


def test_the_real_domain_is_read_once_per_process_and_has_the_apology():
    texts = DomainTexts.load(REPO_ROOT / "domain.yml")
    assert texts is DomainTexts.load(REPO_ROOT / "domain.yml")
    assert texts.render("utter_service_unavailable").strip()


def test_render_fills_variables_and_leaves_a_missing_one_empty(caplog):
    texts = DomainTexts({"utter_x": "请到{place}，电话{phone}"})
    assert texts.render("utter_x", place="二楼", phone="12345") == "请到二楼，电话12345"
    assert texts.render("utter_x", place="二楼") == "请到二楼，电话"
    assert "phone" in caplog.text
    with pytest.raises(KeyError):
        texts.template("utter_missing")


def test_an_action_domain_and_the_file_give_the_same_texts():
    import yaml

    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
    from_file = DomainTexts.load(REPO_ROOT / "domain.yml")
    from_action = DomainTexts.of(domain)
    assert sorted(from_action.names()) == sorted(from_file.names())
    assert Fragments(domain)("unknown") == Fragments(from_file)("unknown")


def test_fragments_are_strict_about_missing_fragments():
    with pytest.raises(KeyError, match="utter_fragment_nope"):
        Fragments(DomainTexts({}))("nope")


@pytest.mark.asyncio
async def test_the_page_says_the_domain_words_escaped(aiohttp_client, tmp_path):
    """The page's title, placeholder, buttons and helper caption are domain responses, rendered by the server."""
    import html

    from bot.settings import Settings
    from bot.web.app import create_app

    domain = tmp_path / "domain.yml"
    words = {"utter_page_title": "测试<大厅>", "utter_page_subtitle": "副标题", "utter_page_log_label": "记录",
             "utter_page_typing": "输入中", "utter_page_placeholder": "请问\"什么\"", "utter_page_input_label": "框",
             "utter_page_send": "发出去", "utter_page_retry": "再来", "utter_page_helper_caption": "帮办员{name}·{staff_no}"}
    domain.write_text("responses:\n" + "".join(f"  {k}:\n    - text: '{v}'\n" for k, v in words.items()),
                      encoding="utf-8")
    app = create_app(Settings(project_dir=tmp_path, handoff_database_url=f"sqlite:///{tmp_path / 'h.sqlite3'}",
                              handoff_config=REPO_ROOT / "tests" / "fixtures" / "handoff.yml"))
    client = await aiohttp_client(app)
    resp = await client.get("/")
    page = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html"
    assert "<title>测试&lt;大厅&gt;</title>" in page and "<h1>测试&lt;大厅&gt;</h1>" in page
    assert 'placeholder="请问&#34;什么&#34;"' in page
    assert '<button id="send" type="submit" disabled>发出去</button>' in page
    assert '<button type="button" class="retry">再来</button>' in page
    assert '<template id="helper-caption">帮办员{name}·{staff_no}</template>' in page
    for word in ("发送", "重发", "工作人员", "请输入您要办的事"):
        assert word not in html.unescape(page)
