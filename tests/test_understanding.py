"""Issue #16 understanding: two aspects in one message, policy amounts, another place or year (actions on tracker
snapshots against the fixture catalog), and the NLU components behind them (AspectCueDetector,
SentenceEncoderFeaturizer) and knowledge.elsewhere."""
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import ActionAnswer, catalog_access
from bot.nlu.aspect_cues import AspectCueDetector, asked_aspects, cue_decision, not_positions
from knowledge import make_engine
from knowledge.elsewhere import find_elsewhere
from knowledge.loader import load

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
FIXTURE_CATALOG = Path(__file__).parent / "fixtures" / "catalog"


def _load_catalog(directory: Path, tmp_path: Path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    load(make_engine(url), directory)
    monkeypatch.setenv("DATABASE_URL", url)
    catalog_access.reset()


@pytest.fixture
def fixture_catalog(tmp_path, monkeypatch):
    _load_catalog(FIXTURE_CATALOG, tmp_path, monkeypatch)
    yield
    catalog_access.reset()


@pytest.fixture
def catalog_with_a_recorded_fee(tmp_path, monkeypatch):
    """The fixture catalog, with a fee amount and its basis recorded for 食品经营许可."""
    target = tmp_path / "catalog"
    shutil.copytree(FIXTURE_CATALOG, target)
    for path in (target / "matters").glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for matter in data.get("matters", []):
            if matter["code"] == "T-SP-XK":
                matter["fee"] = {"free": False, "amount": "每件80元", "basis": "测试收费文件"}
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _load_catalog(target, tmp_path, monkeypatch)
    yield
    catalog_access.reset()


def snapshot(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((Path(__file__).parent / "trackers" / name).read_text(encoding="utf-8")))


def run(name):
    dispatcher = CollectingDispatcher()
    events = ActionAnswer().run(dispatcher, snapshot(name), DOMAIN)
    return dispatcher.messages, events


def rendered(message) -> str:
    template = DOMAIN["responses"][message["response"]][0]["text"]
    return template.format(**{k: v for k, v in message.items() if k not in ("response", "buttons")})


# ---- two aspects in one message -------------------------------------------------------------------------

def test_procedure_and_time_limit_are_both_answered_in_the_order_asked(fixture_catalog):
    messages, events = run("two_aspects_procedure_time.json")
    assert [m["response"] for m in messages] == ["utter_procedure", "utter_time_limit"]
    assert "1. 申请：提交材料" in rendered(messages[0])
    assert "法定办结时限15个工作日" in rendered(messages[1])
    # Buttons once, under the last answer, without the two aspects just answered.
    assert messages[0]["buttons"] == []
    payloads = [b["payload"] for b in messages[1]["buttons"]]
    assert payloads and not [p for p in payloads if p.startswith(("/ask_procedure", "/ask_time_limit"))]
    assert events == [SlotSet("aspect", "time_limit"), SlotSet("matter", "T-GT-SL")]


def test_materials_that_need_situation_questions_come_after_the_other_answer(fixture_catalog):
    messages, events = run("two_aspects_materials_time.json")
    # The list waits for the situation question (asked by the form after this action), so the time limit first.
    assert [m["response"] for m in messages] == ["utter_time_limit", "utter_situation_intro"]
    assert ActiveLoop("situation_form") in events and SlotSet("matter", "T-GT-SL") in events


def test_location_then_unknown_fee_in_the_order_asked(fixture_catalog):
    messages, _ = run("two_aspects_fee_location.json")
    assert [m["response"] for m in messages] == ["utter_location", "utter_unknown_fact"]
    assert "收费标准" in rendered(messages[1]) and "暂时没有登记" in rendered(messages[1])


def test_a_single_aspect_message_is_answered_once(fixture_catalog):
    dispatcher = CollectingDispatcher()
    ActionAnswer().run(dispatcher, snapshot("procedure.json"), DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_procedure"]


# ---- policy amounts and standards ---------------------------------------------------------------------

def test_policy_amount_names_the_matter_says_it_is_not_held_and_where_to_ask(fixture_catalog):
    messages, events = run("policy_amount_named.json")
    assert [m["response"] for m in messages] == ["utter_policy_amount"]
    text = rendered(messages[0])
    assert "食品经营许可" in text and "现行政策" in text and "没有登记" in text
    assert "2F企业服务区，A01-A02号窗口" in text and "0000-1" in text and "转人工" in text
    assert {"title": "转人工", "payload": "/request_human"} in messages[0]["buttons"]
    assert events == [SlotSet("matter", "T-SP-XK"), SlotSet("aspect", "policy_amount")]


def test_policy_amount_gives_the_fee_the_catalog_records_with_its_basis(catalog_with_a_recorded_fee):
    messages, _ = run("policy_amount_named.json")
    assert [m["response"] for m in messages] == ["utter_policy_amount_recorded"]
    text = rendered(messages[0])
    assert "每件80元" in text and "测试收费文件" in text and "现行政策" in text


def test_policy_amount_without_a_matter_still_says_where_to_ask(fixture_catalog):
    messages, events = run("policy_amount_no_matter.json")
    # An old year is no note here: nothing of this hall is stated as the answer.
    assert [m["response"] for m in messages] == ["utter_policy_amount_no_matter"]
    assert "0000-1234567" in rendered(messages[0]) and "转人工" in rendered(messages[0])
    assert events == [SlotSet("aspect", "policy_amount")]


# ---- another place, an earlier year --------------------------------------------------------------------

def test_another_city_is_answered_for_this_hall_and_says_so_once(fixture_catalog):
    messages, _ = run("other_city_conditions.json")
    assert [m["response"] for m in messages] == ["utter_elsewhere_place", "utter_conditions"]
    assert rendered(messages[0]).startswith("以下是本市政务服务大厅的办理要求") and "北京" in rendered(messages[0])


def test_an_old_year_is_answered_with_the_current_rules_and_says_so(fixture_catalog):
    messages, _ = run("old_year_procedure.json")
    assert [m["response"] for m in messages] == ["utter_elsewhere_year", "utter_procedure"]
    assert "2021年" in rendered(messages[0]) and "现行" in rendered(messages[0])


def test_no_note_without_another_place_or_year(fixture_catalog):
    dispatcher = CollectingDispatcher()
    ActionAnswer().run(dispatcher, snapshot("conditions.json"), DOMAIN)
    assert not [m for m in dispatcher.messages if m["response"].startswith("utter_elsewhere")]


@pytest.mark.parametrize("text, place, year", [
    ("陕西省住房公积金个人提取条件是什么", "陕西省", None),
    ("2024年护照换新政策山东", "山东", 2024),
    ("石家庄网约车营运证", "石家庄", None),
    ("2021年生二胎补贴", None, 2021),
    ("北京", "北京", None),
])
def test_find_elsewhere(text, place, year):
    found = find_elsewhere(text, ["测试市政务服务大厅"], today=date(2026, 12, 7))
    assert (found.place, found.year) == (place, year)


@pytest.mark.parametrize("text", ["补贴2000元吗", "拨打12345", "2026年新政", "公积金跨市转移", "营业执照在哪办",
                                  "超市营业执照"])
def test_no_elsewhere(text):
    assert find_elsewhere(text, [], today=date(2026, 12, 7)) is None


def test_the_halls_own_city_is_not_elsewhere():
    assert find_elsewhere("石家庄公积金提取", ["石家庄市政务服务大厅"], today=date(2026, 12, 7)) is None


# ---- AspectCueDetector ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, intent, expected", [
    ("流程是怎样的？一般要多久？", "ask_procedure", ["ask_procedure", "ask_time_limit"]),
    ("要带什么材料，多久能办好", "ask_materials", ["ask_materials", "ask_time_limit"]),
    ("要带什么材料，多久能办好", "ask_time_limit", ["ask_materials", "ask_time_limit"]),
    ("身份证换证流程及费用", "ask_procedure", ["ask_procedure", "ask_fee"]),
    ("失业金领取条件及标准", "ask_conditions", ["ask_conditions", "ask_policy_amount"]),
    # A contribution's amount is a policy amount, not a second (fee) answer.
    ("灵活就业社保怎么交，缴费多少钱", "ask_policy_amount", ["ask_procedure", "ask_policy_amount"]),
    ("居民医保缴费多少钱一年", "ask_policy_amount", []),
    ("公积金提取要多久", "ask_time_limit", []),
    ("网上申请要多久能拿到", "ask_time_limit", []),
    ("翻了好几天都没找着，户口本补办怎么弄", "ask_procedure", []),
    ("要带什么材料，多久能办好", "inform_have", []),  # not an aspect intent: left alone
    ("要带什么材料，多久能办好", "ask_fee", []),  # DIET's intent is not among the cues: no guess
])
def test_asked_aspects(text, intent, expected):
    assert asked_aspects(text, intent) == expected


