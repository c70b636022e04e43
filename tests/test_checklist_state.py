"""The checklist is read only while it is open: right after the list, or after a checklist reply.

Once the conversation moved on (那要多久？), the next words are not read against the old list: the bot offers
the list again. Runs action_checklist on tracker snapshots against the real catalog (as test_guide_actions).
"""
from __future__ import annotations

import copy
import json

from test_guide_actions import DOMAIN, TRACKERS, database_url, real_catalog, rendered, run  # noqa: F401 (fixtures)
from rasa_sdk import Tracker

from actions import ActionChecklist
from actions.guide import checklist_open

BASE = json.loads((TRACKERS / "guide_checklist.json").read_text(encoding="utf-8"))  # 个体户, 委托他人代办


def bot(response: str, text: str = "…") -> dict:
    return {"event": "bot", "text": text, "metadata": {"utter_action": response}}


def user(text: str, intent: str) -> list:
    return [{"event": "action", "name": "action_listen"},
            {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}]


def conversation(*turns, last: str = "我有身份证和委托书") -> Tracker:
    """The list and its offer, then `turns` (events), then the person's `last` words (inform_have)."""
    data = copy.deepcopy(BASE)
    data["events"] = [{"event": "action", "name": "action_listen"}, *user("个体户执照要带什么", "ask_materials"),
                      {"event": "action", "name": "action_answer"}, bot("utter_materials_for_situation"),
                      bot("utter_checklist_offer")]
    for turn in turns:
        data["events"].extend(turn)
    data["events"].extend(user(last, "inform_have"))
    data["latest_message"]["text"] = last
    return Tracker.from_dict(data)


HOW_LONG = [*user("那要多久？", "ask_time_limit"), {"event": "action", "name": "action_answer"},
            bot("utter_time_limit")]


def test_right_after_the_list_the_words_are_read():
    tracker = conversation()
    assert checklist_open(tracker)
    messages, _ = run(ActionChecklist(), tracker)
    assert [m["response"] for m in messages] == ["utter_checklist_missing"]
    assert messages[0]["have"] == "经营者身份证、经营者签署的委托书"


def test_after_a_checklist_reply_it_stays_open():
    tracker = conversation([*user("1", "inform_have"), {"event": "action", "name": "action_checklist"},
                            bot("utter_checklist_missing")], last="还有代理人身份证")
    assert checklist_open(tracker)
    messages, _ = run(ActionChecklist(), tracker)
    assert messages[0]["response"] == "utter_checklist_missing"
    assert messages[0]["have"] == "代理人身份证"


def test_after_another_question_the_next_words_are_not_a_checklist_answer():
    tracker = conversation(HOW_LONG)
    assert not checklist_open(tracker)
    messages, events = run(ActionChecklist(), tracker)
    assert events == []
    assert [m["response"] for m in messages] == ["utter_checklist_closed"]
    text = rendered(messages[0])
    assert "「个体工商户设立登记」" in text and "经营者身份证" not in text  # nothing read against the old list
    assert messages[0]["buttons"] == [{"title": "要带什么材料", "payload": '/ask_materials{"matter":"SCJG-GT-SL"}'}]


def test_numbers_after_another_question_are_not_positions_in_the_old_list():
    messages, _ = run(ActionChecklist(), conversation(HOW_LONG, last="1、3"))
    assert [m["response"] for m in messages] == ["utter_checklist_closed"]


def test_the_list_shown_again_opens_it_again():
    tracker = conversation(HOW_LONG, [*user("要带什么材料", "ask_materials"), {"event": "action", "name": "action_answer"},
                                      bot("utter_materials_for_situation"), bot("utter_checklist_offer")])
    assert checklist_open(tracker)
    assert run(ActionChecklist(), tracker)[0][0]["response"] == "utter_checklist_missing"


def test_without_any_list_shown_it_is_closed():
    data = copy.deepcopy(BASE)
    data["events"] = user("我有身份证", "inform_have")
    assert not checklist_open(Tracker.from_dict(data))


def test_the_closed_reply_is_a_domain_response_in_plain_words():
    template = DOMAIN["responses"]["utter_checklist_closed"][0]["text"]
    assert "{matter_name}" in template and "清单" in template


# ---- the same through the running servers (the trained model, the web page's API) ----------------------------

def test_live_second_hand_house_checklist_then_moving_on(live_stack):
    import requests

    from support.stack import web_sender

    sender = web_sender()

    def say(text: str) -> str:
        response = requests.post(f"{live_stack.web_url}/api/chat", json={"sender": sender, "message": text},
                                 timeout=90)
        assert response.status_code == 200, response.text
        return "\n".join(m.get("text") or "" for m in response.json()["messages"])

    answers = {"agent": "self", "seller_marital": "married", "mortgage": "none", "buyer": "one"}
    assert "先问您几个问题" in say('/ask_materials{"matter":"BDC-ZY"}')  # 二手房买卖: the questions first
    for situation, option in answers.items():  # tapped in any order: each button names its question
        listed = say(f'/inform_situation{{"situation_option":"{situation}:{option}"}}')
    assert "卖方配偶的居民身份证" in listed and "您已经准备好了哪些" in listed
    reply = say("我有身份证和不动产权证书")
    have = reply.split("\n")[0]
    assert have.startswith("您已有：买卖双方（含共同登记人）的居民身份证") and "卖方配偶" not in have, reply
    assert "卖方配偶的居民身份证" in reply  # still missing

    assert "办理时限" in say("那要多久？")
    after = say("我有身份证")
    assert "再看一次清单" in after and "您已有：" not in after, after  # not read against the old list
