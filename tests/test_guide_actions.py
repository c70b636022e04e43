"""情形引导 and 一次性告知单 actions on tracker snapshots (tests/trackers/guide_*.json), against the real
catalog loaded into a fresh SQLite database. Asserts events, response names and the rendered texts."""
import asyncio
import json
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop
from rasa_sdk.executor import CollectingDispatcher

from actions import (ActionAnswer, ActionAskSituationAnswer, ActionChangeSituation, ActionChecklist,
                     ActionSituationList, ValidateSituationForm, catalog_access)
from actions.handoff import situation
from knowledge import make_engine
from knowledge.loader import load

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
TRACKERS = Path(__file__).parent / "trackers"
PUBLIC = "https://zwfw.example.gov.cn"
COMPANY = {"kind": "matter", "code": "SCJG-QY-SL", "name": "公司设立登记（有限责任公司、股份有限公司）", "score": 18.0}
COMPANY_ENTITY = {"entity": "matter", "start": 4, "end": 6, "value": "SCJG-QY-SL", "extractor": "CatalogMatterExtractor"}
INDIVIDUAL = {"kind": "matter", "code": "SCJG-GT-SL", "name": "个体工商户设立登记", "score": 18.0}
INDIVIDUAL_ENTITY = {"entity": "matter", "start": 4, "end": 7, "value": "SCJG-GT-SL",
                     "extractor": "CatalogMatterExtractor"}


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('guide') / 'catalog.sqlite3'}"
    load(make_engine(url))
    return url


@pytest.fixture(autouse=True)
def real_catalog(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PUBLIC_URL", PUBLIC)
    catalog_access.reset()
    yield
    catalog_access.reset()


def snapshot(name: str, text=None, intent=None, slots=None, entities=None, candidates=None) -> Tracker:
    data = json.loads((TRACKERS / name).read_text(encoding="utf-8"))
    message = data["latest_message"]
    if text is not None:
        message["text"] = text
        for event in data["events"]:
            if event.get("event") == "user":
                event["text"] = text
            if event.get("event") == "slot" and event.get("name") == "situation_answer":
                event["value"] = text
        if "situation_answer" in data["slots"] and data["slots"]["situation_answer"] is not None:
            data["slots"]["situation_answer"] = text
    if intent is not None:
        message["intent"]["name"] = intent
    if entities is not None:
        message["entities"] = entities
    if candidates is not None:
        message["matter_candidates"] = candidates
    data["slots"].update(slots or {})
    return Tracker.from_dict(data)


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, tracker, DOMAIN)
    events = asyncio.run(result) if asyncio.iscoroutine(result) else result
    return dispatcher.messages, events


def rendered(message) -> str:
    template = DOMAIN["responses"][message["response"]][0]["text"]
    return template.format(**{k: v for k, v in message.items() if k not in ("response", "buttons")})