@pytest.mark.parametrize("text, intent, expected", [
    ("补办户口本需要什么材料", "ask_procedure", "ask_materials"),
    ("排污许可审批期限是多少天", "ask_procedure", "ask_time_limit"),
    ("2021年上的户口要带什么材料", "inform_have", "ask_materials"),  # a year is no checklist position
    ("养老保险最少要交多少年", "ask_policy_amount", "ask_conditions"),  # contribution years qualify
    ("3岁小孩怎么落户", "inform_have", "ask_procedure"),
    ("补办户口本需要什么材料", "ask_materials", None),  # DIET agrees
    ("要带什么材料，多久能办好", "ask_procedure", None),  # two cues: several aspects, not a decision
    ("网上怎么办", "ask_online", None),  # online questions use procedure words
    ("营业执照多少钱", "ask_policy_amount", None),  # fee or policy amount: the subject decides, DIET sees it
    ("要带什么材料", "complain", None),
    ("您好", "ask_procedure", None),
    ("新车上牌流程及费用", "inform_situation", "ask_procedure"),  # several cues, no aspect read: the first
    ("新车上牌流程及费用", "ask_fee", None),  # several cues, DIET's aspect among them: both answered as before
])
def test_a_single_cue_decides_the_aspect(text, intent, expected):
    assert cue_decision(text, intent) == expected


