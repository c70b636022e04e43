"""The catalog loader: good data, each kind of broken data, atomic and idempotent loading."""
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sqlalchemy.exc import IntegrityError

from knowledge import Catalog, CatalogError, make_engine, models
from knowledge.loader import load, read_catalog

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"


@pytest.fixture
def catalog_dir(tmp_path):
    target = tmp_path / "catalog"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'catalog.sqlite3'}")


def edit(path: Path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def matter_file(catalog_dir):
    return catalog_dir / "matters" / "test.yml"


def issues_of(catalog_dir):
    with pytest.raises(CatalogError) as caught:
        read_catalog(catalog_dir)
    return [str(issue) for issue in caught.value.issues]


def count(engine, model):
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_good_catalog_loads_every_element(catalog_dir, engine):
    load(engine, catalog_dir)
    catalog = Catalog(engine)
    hall = catalog.hall()
    assert hall.name == "测试市政务服务大厅"  # {city} substituted
    matter = catalog.matter("T-GT-SL")
    assert matter.department == "测试市市场监督管理局"
    assert [m.name for m in matter.materials] == ["申请书", "经营者身份证", "委托书"]
    assert matter.situations[0].options == (("self", "本人办理"), ("agent", "委托他人代办"))
    assert matter.related[0].code == "T-SP-XK"
    assert matter.bundles[0].name == "开店一件事"
    assert matter.place.windows == "A01-A02"
    assert catalog.bundle("T-YJS").members[1].code == "T-SP-XK"
    assert count(engine, models.Term) == 3 + 4 + 2  # names, aliases and keywords of all targets


def test_materials_for_a_situation_are_complete(catalog_dir, engine):
    load(engine, catalog_dir)
    matter = Catalog(engine).matter("T-GT-SL")
    unanswered = [(m.name, conditional) for m, conditional in matter.materials_for({})]
    assert unanswered == [("申请书", False), ("经营者身份证", False), ("委托书", True)]
    assert [m.name for m, _ in matter.materials_for({"agent": "self"})] == ["申请书", "经营者身份证"]
    assert [(m.name, c) for m, c in matter.materials_for({"agent": "agent"})][-1] == ("委托书", False)


def test_loading_twice_gives_the_same_content(catalog_dir, engine):
    load(engine, catalog_dir)
    first = (count(engine, models.Matter), count(engine, models.Material), count(engine, models.Term))
    load(engine, catalog_dir)
    assert (count(engine, models.Matter), count(engine, models.Material), count(engine, models.Term)) == first


def test_city_is_configurable(catalog_dir, engine):
    load(engine, catalog_dir, city="样例市")
    assert Catalog(engine).hall().name == "样例市政务服务大厅"


def test_the_command_line_takes_the_city_and_database_from_the_environment():
    from knowledge.environment import catalog_env

    assert catalog_env({"DATABASE_URL": "sqlite:///x.db", "CATALOG_CITY": " 样例市 "}) == ("sqlite:///x.db", "样例市")
    url, city = catalog_env({})
    assert url.endswith("var/catalog.sqlite3") and city is None


def test_broken_yaml_names_the_file(catalog_dir):
    matter_file(catalog_dir).write_text("matters:\n  - code: [unclosed\n", encoding="utf-8")
    assert any(i.startswith("matters/test.yml") and "not valid YAML" in i for i in issues_of(catalog_dir))


def test_missing_field_names_file_record_and_field(catalog_dir):
    edit(matter_file(catalog_dir), lambda d: d["matters"][0].pop("conditions"))
    assert "matters/test.yml: T-GT-SL: conditions: needs at least 1 entries" in issues_of(catalog_dir)


def test_wrong_type_is_reported(catalog_dir):
    edit(matter_file(catalog_dir), lambda d: d["matters"][0]["time_limit"].update(legal_days="fifteen"))
    assert "matters/test.yml: T-GT-SL.time_limit: legal_days: must be a whole number >= 0" in issues_of(catalog_dir)


def test_unknown_matter_type_is_reported(catalog_dir):
    edit(matter_file(catalog_dir), lambda d: d["matters"][0].update(type="许可"))
    assert any("T-GT-SL: type: invalid value '许可'" in i for i in issues_of(catalog_dir))


def test_unknown_department_and_location(catalog_dir):
    edit(matter_file(catalog_dir), lambda d: d["matters"][0].update(department="NOPE", location="9F-X"))
    issues = issues_of(catalog_dir)
    assert "matters/test.yml: T-GT-SL: department: unknown department 'NOPE'" in issues
    assert "matters/test.yml: T-GT-SL: location: unknown location '9F-X'" in issues


def test_dangling_related_matter(catalog_dir):
    edit(matter_file(catalog_dir), lambda d: d["matters"][0].update(related=["T-MISSING"]))
    assert "matters/test.yml: T-GT-SL: related: unknown matter 'T-MISSING'" in issues_of(catalog_dir)


def test_material_condition_must_name_a_known_situation_and_say_when(catalog_dir):
    def change(d):
        d["matters"][0]["materials"][2]["when"] = {"agent": "robot"}
        d["matters"][0]["materials"][2]["when_text"] = None
    edit(matter_file(catalog_dir), change)
    issues = issues_of(catalog_dir)
    assert "matters/test.yml: T-GT-SL.materials[2]: when: unknown option 'robot' of situation 'agent'" in issues
    assert any("T-GT-SL.materials[2]: when_text: is required" in i for i in issues)


def test_bundle_member_must_exist(catalog_dir):
    edit(catalog_dir / "bundles.yml", lambda d: d["bundles"][0].update(members=["T-GT-SL", "T-GONE"]))
    assert "bundles.yml: T-YJS: members: unknown matter 'T-GONE'" in issues_of(catalog_dir)


def test_duplicate_codes(catalog_dir):
    edit(matter_file(catalog_dir), lambda d: d["matters"][1].update(code="T-GT-SL"))
    assert any("T-GT-SL: code: duplicate matter or bundle code" in i for i in issues_of(catalog_dir))


def test_not_free_needs_an_amount(catalog_dir):
    edit(matter_file(catalog_dir), lambda d: d["matters"][0].update(fee={"free": False}))
    assert "matters/test.yml: T-GT-SL.fee: amount: is required when the matter is not free" in issues_of(catalog_dir)


def test_broken_catalog_leaves_the_database_as_it_was(catalog_dir, engine):
    load(engine, catalog_dir)
    before = count(engine, models.Matter)
    edit(matter_file(catalog_dir), lambda d: d["matters"][1].update(department="NOPE"))
    with pytest.raises(CatalogError):
        load(engine, catalog_dir)
    assert count(engine, models.Matter) == before
    assert Catalog(engine).matter("T-SP-XK") is not None


def test_failure_while_writing_rolls_back(catalog_dir, engine):
    load(engine, catalog_dir)
    records = read_catalog(catalog_dir)
    records.matters[1].related = ["T-NOT-THERE"]  # slips past validation, the foreign key stops it
    from knowledge.loader import write_catalog
    with pytest.raises(IntegrityError):
        write_catalog(engine, records)
    assert count(engine, models.Matter) == 2
    assert Catalog(engine).matter("T-GT-SL").related[0].code == "T-SP-XK"


def test_cli_check_reports_problems(catalog_dir, capsys):
    from knowledge.__main__ import main
    edit(matter_file(catalog_dir), lambda d: d["matters"][0].pop("steps"))
    assert main(["--catalog-dir", str(catalog_dir), "check"]) == 1
    assert "T-GT-SL: steps: needs at least 2 entries" in capsys.readouterr().err


def test_a_term_shared_by_two_matters_must_be_declared_ambiguous(catalog_dir):
    edit(matter_file(catalog_dir), lambda d: d["matters"][1]["aliases"].append("办个体户执照"))
    assert any("'办个体户执照' also names T-GT-SL, T-SP-XK" in i for i in issues_of(catalog_dir))
    (catalog_dir / "ambiguous.yml").write_text("ambiguous_terms: [办个体户执照]\n", encoding="utf-8")
    read_catalog(catalog_dir)  # declared: accepted


def test_a_declared_ambiguous_term_must_really_be_shared(catalog_dir):
    (catalog_dir / "ambiguous.yml").write_text("ambiguous_terms: [开个店]\n", encoding="utf-8")
    assert "ambiguous.yml: : ambiguous_terms: '开个店' is not shared by several matters" in issues_of(catalog_dir)


def test_bundle_merged_materials_name_members_that_need_them(catalog_dir, engine):
    def add_materials(d):
        d["bundles"][0]["materials"] = [
            {"name": "经营者身份证", "original": 1, "copies": 1, "for": ["T-GT-SL", "T-SP-XK"]},
            {"name": "申请书", "original": 1, "copies": 0, "for": ["T-GT-SL"], "note": "两份申请书各填一份"},
        ]
    edit(catalog_dir / "bundles.yml", add_materials)
    load(engine, catalog_dir)
    bundle = Catalog(engine).bundle("T-YJS")
    assert [(m.name, m.matters) for m in bundle.materials] == [
        ("经营者身份证", ("T-GT-SL", "T-SP-XK")), ("申请书", ("T-GT-SL",))]
    edit(catalog_dir / "bundles.yml", lambda d: d["bundles"][0]["materials"][0].update({"for": ["T-OTHER"]}))
    assert "bundles.yml: T-YJS.materials[0]: for: 'T-OTHER' is not a member of the bundle" in issues_of(catalog_dir)


def test_cached_catalog_reads_the_database_once(catalog_dir, engine):
    load(engine, catalog_dir)
    cached = Catalog(engine, cache=True)
    assert cached.matter("T-GT-SL") is cached.matter("T-GT-SL")
    assert Catalog(engine).matter("T-GT-SL") is not Catalog(engine).matter("T-GT-SL")