def slot_values(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


# ---- the questions ----------------------------------------------------------------------------------

def test_an_answer_in_the_first_message_is_kept_and_the_questions_start():
    messages, events = run(ActionAnswer(), snapshot("guide_materials_for_father.json"))
    assert [m["response"] for m in messages] == ["utter_situation_intro"]
    assert "个体工商户设立登记" in rendered(messages[0]) and "最多2个" in rendered(messages[0])
    assert slot_values(events) == {"aspect": "materials", "matter": "SCJG-GT-SL", "guide_matter": "SCJG-GT-SL",
                                   "situation_answers": {"agent": "agent"}, "situation_answer": None,
                                   "requested_slot": None}
    assert events[-1] == ActiveLoop("situation_form")  # the questions run next


def test_one_open_question_is_announced_as_one_not_as_at_most_one():
    tracker = snapshot("guide_materials_for_father.json", text="结婚登记要带什么材料",
                       entities=[{"entity": "matter", "value": "MZJ-HY-JH", "extractor": "CatalogMatterExtractor"}],
                       candidates=[{"kind": "matter", "code": "MZJ-HY-JH", "name": "内地居民结婚登记", "score": 20.0}])
    messages, _ = run(ActionAnswer(), tracker)
    assert [m["response"] for m in messages] == ["utter_situation_intro"]
    assert "先问您一个问题。" in rendered(messages[0]) and "最多" not in rendered(messages[0])


def test_an_answer_in_the_question_before_the_which_matter_buttons_is_kept():
    tracker = snapshot("guide_materials_for_father.json", text='/choose_matter{"matter":"SCJG-GT-SL"}',
                       intent="choose_matter", candidates=[],
                       entities=[{"entity": "matter", "value": "SCJG-GT-SL", "extractor": "RegexMessageHandler"}],
                       slots={"aspect": "materials"})
    tracker.events = [{"event": "user", "text": "营业执照要带啥，帮我妈办的"}, {"event": "bot", "text": "您问的是哪一项？"},
                      {"event": "user", "text": '/choose_matter{"matter":"SCJG-GT-SL"}'}]
    messages, events = run(ActionAnswer(), tracker)
    assert [m["response"] for m in messages] == ["utter_situation_intro"]
    assert slot_values(events)["situation_answers"] == {"agent": "agent"}


def test_the_next_question_is_asked_with_the_catalog_options_as_buttons():
    tracker = snapshot("guide_form_reply.json", slots={"situation_answer": None})
    messages, events = run(ActionAskSituationAnswer(), tracker)
    assert [m["response"] for m in messages] == ["utter_ask_situation"]
    assert rendered(messages[0]) == "是一个人经营，还是家庭共同经营？"
    assert messages[0]["buttons"] == [
        {"title": "个人经营", "payload": '/inform_situation{"situation_option":"form:individual"}'},
        {"title": "家庭经营", "payload": '/inform_situation{"situation_option":"form:family"}'}]
    assert events == []


def test_a_free_text_reply_answers_and_the_form_goes_on():
    messages, events = run(ValidateSituationForm(), snapshot("guide_form_reply.json"))
    assert messages == []
    values = slot_values(events)
    assert values["situation_answers"] == {"agent": "agent", "form": "family"}
    assert values["situation_answer"] is None
    assert "requested_slot" not in values  # prior still changes the list: the form asks it next


def test_a_button_payload_answers():
    payload_entity = {"entity": "situation_option", "value": "form:individual", "extractor": "RegexMessageHandler"}
    tracker = snapshot("guide_form_reply.json", text='/inform_situation{"situation_option":"form:individual"}',
                       entities=[payload_entity])
    _, events = run(ValidateSituationForm(), tracker)
    assert slot_values(events)["situation_answers"] == {"agent": "agent", "form": "individual"}


def test_the_last_answer_ends_the_form():
    tracker = snapshot("guide_form_reply.json", text="不涉及",
                       slots={"situation_answers": {"agent": "agent", "form": "individual"}})
    _, events = run(ValidateSituationForm(), tracker)
    values = slot_values(events)
    assert values["situation_answers"] == {"agent": "agent", "form": "individual", "prior": "no"}
    assert values["requested_slot"] is None


def test_changing_an_earlier_answer_mid_form():
    tracker = snapshot("guide_form_reply.json", text="不对，是我自己办", intent="change_answer")
    _, events = run(ValidateSituationForm(), tracker)
    assert slot_values(events)["situation_answers"] == {"agent": "self"}


def test_a_reply_that_answers_nothing_is_asked_again():
    tracker = snapshot("guide_form_reply.json", text="嗯嗯", intent="affirm")
    messages, events = run(ValidateSituationForm(), tracker)
    assert [m["response"] for m in messages] == ["utter_situation_not_matched"]
    assert slot_values(events)["situation_answers"] == {"agent": "agent"}


def test_other_requests_are_not_replies_so_the_form_is_rejected():
    # Not mapped to situation_answer: Rasa finds nothing to validate and rejects the form (rules leave it).
    mapping = DOMAIN["slots"]["situation_answer"]["mappings"][0]
    for intent in ("request_human", "complain", "ask_location", "ask_time_limit", "ask_materials", "goodbye"):
        assert intent in mapping["not_intent"]
    for intent in ("inform_situation", "change_answer", "inform_matter", "deny", "affirm", "inform_have"):
        assert intent not in mapping["not_intent"]
    tracker = snapshot("guide_form_reply.json", text="转人工", intent="request_human")
    tracker.events = [e for e in tracker.events if e.get("event") != "slot" or e.get("name") != "situation_answer"]
    tracker.slots["situation_answer"] = None
    messages, events = run(ValidateSituationForm(), tracker)
    assert messages == [] and events == []


def test_naming_another_matter_mid_form_moves_the_questions_and_keeps_answers_that_mean_the_same():
    tracker = snapshot("guide_form_reply.json", text="不对，是公司", intent="change_answer",
                       entities=[COMPANY_ENTITY], candidates=[COMPANY])
    messages, events = run(ValidateSituationForm(), tracker)
    assert [m["response"] for m in messages] == ["utter_situation_matter_changed"]
    assert "公司设立登记" in rendered(messages[0])
    values = slot_values(events)
    assert values["matter"] == values["guide_matter"] == "SCJG-QY-SL"
    assert values["situation_answers"] == {"agent": "agent"}


# ---- the list and changes after it ------------------------------------------------------------------

ANSWERED = {"matter": "SCJG-GT-SL", "guide_matter": "SCJG-GT-SL",
            "situation_answers": {"agent": "agent", "form": "individual", "prior": "no"}}


def test_the_list_is_complete_for_the_situation_and_offers_the_checklist():
    messages, events = run(ActionSituationList(), snapshot("guide_checklist.json", slots=ANSWERED))
    # The matter's 一件事 and related matters (actions/follow_ups.py) come between the list and the checklist.
    assert [m["response"] for m in messages] == ["utter_materials_for_situation", "utter_bundle_offer", "utter_related",
                                                 "utter_checklist_offer"]
    text = rendered(messages[0])
    assert text.startswith("按您的情况（个人经营，委托他人代办，不涉及（大多数行业属于此类））")
    assert "共5项" in text and "家庭成员" not in text and "前置审批" not in text
    assert "4. 经营者签署的委托书（原件1份）" in text and "5. 代理人身份证（复印件1份）" in text
    checklist = messages[-1]["custom"]["checklist"]
    assert [item["index"] for item in checklist["items"]] == [1, 2, 3, 4, 5]
    assert checklist["items"][1]["name"] == "经营者身份证"
    assert checklist["submit"] and checklist["none"] and checklist["label"]
    assert events == []


def test_after_the_list_a_changed_answer_redoes_it():
    tracker = snapshot("guide_checklist.json", text="不对，是我自己去办的", intent="change_answer", slots=ANSWERED)
    messages, events = run(ActionChangeSituation(), tracker)
    assert [m["response"] for m in messages] == ["utter_situation_changed", "utter_materials_for_situation",
                                                 "utter_bundle_offer", "utter_related", "utter_checklist_offer"]
    assert "经营者本人办理" in rendered(messages[0])
    assert "委托书" not in rendered(messages[1]) and "共3项" in rendered(messages[1])
    assert slot_values(events)["situation_answers"] == {"agent": "self", "form": "individual", "prior": "no"}
    assert ActiveLoop("situation_form") not in events


def test_after_the_list_gai_yi_xia_asks_again_from_the_start():
    tracker = snapshot("guide_checklist.json", text="改一下", intent="change_answer", slots=ANSWERED)
    messages, events = run(ActionChangeSituation(), tracker)
    assert [m["response"] for m in messages] == ["utter_situation_restart", "utter_situation_intro"]
    assert slot_values(events)["situation_answers"] == {}
    assert events[-1] == ActiveLoop("situation_form")


def test_after_the_list_bu_dui_shi_ge_ti_hu_changes_the_matter():
    company = {"matter": "SCJG-QY-SL", "guide_matter": "SCJG-QY-SL",
               "situation_answers": {"company_type": "llc", "agent": "agent"}}
    tracker = snapshot("guide_checklist.json", text="不对，是个体户", intent="change_answer", slots=company,
                       entities=[INDIVIDUAL_ENTITY], candidates=[INDIVIDUAL])
    messages, events = run(ActionChangeSituation(), tracker)
    assert [m["response"] for m in messages] == ["utter_situation_matter_changed", "utter_situation_intro"]
    assert "个体工商户设立登记" in rendered(messages[0])
    values = slot_values(events)
    assert values["matter"] == "SCJG-GT-SL" and values["situation_answers"] == {"agent": "agent"}
    assert events[-1] == ActiveLoop("situation_form")


# ---- 一次性告知单 -------------------------------------------------------------------------------------

def test_checklist_by_names_says_exactly_what_is_missing_how_to_get_it_and_the_notice_link():
    messages, events = run(ActionChecklist(), snapshot("guide_checklist.json"))
    assert events == []
    assert [m["response"] for m in messages] == ["utter_checklist_missing"]
    text = rendered(messages[0])
    assert "您已有：经营者身份证、经营者签署的委托书。" in text
    assert "还缺以下3项" in text
    assert "1. 《个体工商户登记（备案）申请书》（原件1份）——由经营者签字" in text  # the catalog's note
    assert "3. 经营场所使用相关文件" in text and "5. 代理人身份证" in text
    assert "2. 经营者身份证" not in text and "4. 经营者签署的委托书" not in text
    assert text.endswith(f"{PUBLIC}/notice/SCJG-GT-SL?s=agent:agent,form:individual,prior:no&have=2,4")


@pytest.mark.parametrize("text, have", [("1、3、4", "1,3,4"), ("1 3 4", "1,3,4"), ("第1和第3项", "1,3")])
def test_checklist_by_numbers(text, have):
    messages, _ = run(ActionChecklist(), snapshot("guide_checklist.json", text=text))
    assert [m["response"] for m in messages] == ["utter_checklist_missing"]
    assert rendered(messages[0]).endswith(f"&have={have}")


def test_checklist_complete_and_nothing():
    messages, _ = run(ActionChecklist(), snapshot("guide_checklist.json", text="1、2、3、4、5"))
    assert [m["response"] for m in messages] == ["utter_checklist_complete"]
    assert "材料都齐了（共5项）" in rendered(messages[0]) and "A01-A10" in rendered(messages[0])
    messages, _ = run(ActionChecklist(), snapshot("guide_checklist.json", text="都没有"))
    text = rendered(messages[0])
    assert "您已有：暂无" in text and "还缺以下5项" in text
    assert text.endswith("/notice/SCJG-GT-SL?s=agent:agent,form:individual,prior:no")


@pytest.mark.parametrize("text", ["好的呀", "😀", "'; DROP TABLE matters; --", "<img src=x onerror=alert(1)>"])
def test_checklist_bad_input_asks_for_numbers(text):
    messages, _ = run(ActionChecklist(), snapshot("guide_checklist.json", text=text))
    assert [m["response"] for m in messages] == ["utter_checklist_not_understood"]
    assert "1到5" in rendered(messages[0])


def test_checklist_without_a_list_asks_for_the_matter():
    tracker = snapshot("guide_checklist.json", slots={"matter": None, "guide_matter": None, "situation_answers": None})
    messages, _ = run(ActionChecklist(), tracker)
    assert [m["response"] for m in messages] == ["utter_checklist_no_list"]


def test_helpers_get_the_answers_but_not_the_bookkeeping_slots():
    tracker = snapshot("guide_checklist.json")
    assert situation(tracker) == {"agent": "agent", "form": "individual", "prior": "no"}
