"""`python -m knowledge check --facts`: each rule passes on a good catalog and fails on a crafted bad one."""
import shutil
from pathlib import Path

import pytest
import yaml

from knowledge import CatalogError
from knowledge.__main__ import main
from knowledge.facts import articles, check_facts, chinese_number
from knowledge.loader import read_catalog

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"

INSTRUMENTS = {"instruments": [
    {"title": "促进个体工商户发展条例", "short": [], "kind": "行政法规", "issuer": "国务院", "number": "国务院令第755号",
     "version": "2022-10-01", "in_force": "2022-11-01", "checked": "2026-12-07"},
    {"title": "中华人民共和国食品安全法", "short": ["食品安全法"], "kind": "法律", "version": "2021-04-29",
     "version_note": "2021年4月29日第二次修正", "checked": "2026-12-07"},
    {"title": "中华人民共和国行政许可法", "short": ["行政许可法"], "kind": "法律", "version": "2019-04-23",
     "checked": "2026-12-07"},
]}


def good_verification():
    return {
        "T-GT-SL": {
            "checked": "2026-12-07",
            "basis": [{"instrument": "促进个体工商户发展条例", "article": "第二条"}],
            "time_limit": {"instrument": "促进个体工商户发展条例", "article": "第十条", "days": 15, "working": True},
            "fee": {"instrument": "行政许可法", "article": "第五十八条", "free": True},
            "conditions": [{"instrument": "促进个体工商户发展条例", "article": "第二条"}],
        },
        "T-SP-XK": {
            "checked": "2026-12-07",
            "basis": [{"instrument": "食品安全法", "article": "第三十五条"}],
            "time_limit": "none",
            "conditions": [{"instrument": "食品安全法", "article": "第三十五条", "version": "2021-04-29"}],
            "unverified": ["fee"],
        },
    }


@pytest.fixture
def catalog_dir(tmp_path):
    target = tmp_path / "catalog"
    shutil.copytree(FIXTURE, target)
    (target / "instruments.yml").write_text(yaml.safe_dump(INSTRUMENTS, allow_unicode=True), encoding="utf-8")

    def verify(data):
        for m in data["matters"]:
            m["verification"] = good_verification()[m["code"]]
        data["matters"][0]["basis"] = ["《促进个体工商户发展条例》第二条"]
        data["matters"][0]["source"]["refs"] = ["《促进个体工商户发展条例》第二条", "《中华人民共和国行政许可法》"]
        data["matters"][0]["changes"] = [{"date": "2026-12-07", "change": "核对法定时限", "reason": "条例第十条"}]
    edit(target, verify)
    return target


def edit(catalog_dir: Path, change):
    path = catalog_dir / "matters" / "test.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def matter(data, code="T-GT-SL"):
    return next(m for m in data["matters"] if m["code"] == code)


def report_of(catalog_dir):
    return check_facts(read_catalog(catalog_dir))


def problems(catalog_dir):
    report = report_of(catalog_dir)
    return [str(i) for i in report.contradictions + report.missing]


