"""Custom actions on tracker snapshots (tests/trackers/*.json) against a real SQLite catalog.

Each test asserts the events and the response names, and renders the response with the domain's own
template, so a variable missing from an action's call fails here.
"""

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import ActionAnswer, ActionComplaintInfo, ActionHumanHelp, ActionSituationList

from support.actions import DOMAIN, ROOT, fixture_catalog, rendered, run, snapshot  # noqa: F401 (fixture_catalog: autouse)


def test_materials_that_depend_on_the_situation_ask_first_then_list_completely():
    messages, events = run(ActionAnswer(), "materials_named.json")
    # 情形引导: the list depends on who applies, so the questions come first (actions/guide.py).
    assert [m["response"] for m in messages] == ["utter_situation_intro"]
    assert events == [SlotSet("aspect", "materials"), SlotSet("matter", "T-GT-SL"), SlotSet("guide_matter", "T-GT-SL"),
                      SlotSet("situation_answers", {}), SlotSet("situation_answer", None),
                      SlotSet("requested_slot", None), ActiveLoop("situation_form")]
    tracker = snapshot("materials_named.json")
    tracker.slots.update({"matter": "T-GT-SL", "guide_matter": "T-GT-SL", "situation_answers": {"agent": "agent"}})
    dispatcher = CollectingDispatcher()
    ActionSituationList().run(dispatcher, tracker, DOMAIN)
    messages = dispatcher.messages
    # Then its bundle and related matters (tests/test_bundles_actions.py), then the checklist offer.
    assert [m["response"] for m in messages] == ["utter_materials_for_situation", "utter_bundle_offer", "utter_related",
                                                 "utter_checklist_offer"]
    text = rendered(messages[0])
    assert "个体工商户设立登记" in text and "共3项" in text and "委托他人代办" in text
    assert "1. 申请书（原件1份）" in text
    assert "2. 经营者身份证（原件1份、复印件1份）" in text
    assert "3. 委托书（原件1份）" in text and "【" not in text
    assert "2F企业服务区，A01-A02号窗口" in text
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert '/ask_time_limit{"matter":"T-GT-SL"}' in payloads
    assert not any(p.startswith("/ask_materials") for p in payloads)


def test_follow_up_keeps_the_matter_from_context():
    messages, events = run(ActionAnswer(), "time_limit_follow_up.json")
    assert [m["response"] for m in messages] == ["utter_time_limit"]
    assert events == [SlotSet("matter", "T-GT-SL"), SlotSet("aspect", "time_limit")]
    assert rendered(messages[0]).endswith("法定办结时限15个工作日；即办（材料齐全当场办结）")


def test_unknown_fact_is_said_to_be_unknown_with_window_and_phone():
    messages, _ = run(ActionAnswer(), "time_limit_unknown.json")
    assert [m["response"] for m in messages] == ["utter_unknown_fact"]
    text = rendered(messages[0])
    assert "食品经营许可" in text and "办理时限" in text and "暂时没有登记" in text
    assert "0000-1" in text and "A01-A02" in text and "转人工" in text


def test_aspect_without_matter_asks_which_matter_and_remembers_the_aspect():
    messages, events = run(ActionAnswer(), "materials_no_matter.json")
    assert [m["response"] for m in messages] == ["utter_ask_matter"]
    assert events == [SlotSet("aspect", "materials")]


def test_hours_without_matter_answers_for_the_hall():
    messages, events = run(ActionAnswer(), "hours_no_matter.json")
    assert [m["response"] for m in messages] == ["utter_hall_hours"]
    assert events == []
    assert "周一至周五 9:00-17:00" in rendered(messages[0])


def test_button_choice_answers_the_pending_aspect():
    messages, events = run(ActionAnswer(), "choose_from_button.json")
    # The pending aspect is materials, which for this matter depend on the situation: questions first.
    assert [m["response"] for m in messages] == ["utter_situation_intro"]
    assert SlotSet("matter", "T-GT-SL") in events and ActiveLoop("situation_form") in events


def test_bundle_lists_members_as_buttons():
    messages, events = run(ActionAnswer(), "bundle.json")
    assert [m["response"] for m in messages] == ["utter_bundle"]
    assert events == [SlotSet("bundle", "T-YJS"), SlotSet("aspect", "materials")]
    assert [b["title"] for b in messages[0]["buttons"]] == ["个体工商户设立登记", "食品经营许可"]
    assert messages[0]["buttons"][0]["payload"] == '/choose_matter{"matter":"T-GT-SL"}'
    assert "1. 个体工商户设立登记\n2. 食品经营许可" in rendered(messages[0])


def test_not_understood_without_matter_says_what_the_bot_can_do():
    messages, events = run(ActionAnswer(), "fallback_emoji.json")
    assert [m["response"] for m in messages] == ["utter_default"]
    assert events == []


@pytest.mark.parametrize("snapshot_name, response, expected", [
    ("fee_free.json", "utter_fee", "不收费"),
    ("online.json", "utter_online", "可以全程网上办理，不用跑大厅。网办入口：https://example.org/"),
    ("location.json", "utter_location", "2F企业服务区，A01-A02号窗口"),
    ("procedure.json", "utter_procedure", "1. 申请：提交材料\n2. 发照：当场发照\n\n无需到现场"),
    ("conditions.json", "utter_conditions", "1. 有经营能力的公民"),
    ("overview.json", "utter_matter_overview", "实施部门：测试市市场监督管理局（行政许可）"),
])
def test_each_aspect_is_rendered_from_the_catalog(snapshot_name, response, expected):
    messages, _ = run(ActionAnswer(), snapshot_name)
    assert messages[0]["response"] == response  # an overview is followed by offers (test_bundles_actions.py)
    assert expected in rendered(messages[0])


def test_human_help_and_complaint_point_to_the_hall_places():
    messages, _ = run(ActionHumanHelp(), "materials_no_matter.json")
    assert [m["response"] for m in messages] == ["utter_human_help"]
    assert "2F企业服务区，A01-A02号窗口" in rendered(messages[0]) and "0000-1234567" in rendered(messages[0])
    messages, _ = run(ActionComplaintInfo(), "materials_no_matter.json")
    assert [m["response"] for m in messages] == ["utter_complaint_info"]


def test_every_fragment_used_by_actions_exists_in_the_domain():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "actions").glob("*.py"))
    import re
    used = set(re.findall(r'self\("([a-z_]+)"', source)) | set(re.findall(r'\bf\("([a-z_]+)"', source))
    missing = [name for name in used if f"utter_fragment_{name}" not in DOMAIN["responses"]]
    assert not missing
