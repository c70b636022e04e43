"""socket.io end to end: a python-socketio client against the real Rasa server with the trained model.

The channel is bot.channels.socketio.SocketIOInput (credentials.yml), the one standard widgets connect to.
"""
from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from bot.channels.socketio import clean_message, clean_metadata, markdown_breaks
from bot.limits import MESSAGE_MAX_CHARS as MAX_MESSAGE_CHARS
from bot.texts import DomainTexts
from conftest import REPO_ROOT
from support.socketio import WidgetClient, has_buttons, text_of
from support.stack import rasa_api_params

TEXTS = DomainTexts.load(REPO_ROOT / "domain.yml")


@pytest.fixture
def widget(live_stack):
    clients = []

    def open_client(session_id=None) -> WidgetClient:
        client = WidgetClient(live_stack.rasa_url, session_id)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


def tracker(rasa_url: str, sender: str) -> dict:
    token = rasa_api_params()["token"]
    with urllib.request.urlopen(f"{rasa_url}/conversations/{sender}/tracker?token={token}", timeout=30) as resp:
        return json.loads(resp.read())


def user_texts_when(rasa_url: str, sender: str, done, timeout: float = 60.0) -> list:
    """The person's texts in Rasa's tracker, once done(texts) holds (replies go out before the tracker is saved)."""
    deadline = time.monotonic() + timeout
    while True:
        events = tracker(rasa_url, sender)["events"]
        texts = [e["text"] for e in events if e["event"] == "user"]
        if done(texts):
            assert all(e.get("input_channel") == "socketio" for e in events if e["event"] == "user")
            return texts
        if time.monotonic() > deadline:
            raise AssertionError(f"the tracker of {sender} never showed it: {texts!r}")
        time.sleep(0.2)


def test_credentials_register_our_channel_in_place_of_rasas():
    import yaml

    credentials = yaml.safe_load((REPO_ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert "socketio" not in credentials
    ours = credentials["bot.channels.socketio.SocketIOInput"]
    assert ours == {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
                    "session_persistence": True}


def test_a_materials_question_a_button_and_the_list_then_a_reconnect_keeps_the_conversation(widget, live_stack):
    first = widget()
    assert first.connect() == first.session_id

    first.say("结婚登记要带什么材料")
    asked = first.wait_for(has_buttons)
    question = asked[-1]
    assert "现役军人" in question["text"]
    titles = {button["title"]: button["payload"] for button in question["buttons"]}
    assert "quick_replies" not in question  # rasa-webchat hides quick replies once another message arrives
    assert set(titles) == {"没有", "有现役军人"}

    first.say(titles["没有"])  # what a widget sends when the button is tapped
    listed = first.wait_for(lambda m: "custom" in m)
    answer = text_of(listed)
    assert "「内地居民结婚登记」需要准备以下材料（共3项" in answer
    assert "本人居民身份证" in answer and "军人婚姻登记证明" not in answer
    assert "一次性告知）：  \n1. 本人居民身份证" in answer  # one line each, also in a Markdown widget
    assert listed[-1]["custom"]["checklist"]["items"][0]["index"] == 1
    first.close()

    # The same session id after a reconnect: the conversation (and the matter) is kept.
    again = widget(first.session_id)
    assert again.connect() == first.session_id
    again.say("那要多久？")
    reply = again.wait_for(lambda m: "内地居民结婚登记" in m.get("text", ""))
    assert "办理时限" in reply[-1]["text"]

    said = user_texts_when(live_stack.rasa_url, first.session_id, lambda texts: texts[-1:] == ["那要多久？"])
    assert said[0] == "结婚登记要带什么材料"


def test_each_session_gets_only_its_own_replies(widget):
    one, two = widget(), widget()
    one.connect()
    two.connect()
    one.say("公积金提取要带什么")
    two.say("你好")
    assert "公积金" in text_of(one.wait_for(has_buttons))
    greeting = two.wait_for(lambda m: bool(m.get("text")))
    assert "公积金" not in text_of(greeting)


def test_a_fresh_session_id_when_the_widget_sends_none_or_a_bad_one(widget):
    for request in (None, {}, "not a dict", ["x"], {"session_id": 7}, {"session_id": "x" * 500},
                    {"session_id": "<script>"}):
        client = widget()
        confirmed = client.connect(request)
        assert isinstance(confirmed, str) and len(confirmed) == 32 and confirmed.isalnum(), request
        client.close()


@pytest.mark.parametrize("payload", ["营业执照要带什么", 42, ["message"], {"session_id": "S"},
                                     {"message": 12}, {"message": ""}, {"message": "   \x00\x01 "}])
def test_a_malformed_message_gets_a_polite_answer(widget, payload):
    client = widget()
    client.connect()
    if isinstance(payload, dict):
        payload = {**payload, "session_id": client.session_id}
    client.send(payload)
    reply = client.wait_for(lambda m: True)
    assert reply == [{"text": TEXTS.render("utter_channel_bad_message")}]


def test_a_widget_opened_without_an_initial_payload_is_not_answered(widget):
    client = widget()
    client.connect()
    client.send({"message": None, "customData": {"language": "zh"}, "session_id": client.session_id})
    client.say("你好")  # the next reply is the greeting: nothing came for the first message
    assert client.wait_for(lambda m: True)[0]["text"] != TEXTS.render("utter_channel_bad_message")


def test_a_message_without_a_session_gets_a_polite_answer(widget):
    client = widget()
    client.connect()
    for payload in ({"message": "你好"}, {"message": "你好", "session_id": ""}, {"message": "你好", "session_id": {}}):
        client.send(payload)
        assert client.wait_for(lambda m: True) == [{"text": TEXTS.render("utter_channel_no_session")}]


def test_a_very_long_message_is_cut_before_nlu_and_answered(widget, live_stack):
    client = widget()
    client.connect()
    client.say("营业执照要带什么" * 2500)  # 20,000 characters
    first = client.wait_for(lambda m: bool(m.get("text")))
    assert first[0]["text"].startswith("您发来的消息太长了") and str(MAX_MESSAGE_CHARS) in first[0]["text"]
    said = user_texts_when(live_stack.rasa_url, client.session_id, bool)
    assert said == ["营业执照要带什么" * (MAX_MESSAGE_CHARS // 8)]
    # The server is still there for the next person.
    other = widget()
    other.connect()
    other.say("你好")
    assert other.wait_for(lambda m: bool(m.get("text")))


def test_the_channel_never_leaves_a_coroutine_unawaited(live_stack, widget):
    client = widget()
    client.connect()
    client.say("你好")
    client.wait_for(lambda m: bool(m.get("text")))
    log = (live_stack.log_dir / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "was never awaited" not in log
    assert "bot/channels/socketio.py" not in log  # no traceback through our channel


def test_cleaning_helpers():
    assert clean_message("  你好\x00 ") == ("你好", False)
    assert clean_message("字" * 5000) == ("字" * MAX_MESSAGE_CHARS, True)
    assert clean_message("\x01\x02") == (None, False) and clean_message(3) == (None, False)
    assert clean_metadata('{"a": 1}') == {"a": 1}
    assert markdown_breaks("a\nb\n\nc\nd") == "a  \nb\n\nc  \nd"
    assert clean_metadata("not json") == {} and clean_metadata([1]) == {} and clean_metadata(None) == {}
    assert uuid.UUID(WidgetClient("http://x").session_id)
