"""Seeded fuzzing of the socket.io channel (standard web widgets) on the shared stack: odd payloads and messages
of every shape, then the channel still answers and Rasa's log shows no traceback through our channel."""
from __future__ import annotations

import random

from support.socketio import WidgetClient

SEED = 20261209
INPUTS = 120
ODD = ["", " ", "😀", "<script>alert(1)</script>", "'; DROP TABLE events; --", "/greet", "/choose_matter{",
       "字" * 3000, "\x00\x01", "1、3", "转人工", "null", "{}", "营業執照"]


def payload(rng: random.Random, session_id: str):
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice([None, 1, "text", [1, 2], True])
    if kind == 1:
        return {"session_id": session_id}
    if kind == 2:
        return {"message": rng.choice([1, [], {}, None, True]), "session_id": session_id}
    if kind == 3:
        return {"message": rng.choice(ODD), "session_id": rng.choice([None, 5, "bad id!", "x" * 500])}
    if kind == 4:
        return {"message": rng.choice(ODD), "session_id": session_id, "metadata": rng.choice(["{", [1], 5, "{}"])}
    return {"message": rng.choice(ODD) + rng.choice(["", "公积金提取要带什么"]), "session_id": session_id}


def test_odd_socketio_payloads_leave_the_channel_answering(live_stack):
    rng = random.Random(SEED)
    client = WidgetClient(live_stack.rasa_url)
    try:
        client.connect()
        # One at a time, each acknowledged once the channel has handled it: the test client polls (no
        # websocket-client here) and engine.io refuses more than 16 packets in one poll.
        for _ in range(INPUTS):
            client.client.call("user_uttered", payload(rng, client.session_id), timeout=120)
        client.say("公积金提取要带什么")
        answered = client.wait_for(lambda m: "公积金" in (m.get("text") or ""), timeout=180)
        assert answered
    finally:
        client.close()
    other = WidgetClient(live_stack.rasa_url)
    try:
        other.connect()
        other.say("你好")
        assert other.wait_for(lambda m: bool(m.get("text")))
    finally:
        other.close()
    log = (live_stack.log_dir / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "bot/channels/socketio.py" not in log  # no traceback through our channel