def test_good_catalog_passes(catalog_dir, capsys):
    report = report_of(catalog_dir)
    assert report.ok, report.lines()
    assert report.passing == ["T-GT-SL", "T-SP-XK"]
    assert report.unverified == [("T-SP-XK", "fee")]
    records = read_catalog(catalog_dir)
    assert records.matters[0].changes[0].reason == "条例第十条"
    assert records.instruments[1].short == ["食品安全法"]
    assert main(["check", "--facts", "--catalog-dir", str(catalog_dir)]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 matters pass" in out and "T-SP-XK: fee" in out


def test_fixture_without_records_passes_check_but_not_facts(capsys):
    assert main(["check", "--catalog-dir", str(FIXTURE)]) == 0
    assert main(["check", "--facts", "--catalog-dir", str(FIXTURE)]) == 1
    assert "no verification record" in capsys.readouterr().out


def test_numbers():
    assert chinese_number("二十五") == 25 and chinese_number("一百零三") == 103 and chinese_number("十") == 10
    assert articles("《居民身份证法》第十二条、第二十条第一款") == {12, 20}


# --- missing records -------------------------------------------------------------------------------------------

def test_matter_without_record_is_unverified(catalog_dir):
    edit(catalog_dir, lambda d: matter(d).pop("verification"))
    assert any("T-GT-SL: verification: no verification record" in p for p in problems(catalog_dir))


@pytest.mark.parametrize("fact", ["time_limit", "fee", "conditions", "basis"])
def test_fact_without_citation_is_unverified(catalog_dir, fact):
    edit(catalog_dir, lambda d: matter(d)["verification"].pop(fact))
    assert any(f"verification.{fact}" in p for p in problems(catalog_dir))


def test_basis_line_without_citation_is_unverified(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["verification"].update(basis=[None]))
    assert any("verification.basis[0]" in p and "not verified" in p for p in problems(catalog_dir))


def test_unverified_fact_must_be_null(catalog_dir):
    def change(d):
        v = matter(d)["verification"]
        v.pop("time_limit")
        v["unverified"] = ["time_limit"]
    edit(catalog_dir, change)
    assert any("legal_days: is 15 although unverified" in p for p in problems(catalog_dir))
    edit(catalog_dir, lambda d: matter(d)["time_limit"].update(legal_days=None))
    assert report_of(catalog_dir).ok


def test_unverified_fee_must_be_null(catalog_dir):
    edit(catalog_dir, lambda d: matter(d, "T-SP-XK")["fee"].update(free=True))
    assert any("fee.free: is set although unverified" in p for p in problems(catalog_dir))


def test_unknown_unverified_fact_fails_the_structure_check(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["verification"].update(unverified=["fees"]))
    with pytest.raises(CatalogError):
        read_catalog(catalog_dir)


def test_basis_citations_count_one_per_line(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["verification"]["basis"].append({"instrument": "行政许可法"}))
    with pytest.raises(CatalogError) as caught:
        read_catalog(catalog_dir)
    assert "one per line" in str(caught.value)


# --- instruments ----------------------------------------------------------------------------------------------

def test_basis_instrument_missing_from_instruments(catalog_dir):
    def change(d):
        matter(d)["basis"].append("《中华人民共和国反不正当竞争法》")
        matter(d)["verification"]["basis"].append(None)
    edit(catalog_dir, change)
    assert any("cites 《中华人民共和国反不正当竞争法》, which instruments.yml lacks" in p for p in problems(catalog_dir))


def test_basis_line_must_name_an_instrument(catalog_dir):
    def change(d):
        matter(d)["basis"].append("本省有关规定")
        matter(d)["verification"]["basis"].append(None)
    edit(catalog_dir, change)
    assert any("names no instrument" in p for p in problems(catalog_dir))


def test_basis_instrument_missing_from_source_refs(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["source"].update(refs=["https://example.org/"]))
    assert any("which source.refs lacks" in p for p in problems(catalog_dir))


def test_basis_cited_by_number(catalog_dir):
    def change(d):
        matter(d)["basis"] = ["国务院令第755号"]
        matter(d)["source"]["refs"].append("国务院令第755号")
    edit(catalog_dir, change)
    assert report_of(catalog_dir).ok


def test_citation_of_unknown_instrument(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["verification"]["conditions"].append({"instrument": "某某办法"}))
    assert any("cites '某某办法', which instruments.yml lacks" in p for p in problems(catalog_dir))


def test_citation_of_another_version(catalog_dir):
    edit(catalog_dir, lambda d: matter(d, "T-SP-XK")["verification"]["conditions"][0].update(version="2018-12-29"))
    assert any("checked against the 2018-12-29 version" in p for p in problems(catalog_dir))


def test_checked_before_the_version_existed(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["verification"]["fee"].update(checked="2019-01-01"))
    assert any("before the 2019-04-23 version" in p for p in problems(catalog_dir))


def test_checked_on_a_date_still_to_come(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["verification"]["fee"].update(checked="2999-01-01"))
    assert any("checked on 2999-01-01, a date still to come" in p for p in problems(catalog_dir))


def test_two_matters_naming_different_revisions(catalog_dir):
    def change(d):
        matter(d)["conditions"].append("按2021年修正的《中华人民共和国食品安全法》办理。")
        matter(d, "T-SP-XK")["conditions"].append("《中华人民共和国食品安全法》（2015年修订）规定……")
    edit(catalog_dir, change)
    found = [p for p in problems(catalog_dir) if "revision" in p]
    assert len(found) == 1 and "T-SP-XK" in found[0] and "2015" in found[0]


def test_same_revision_year_everywhere_passes(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["conditions"].append("2021年修正的《食品安全法》规定……"))
    assert report_of(catalog_dir).ok


def test_duplicate_instrument_names_fail_the_structure_check(catalog_dir):
    data = yaml.safe_load((catalog_dir / "instruments.yml").read_text(encoding="utf-8"))
    data["instruments"][2]["short"] = ["食品安全法"]
    (catalog_dir / "instruments.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        read_catalog(catalog_dir)
    assert "names two instruments" in str(caught.value)


# --- articles -------------------------------------------------------------------------------------------------

def test_basis_article_differs_from_the_checked_one(catalog_dir):
    edit(catalog_dir, lambda d: matter(d).update(basis=["《促进个体工商户发展条例》第三条"]))
    assert any("names another article" in p for p in problems(catalog_dir))


def test_citation_of_an_instrument_the_line_does_not_name(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["verification"]["basis"][0].update(instrument="行政许可法"))
    assert any("but the basis line is" in p for p in problems(catalog_dir))


# --- time limit -----------------------------------------------------------------------------------------------

def test_legal_days_differs_from_the_article(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["time_limit"].update(legal_days=20))
    assert any("legal_days: is 20, the checked article sets 15" in p for p in problems(catalog_dir))


def test_natural_days_against_a_working_day_article(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["time_limit"].update(calendar_days=True))
    assert any("calendar_days: is true, the article counts working days" in p for p in problems(catalog_dir))


def test_legal_days_although_no_rule(catalog_dir):
    edit(catalog_dir, lambda d: matter(d, "T-SP-XK")["time_limit"].update(legal_days=20))
    assert any("no national rule sets it" in p for p in problems(catalog_dir))


def test_time_limit_citation_needs_days_and_kind(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["verification"]["time_limit"].pop("working"))
    assert any("neither working" in p for p in problems(catalog_dir))


def test_note_number_not_carried(catalog_dir):
    edit(catalog_dir, lambda d: matter(d, "T-SP-XK")["time_limit"].update(
        note="《食品安全法》规定自受理之日起二十个工作日内作出决定"))
    assert any("states '二十个工作日'" in p for p in problems(catalog_dir))


def test_note_number_declared_or_carried_passes(catalog_dir):
    def change(d):
        matter(d)["time_limit"]["note"] = "15个工作日内登记；公告期45天不计入；3月1日起施行"
        matter(d)["verification"]["note_days"] = [45]
    edit(catalog_dir, change)
    assert report_of(catalog_dir).ok


def test_note_working_days_against_calendar_field(catalog_dir):
    def change(d):
        matter(d)["time_limit"].update(calendar_days=True, note="自受理之日起15个工作日内")
        matter(d)["verification"]["time_limit"]["working"] = False
    edit(catalog_dir, change)
    assert any("the note says 15个工作日" in p for p in problems(catalog_dir))


def test_note_natural_days_against_working_field(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["time_limit"].update(note="自受理之日起15日内（按自然日计）"))
    assert any("the note says natural days" in p for p in problems(catalog_dir))


def test_note_says_no_limit_while_field_carries_one(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["time_limit"].update(note="法规未规定办结时限"))
    assert any("says no limit is set" in p for p in problems(catalog_dir))


# --- fee ------------------------------------------------------------------------------------------------------

def test_fee_citation_against_the_field(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["fee"].update(free=False, amount="工本费10元"))
    assert any("fee.free: is false, the checked article says free" in p for p in problems(catalog_dir))


def test_fee_charge_with_no_rule(catalog_dir):
    def change(d):
        matter(d)["fee"].update(free=False, amount="工本费10元")
        matter(d)["verification"]["fee"] = "none"
    edit(catalog_dir, change)
    assert any("no national rule sets a charge" in p for p in problems(catalog_dir))


# --- change log -----------------------------------------------------------------------------------------------

def test_change_entry_needs_a_reason(catalog_dir):
    edit(catalog_dir, lambda d: matter(d)["changes"][0].pop("reason"))
    with pytest.raises(CatalogError) as caught:
        read_catalog(catalog_dir)
    assert "changes[0]: reason: is required" in str(caught.value)
