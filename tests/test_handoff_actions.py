"""The pieces of actions/handoff.py that need no server: transcript, summary, callback numbers, texts."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker

from actions.handoff import normalise_phone, situation, summary, transcript
from bot.texts.catalog import Fragments
from bot.handoff.runtime import HANDOFF_TEXTS as REQUIRED

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def tracker(events, slots=None) -> Tracker:
    return Tracker("person-1", slots or {}, {"intent": {"name": "request_human"}, "text": "转人工"}, events, False,
                   None, {}, "action_listen")


def user(text, intent):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}, "timestamp": 1.0}


def bot(text):
    return {"event": "bot", "text": text, "timestamp": 2.0}


def test_transcript_is_this_session_in_order_with_intents():
    events = [user("旧会话", "greet"), {"event": "session_started"}, user("/greet", "greet"), bot("您好"),
              user("公积金提取要带什么", "ask_materials"), bot("材料如下"), user("转人工", "request_human")]
    lines = transcript(tracker(events))
    assert [(l["who"], l["text"], l.get("intent")) for l in lines] == [
        ("person", "/greet", "greet"), ("bot", "您好", None), ("person", "公积金提取要带什么", "ask_materials"),
        ("bot", "材料如下", None), ("person", "转人工", "request_human")]


def test_summary_names_the_matter_the_aspects_asked_and_the_reason():
    events = [user("公积金提取要带什么", "ask_materials"), user("要多久", "ask_time_limit"),
              user("要带什么", "ask_materials"), user("转人工", "request_human")]
    text = summary(tracker(events), Fragments(DOMAIN), "住房公积金提取", "request_human")
    assert text == "事项：住房公积金提取；问过：所需材料、办理时限；转人工原因：本人要求转人工"
    assert summary(tracker([]), Fragments(DOMAIN), None, "complain") == \
        "事项：未确定；问过：未问具体问题；转人工原因：反映“办不成事”"


def test_every_reason_has_a_label():
    from bot.handoff.records import REASONS
    for reason in REASONS:
        assert Fragments(DOMAIN)(f"handoff_reason_{reason}")


@pytest.mark.parametrize("raw, expected", [
    ("13812345678", "13812345678"), ("138 1234 5678", "13812345678"), ("138-1234-5678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"), ("１３８１２３４５６７８", "13812345678"), ("我的电话13812345678", "13812345678"),
    ("0311-12345678", "031112345678"), ("010 87654321", "01087654321"),
    ("12345", None), ("23812345678", None), ("", None), ("不方便留", None),
])
def test_callback_numbers(raw, expected):
    assert normalise_phone(raw) == expected


def test_situation_answers_are_collected_from_situation_slots():
    assert situation(tracker([], {"situation": {"agent": "self"}, "situation_type": "llc", "matter": "X"})) == \
        {"agent": "self", "situation_type": "llc"}
    assert situation(tracker([], {"matter": "X"})) is None


def test_texts_the_web_server_says_are_in_the_domain_with_their_variables():
    responses = DOMAIN["responses"]
    for name in REQUIRED:
        assert name in responses, name
    variables = {name: set(re.findall(r"{(\w+)}", responses[name][0]["text"])) for name in REQUIRED}
    assert variables["utter_handoff_position"] == {"position", "minutes"}
    assert variables["utter_handoff_claimed"] == {"helper_name", "staff_no"}
    assert "前面还有 {position} 位，预计等待 {minutes} 分钟" in responses["utter_handoff_queued"][0]["text"]
    assert responses["utter_handoff_queued"][0]["text"].startswith("已为您转接")


def test_no_chinese_sentence_lives_in_the_handoff_code():
    """Every sentence a person or helper sees from the bot is a domain response (console labels: HTML)."""
    import ast

    cjk = re.compile(r"[\u4e00-\u9fff]")
    for path in list((ROOT / "bot" / "handoff").glob("*.py")) + [ROOT / "actions" / "handoff.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body \
                    and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                docstrings.add(id(node.body[0].value))
        offending = [(path.name, node.lineno, node.value) for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                     and cjk.search(node.value) and node.value != "帮办代办"]  # the catalog's flag name
        assert not offending, offending


@pytest.mark.parametrize("slots, intent, flags, expected", [
    ({"handoff_reason": "low_rating"}, "affirm", (), "low_rating"),   # the rating feature's hook
    ({}, "complain", ("帮办代办",), "complain"),
    ({"handoff_offered": True}, "affirm", (), "fallback"),
    ({}, "request_human", ("帮办代办",), "assisted"),
    ({}, "request_human", (), "request_human"),
])
def test_the_reason_of_a_handoff(slots, intent, flags, expected):
    from actions.handoff import ActionHandoff

    t = Tracker("person-1", slots, {"intent": {"name": intent}, "text": "x"}, [], False, None, {}, "action_listen")
    assert ActionHandoff()._reason(t, flags) == expected
