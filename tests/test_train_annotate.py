"""Labels written into a temporary copy of data/nlu and the catalog, in the files' own layout."""
from __future__ import annotations

import difflib

import pytest
import yaml

from bot.train.annotate import AnnotationError, NluFiles, add_alias, add_example, add_gap
from bot.train.paths import WorkbenchPaths
from support.workbench import copy_project



@pytest.fixture()
def project(tmp_path):
    return WorkbenchPaths(copy_project(tmp_path), tmp_path / "models")


def _added_lines(before: str, after: str):
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    assert not [d for d in diff if d.startswith("- ")], "a line of the file was changed or removed"
    return [d[2:] for d in diff if d.startswith("+ ")]


def test_example_goes_under_its_intent_and_nothing_else_changes(project):
    path = project.nlu_dir / "aspects.yml"
    before = path.read_text(encoding="utf-8")
    written = add_example(project, "  营业执照  办下来要等几个工作日 ", "ask_time_limit")
    assert written.path == path and written.text == "营业执照 办下来要等几个工作日"
    after = path.read_text(encoding="utf-8")
    assert _added_lines(before, after) == ["    - 营业执照 办下来要等几个工作日"]
    entries = {e["intent"]: e["examples"] for e in yaml.safe_load(after)["nlu"]}
    assert "- 营业执照 办下来要等几个工作日\n" in entries["ask_time_limit"]
    assert NluFiles(project.nlu_dir).label_of("营业执照办下来要等几个工作日！") == "ask_time_limit"


def test_duplicates_and_conflicts_are_refused(project):
    before = {p.name: p.read_text(encoding="utf-8") for p in project.nlu_dir.glob("*.yml")}
    with pytest.raises(AnnotationError) as same:
        add_example(project, "公积金提取材料！", "ask_materials")  # an example of data/nlu, punctuation added
    assert same.value.code == "exists" and "已存在" in str(same.value)
    with pytest.raises(AnnotationError) as other:
        add_example(project, "公積金提取材料", "ask_procedure")  # the same in traditional characters
    assert other.value.code == "conflict" and "ask_materials" in str(other.value)
    with pytest.raises(AnnotationError) as unknown:
        add_example(project, "随便一句话", "no_such_intent")
    assert unknown.value.code == "unknown_intent"
    with pytest.raises(AnnotationError) as masked:
        add_example(project, "我手机138****5678收不到验证码", "out_of_scope")
    assert masked.value.code == "masked"
    assert before == {p.name: p.read_text(encoding="utf-8") for p in project.nlu_dir.glob("*.yml")}


def test_alias_into_the_matter_file(project):
    path = project.catalog_dir / "matters" / "enterprise.yml"
    before = path.read_text(encoding="utf-8")
    add_alias(project, "开个有限公司咋整", "SCJG-QY-SL")
    assert _added_lines(before, path.read_text(encoding="utf-8")) == ["      - 开个有限公司咋整"]
    with pytest.raises(AnnotationError) as exists:
        add_alias(project, "开个有限公司咋整", "SCJG-QY-SL")
    assert exists.value.code == "exists"
    with pytest.raises(AnnotationError) as conflict:
        add_alias(project, "开饭店", "SCJG-QY-SL")  # an alias of the 开饭店 bundle
    assert conflict.value.code == "conflict" and "YJS-QYZY-CY" in str(conflict.value)
    with pytest.raises(AnnotationError) as unknown:
        add_alias(project, "随便一句话", "NO-SUCH")
    assert unknown.value.code == "unknown_matter"


def test_alias_refused_and_file_restored_when_the_catalog_check_fails(project):
    # A catalog that fails its own check (an "ambiguous" term nobody shares): no alias is written into it.
    with (project.catalog_dir / "ambiguous.yml").open("a", encoding="utf-8") as handle:
        handle.write("  - 谁也不用的词\n")
    path = project.catalog_dir / "matters" / "enterprise.yml"
    before = path.read_text(encoding="utf-8")
    with pytest.raises(AnnotationError) as failed:
        add_alias(project, "开个有限公司咋整", "SCJG-QY-SL")
    assert failed.value.code == "catalog_check" and "未保存" in str(failed.value)
    assert path.read_text(encoding="utf-8") == before


def test_gap_list_counts(project):
    add_gap(project, "渔船证怎么办", 3)
    add_gap(project, "养蜂证", 1)
    add_gap(project, "渔船证怎么办？", 2)
    data = yaml.safe_load(project.gap_file.read_text(encoding="utf-8"))
    assert [(g["text"], g["count"]) for g in data["gaps"]] == [("渔船证怎么办", 5), ("养蜂证", 1)]
    assert project.gap_file.read_text(encoding="utf-8").startswith("# 事项目录缺少的事项")