def test_an_overruled_intent_keeps_the_top_confidence_and_is_recorded():
    detector = AspectCueDetector.create({}, None, None, None)
    message = Message(data={TEXT: "补办户口本需要什么材料", "intent": {"name": "ask_procedure", "confidence": 0.8},
                            "intent_ranking": [{"name": "ask_procedure", "confidence": 0.8},
                                               {"name": "ask_materials", "confidence": 0.15},
                                               {"name": "ask_fee", "confidence": 0.05}]})
    detector.process([message])
    assert message.get("intent") == {"name": "ask_materials", "confidence": 0.8}
    assert [(e["name"], e["confidence"]) for e in message.get("intent_ranking")] == [
        ("ask_materials", 0.8), ("ask_procedure", 0.15), ("ask_fee", 0.05)]
    assert message.get("aspect_overruled") == "ask_procedure"
    assert message.get("aspects") is None


RANKING = [{"name": "inform_have", "confidence": 0.6}, {"name": "out_of_scope", "confidence": 0.39}]


@pytest.mark.parametrize("text, expected", [
    ("138 1234 5678", "out_of_scope"),
    ("0311-8888 6666", "out_of_scope"),
    ("2021", "out_of_scope"),
    ("1、3、4", None),
    ("12", None),
    ("我有2021年的证明", None),
    ("1 和 123", None),
])
def test_a_bare_long_number_is_no_checklist_reply(text, expected):
    assert not_positions(text, RANKING) == expected


def test_the_detector_takes_the_next_intent_for_a_phone_number_read_as_positions():
    detector = AspectCueDetector.create({}, None, None, None)
    message = Message(data={TEXT: "138 1234 5678", "intent": {"name": "inform_have", "confidence": 0.6},
                            "intent_ranking": [dict(entry) for entry in RANKING]})
    detector.process([message])
    assert message.get("intent") == {"name": "out_of_scope", "confidence": 0.6}
    assert message.get("aspect_overruled") == "inform_have"


def test_the_detector_adds_aspects_to_the_parse_only_for_several():
    detector = AspectCueDetector.create({}, None, None, None)
    several = Message(data={TEXT: "流程是怎样的？一般要多久？", "intent": {"name": "ask_procedure", "confidence": 0.9}})
    one = Message(data={TEXT: "流程是怎样的", "intent": {"name": "ask_procedure", "confidence": 0.9}})
    detector.process([several, one])
    assert several.get("aspects") == ["ask_procedure", "ask_time_limit"]
    assert "aspects" in several.as_dict(only_output_properties=True)
    assert one.get("aspects") is None


# ---- SentenceEncoderFeaturizer --------------------------------------------------------------------------

class _Context:
    node_name = "SentenceEncoderFeaturizer"


def _featurizer():
    from bot.nlu.sentence_features import SentenceEncoderFeaturizer

    config = {**SentenceEncoderFeaturizer.get_default_config(), "batch_size": 2}
    return SentenceEncoderFeaturizer.create(config, None, None, _Context())


def _sentence_vector(message: Message) -> np.ndarray:
    sequence, sentence = message.get_dense_features(TEXT, [])
    assert sequence is None  # the encoder reads the whole text: no per-token features
    return sentence.features[0]


def test_featurizer_adds_one_normalised_sentence_vector_that_carries_meaning():
    texts = ["失业金多久能到账", "失业保险金几天能打到卡上", "大厅周六上班吗"]
    messages = _featurizer().process([Message(data={TEXT: t}) for t in texts])
    vectors = [_sentence_vector(m) for m in messages]
    assert all(v.shape == (512,) for v in vectors)
    assert all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-4 for v in vectors)
    # Same question in other words is closer than a different question.
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


def test_featurizer_featurizes_training_data_in_batches_and_skips_empty_texts():
    examples = [Message(data={TEXT: t, "intent": "ask_time_limit"}) for t in ("要多久", "几天办好", "多久到账")]
    empty = Message(data={TEXT: "", "intent": "greet"})
    data = TrainingData(training_examples=examples + [empty])
    _featurizer().process_training_data(data)
    assert all(_sentence_vector(m).shape == (512,) for m in examples)
    assert empty.get_dense_features(TEXT, []) == (None, None)
