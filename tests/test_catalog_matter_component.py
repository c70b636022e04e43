"""CatalogMatterExtractor, the registered Rasa component that recognises matters from the catalog."""
import shutil
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.catalog_matter import CatalogMatterExtractor
from knowledge import make_engine
from knowledge.loader import load

FIXTURE = Path(__file__).parent / "fixtures" / "catalog"


@pytest.fixture
def catalog_dir(tmp_path, monkeypatch):
    target = tmp_path / "catalog"
    shutil.copytree(FIXTURE, target)
    url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    load(make_engine(url), target)
    return target, url


def process(text: str) -> Message:
    component = CatalogMatterExtractor.create(CatalogMatterExtractor.get_default_config(), None, None, None)
    return component.process([Message(data={"text": text})])[0]


def test_candidates_and_an_entity_with_the_code_where_the_matter_is_named(catalog_dir):
    message = process("我想开个小卖部办照要带啥")
    assert message.get("matter_candidates")[0]["code"] == "T-GT-SL"
    [entity] = message.get("entities")
    assert entity["entity"] == "matter" and entity["value"] == "T-GT-SL"
    assert "我想开个小卖部办照要带啥"[entity["start"]:entity["end"]] == "开个小卖部办照"
    assert entity["extractor"] == "CatalogMatterExtractor"


def test_traditional_characters_are_recognised(catalog_dir):
    assert process("個體戶要帶什麼").get("matter_candidates")[0]["code"] == "T-GT-SL"


def test_no_matter_gives_no_candidates_and_no_entity(catalog_dir):
    message = process("周六上班吗")
    assert message.get("matter_candidates") == [] and not message.get("entities")


def test_payloads_are_left_alone(catalog_dir):
    message = process('/choose_matter{"matter":"T-GT-SL"}')
    assert message.get("matter_candidates") is None


def test_a_matter_added_to_the_catalog_is_recognised_without_retraining(catalog_dir):
    directory, url = catalog_dir
    assert not [c for c in process("渔船登记要带什么").get("matter_candidates") if c["code"] == "T-YC-DJ"]

    def add(d):
        new = dict(d["matters"][1], code="T-YC-DJ", name="渔业船舶登记", aliases=["渔船登记", "打渔的船上牌"],
                   keywords=["渔船"], related=[])
        d["matters"].append(new)
    path = directory / "matters" / "test.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    add(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load(make_engine(url), directory)
    # A new component instance is what a restarted Rasa server creates from the same trained model.
    assert process("渔船登记要带什么").get("matter_candidates")[0]["code"] == "T-YC-DJ"
