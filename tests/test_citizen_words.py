"""No placeholder or catalog jargon reaches a citizen; the hall's sample data is named as a sample for the operator;
one clock (HALL_TIMEZONE)."""
from __future__ import annotations

import pytest
import yaml

from bot.texts.catalog import Fragments, hall_values
from bot.run import HALL_FILE, hall_sample_notice
from bot.settings import Settings, SettingsError
from conftest import REPO_ROOT
from knowledge import open_catalog

DOMAIN = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
F = Fragments(DOMAIN)
JARGON = ("目录未登记", "示例地址", "XX路", "XX号", "待替换")


@pytest.fixture(scope="module")
def catalog():
    return open_catalog("sqlite://")


def test_no_domain_response_speaks_catalog_jargon():
    for name, variations in DOMAIN["responses"].items():
        for variation in variations:
            for word in JARGON:
                assert word not in (variation.get("text") or ""), (name, word)


def test_every_matter_reads_in_plain_words(catalog):
    hall = catalog.hall()
    for code in catalog.matter_codes():
        matter = catalog.matter(code)
        said = "\n".join([F.overview(matter), F.time_limit(matter) or F("unknown"), F.online(matter),
                          F.visits(matter.visits), F.place(matter.place), *F.material_lines(matter, {})])
        for word in JARGON:
            assert word not in said, (code, word)
    for value in hall_values(hall, F).values():
        for word in JARGON:
            assert word not in value, word


def test_unknown_facts_are_plain_sentences():
    assert F("days_committed_unknown") == "目前没有统一的承诺时限，以窗口告知为准"
    assert "窗口" in F("days_legal_unknown") and "窗口" in F("visits_unknown") and "窗口" in F("unknown")


def test_the_address_citizens_read_is_an_address_not_a_note_about_one(catalog):
    address = catalog.hall().address
    assert address and "示例" not in address and "XX" not in address.replace("XXXX市", "")


def test_the_sample_hall_is_named_as_a_sample_for_the_operator(tmp_path):
    shipped = yaml.safe_load((REPO_ROOT / HALL_FILE).read_text(encoding="utf-8"))["hall"]
    assert shipped["sample_data"] is True
    notice = hall_sample_notice(REPO_ROOT)
    assert "SAMPLE" in notice and str(HALL_FILE) in notice and shipped["city"] in notice
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "The hall's facts are a sample" in readme and "knowledge/catalog/hall.yml" in readme

    real = tmp_path / HALL_FILE
    real.parent.mkdir(parents=True)
    real.write_text(yaml.safe_dump({"hall": {**shipped, "sample_data": False}}, allow_unicode=True), encoding="utf-8")
    assert hall_sample_notice(tmp_path) == ""


def test_the_halls_time_zone_comes_from_configuration():
    assert Settings.from_env({}).hall_timezone == "Asia/Shanghai"
    settings = Settings.from_env({"HALL_TIMEZONE": "Asia/Urumqi"})
    assert settings.hall_timezone == "Asia/Urumqi" and settings.child_env({})["HALL_TIMEZONE"] == "Asia/Urumqi"
    with pytest.raises(SettingsError, match="HALL_TIMEZONE"):
        Settings.from_env({"HALL_TIMEZONE": "Mars/Olympus"})


def test_the_handoff_clock_is_the_halls():
    from bot.handoff.config import HandoffConfig

    config = HandoffConfig.load(REPO_ROOT / "bot" / "handoff" / "handoff.yml", "Asia/Urumqi")
    assert config.timezone_name == "Asia/Urumqi"
    assert HandoffConfig.load(REPO_ROOT / "bot" / "handoff" / "handoff.yml").timezone_name == "Asia/Shanghai"
