"""The citizen chat API: replies, bad input, security headers.

Two layers in one file (tests/conftest.py marks each test by its fixtures): what the web server does by itself
(validation, 4xx answers, sizes, headers, the page, its log) runs on our real web app in this process in front
of the Rasa stand-in (`web_on_standin`) or of no Rasa (`web_without_rasa`), while the model trains; what needs
the real bot's answers runs on the shared stack (`live_stack`)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge import make_engine, models
from support.stack import rasa_api_params, web_sender

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")


def new_sender() -> str:
    return web_sender()


_NEW = object()


def chat(live_stack, message, sender=_NEW, **kwargs) -> requests.Response:
    return post_chat(live_stack.web_url, message, sender, **kwargs)


def post_chat(base_url: str, message, sender=_NEW, **kwargs) -> requests.Response:
    payload = {"sender": new_sender() if sender is _NEW else sender, "message": message}
    return requests.post(f"{base_url}/api/chat", json=payload, timeout=TIMEOUT, **kwargs)


def post_raw(base_url: str, body: bytes, content_type="application/json") -> requests.Response:
    return requests.post(
        f"{base_url}/api/chat", data=body, headers={"Content-Type": content_type}, timeout=TIMEOUT
    )


def assert_well_formed(messages):
    assert isinstance(messages, list)
    for m in messages:
        assert set(m) == {"text", "buttons", "image"}
        assert m["text"] is None or isinstance(m["text"], str)
        assert m["image"] is None or isinstance(m["image"], str)
        assert isinstance(m["buttons"], list)
        for b in m["buttons"]:
            assert isinstance(b["title"], str) and b["title"]
            assert isinstance(b["payload"], str) and b["payload"]


def reply_texts(resp: requests.Response) -> list:
    data = resp.json()
    assert_well_formed(data["messages"])
    return [m["text"] for m in data["messages"] if m["text"]]


def assert_polite_reply(resp: requests.Response, sent: str = ""):
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    texts = reply_texts(resp)
    assert texts, f"no text in the reply: {resp.text}"
    for text in texts:
        # Internals or unfilled template slots must not reach a citizen (unless they echo the input).
        for leak in ("Traceback", "Exception", "sqlite", "SQL", "OperationalError", "None", "{", "}"):
            if leak in sent:
                continue
            assert leak not in text, f"{leak!r} leaked into a reply: {text!r}"


def assert_clean_4xx(resp: requests.Response, status=400):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert isinstance(resp.json().get("error"), str)


def assert_still_answers(live_stack):
    assert_polite_reply(chat(live_stack, "你好"))
    health = requests.get(f"{live_stack.web_url}/healthz", timeout=TIMEOUT)
    assert health.json() == {"web": "ok", "rasa": "ok"}
    assert requests.get(f"{live_stack.action_url}/health", timeout=TIMEOUT).status_code == 200


# --- replies -------------------------------------------------------------------------------------


def test_greeting_gets_a_reply(live_stack):
    assert_polite_reply(chat(live_stack, "/greet"))
    assert_polite_reply(chat(live_stack, "你好"))


def test_message_reaches_rasa_unchanged(live_stack):
    sender = new_sender()
    first = chat(live_stack, "我想开个饭店，要办哪些证，需要带什么材料", sender=sender)
    assert_polite_reply(first)
    tracker = requests.get(f"{live_stack.rasa_url}/conversations/{sender}/tracker", params=rasa_api_params(),
                           timeout=TIMEOUT).json()
    # The stored user event keeps what the person typed; only the NLU's working copy is normalised.
    user_texts = [event["text"] for event in tracker["events"] if event["event"] == "user"]
    assert user_texts[-1] == "我想开个饭店，要办哪些证，需要带什么材料"


@pytest.mark.parametrize(
    "message",
    [
        "😀🎉👍",
        "<script>alert(1)</script>",
        "'; DROP TABLE matters; --",
        "How do I register a business here?",
        "<img src=x onerror=alert(1)>",
        "{{7*7}} ${jndi:ldap://x} %s%n",
        "。。。？？？",
        "办\u0000证\u0007",
        "我想开饭店" * 1000,  # cut to 1,000 characters by the web server (test_long_message_is_cut...)
        "我的手机13698765432，身份证130102 19900101 1234，我是欧阳娜娜",  # see test_personal_data_is_masked...
    ],
    ids=["emoji", "script", "sql", "english", "img-onerror", "templates", "punct", "controls", "long", "personal"],
)
def test_odd_input_gets_a_polite_reply(live_stack, message):
    assert_polite_reply(chat(live_stack, message), sent=message)


@pytest.mark.parametrize(
    "message",
    ["/restart", '/nonexistent_intent{"matter": "x"', "/greet{not json", "/", "//", "/ask_materials{\"matter\": 1}"],
)
def test_slash_payloads_typed_by_hand_never_break_anything(live_stack, message):
    # A citizen can type what a button sends; the bot may stay silent, but nothing may fail.
    resp = chat(live_stack, message)
    assert resp.status_code == 200, resp.text
    assert_well_formed(resp.json()["messages"])
    assert_still_answers(live_stack)


def test_sql_text_does_not_touch_the_catalog(live_stack):
    sql = "'; DROP TABLE matters; --"
    assert_polite_reply(chat(live_stack, sql), sent=sql)  # the SQL-looking message itself gets a polite reply
    assert_polite_reply(chat(live_stack, "我想开个饭店，要办哪些证，需要带什么材料"))
    with Session(make_engine(live_stack.settings.database_url)) as session:  # and the catalog is intact
        assert session.scalar(select(func.count()).select_from(models.Matter)) > 100


def test_long_message_is_cut_to_1000_characters(web_on_standin):
    sender = new_sender()
    resp = post_chat(web_on_standin.web_url, "我想开饭店" * 1000, sender=sender)  # 5,000 characters
    assert_polite_reply(resp)
    # What reached Rasa (the stand-in records every turn as it arrived).
    assert [len(message) for who, message in web_on_standin.rasa.turns if who == sender] == [1000]


# --- rejected input ------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["", "   ", "\n\t \u3000\n"], ids=["empty", "spaces", "whitespace-mix"])
def test_empty_message_is_rejected(web_on_standin, message):
    assert_clean_4xx(post_chat(web_on_standin.web_url, message))


@pytest.mark.parametrize(
    "sender",
    ["short", "has space 123", "a" * 65, "../../etc/passwd", "abcdefgh\n", "用户一二三四五六七八", "", None, 12345678],
    ids=["short", "space", "too-long", "path", "newline", "chinese", "empty", "none", "number"],
)
def test_bad_sender_is_rejected(web_on_standin, sender):
    assert_clean_4xx(post_chat(web_on_standin.web_url, "你好", sender=sender))


@pytest.mark.parametrize(
    "body",
    [
        b"{sender: oops",
        b"not json at all",
        b"",
        b"[1, 2, 3]",
        b'"just a string"',
        b"\xff\xfe\x00garbage",
        json.dumps({"sender": "abcdefgh1234"}).encode(),
        json.dumps({"message": "你好"}).encode(),
        json.dumps({"sender": "abcdefgh1234", "message": 42}).encode(),
        json.dumps({"sender": "abcdefgh1234", "message": ["你好"]}).encode(),
        json.dumps({"sender": "abcdefgh1234", "message": None}).encode(),
    ],
    ids=["malformed", "text", "empty", "array", "string", "binary", "no-message", "no-sender", "int", "list", "null"],
)
def test_malformed_body_is_rejected(web_on_standin, body):
    assert_clean_4xx(post_raw(web_on_standin.web_url, body))


def test_oversized_body_is_rejected(web_on_standin):
    body = json.dumps({"sender": new_sender(), "message": "办" * 40_000}).encode()  # about 120 KiB
    assert len(body) > 64 * 1024
    assert_clean_4xx(post_raw(web_on_standin.web_url, body), status=413)


def test_oversized_chunked_body_is_rejected(web_on_standin):
    def chunks():
        yield b'{"sender": "abcdefgh1234", "message": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    resp = requests.post(
        f"{web_on_standin.web_url}/api/chat",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert_clean_4xx(resp, status=413)


def test_wrong_method_gets_json(web_on_standin):
    resp = requests.get(f"{web_on_standin.web_url}/api/chat", timeout=TIMEOUT)
    assert_clean_4xx(resp, status=405)


def test_servers_still_answer_after_bad_input(live_stack):
    for body in (b"{", b"[]", json.dumps({"sender": "x", "message": "y"}).encode()):
        post_raw(live_stack.web_url, body)
    chat(live_stack, "<script>alert(1)</script>")
    chat(live_stack, "'; DROP TABLE matters; --")
    chat(live_stack, "😀" * 5000)
    assert_still_answers(live_stack)


# --- health, headers, logs -----------------------------------------------------------------------


def test_healthz_reports_rasa(web_on_standin):
    resp = requests.get(f"{web_on_standin.web_url}/healthz", timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.json() == {"web": "ok", "rasa": "ok"}


@pytest.mark.parametrize("path", ["/", "/static/chat.js", "/static/chat.css", "/healthz", "/api/texts", "/nope"])
def test_security_headers_on_every_response(web_on_standin, path):
    resp = requests.get(f"{web_on_standin.web_url}{path}", timeout=TIMEOUT)
    for header in SECURITY_HEADERS:
        assert resp.headers.get(header), f"{header} missing on {path}"
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_security_headers_on_api_errors(web_on_standin):
    resp = post_chat(web_on_standin.web_url, "")
    for header in SECURITY_HEADERS:
        assert resp.headers.get(header)


def test_page_has_no_inline_script_and_no_cdn(web_on_standin):
    html = requests.get(f"{web_on_standin.web_url}/", timeout=TIMEOUT).text
    assert '<meta name="viewport"' in html
    assert "审前辅导助手" in html
    for tag in html.split("<script")[1:]:
        assert 'src="/static/' in tag.split(">")[0], "inline or external script"
    assert "http://" not in html and "https://" not in html


def test_no_directory_listing_or_traversal(web_on_standin):
    for path in ("/static/", "/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fkeys.py"):
        resp = requests.get(f"{web_on_standin.web_url}{path}", timeout=TIMEOUT)
        assert resp.status_code in (403, 404), path
        assert "import" not in resp.text


def test_personal_data_is_masked_in_the_web_log(web_on_standin, caplog):
    sender = new_sender()
    message = "我的手机13698765432，身份证130102 19900101 1234，我是欧阳娜娜"
    caplog.set_level(logging.INFO)  # what `python -m bot.web` writes to its log (INFO and above, every logger)
    # The stand-in echoes the message: the reply is not checked for leaks here, only that it came.
    resp = post_chat(web_on_standin.web_url, message, sender=sender)
    assert resp.status_code == 200 and reply_texts(resp), resp.text
    log = caplog.text
    assert f"chars={len(message)}" in log, "the turn was not logged at all"
    # No message text at INFO or above, not even masked; the sender id is masked too.
    for fragment in ("13698765432", "136****5432", "130102", "欧阳", "身份证"):
        assert fragment not in log


# --- Rasa down -----------------------------------------------------------------------------------


def domain_response(name: str) -> str:
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
    return domain["responses"][name][0]["text"]


def test_rasa_down_gives_503_with_the_domain_apology(web_without_rasa):
    expected = domain_response("utter_service_unavailable")
    assert expected.strip()
    resp = post_raw(web_without_rasa, json.dumps({"sender": new_sender(), "message": "你好"}).encode())
    assert resp.status_code == 503
    data = resp.json()
    assert data["messages"][0]["text"] == expected
    for header in SECURITY_HEADERS:
        assert resp.headers.get(header)


def test_rasa_down_still_validates_first(web_without_rasa):
    assert_clean_4xx(post_raw(web_without_rasa, b"{"))


def test_rasa_down_is_reported_by_healthz(web_without_rasa):
    resp = requests.get(f"{web_without_rasa}/healthz", timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.json() == {"web": "ok", "rasa": "down"}


def test_page_text_endpoint_serves_the_apology(web_without_rasa):
    resp = requests.get(f"{web_without_rasa}/api/texts", timeout=TIMEOUT)
    assert resp.json() == {"service_unavailable": domain_response("utter_service_unavailable"),
                           "busy_wait": domain_response("utter_busy_wait")}


# --- units: what the page may receive, and reading the domain ------------------------------------


def test_rasa_replies_are_normalised_for_the_page():
    from bot.clients.rasa import RasaUnavailable, normalise_messages

    raw = [
        {"recipient_id": "x", "text": "第一条"},
        {"recipient_id": "x", "text": "请选择", "buttons": [{"title": "个体户", "payload": "/choose"}, {"payload": "x"}]},
        {"recipient_id": "x", "image": "javascript:alert(1)"},
        {"recipient_id": "x", "image": "https://example.gov.cn/map.png"},
        {"recipient_id": "x", "custom": {"handoff": True}},
        "not a dict",
    ]
    assert normalise_messages(raw) == [
        {"text": "第一条", "buttons": [], "image": None},
        {"text": "请选择", "buttons": [{"title": "个体户", "payload": "/choose"}], "image": None},
        {"text": None, "buttons": [], "image": "https://example.gov.cn/map.png"},
    ]
    with pytest.raises(RasaUnavailable):
        normalise_messages({"error": "boom"})
