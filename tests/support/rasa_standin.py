"""Rasa's HTTP API as the web server uses it (REST turns, pause/resume, tracker state, triggered intents), for
tests of the web processes that must not wait for a model: the scale-out tests of the web layer. A real HTTP
server on a free port in its own thread; it answers with the domain's own sentences and records every call.
The real Rasa is covered by the stack tests (tests/support/stack.py)."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Dict, List

from aiohttp import web

from support.handoff import response_text
from support.threaded_server import ThreadedServer

# What the triggered intents answer, as the real actions do.
TRIGGERED = {"EXTERNAL_idle": "utter_ask_rating_idle", "EXTERNAL_handoff_returned": "utter_handoff_returned",
             "EXTERNAL_handoff_closed": "utter_handoff_closed_notice"}


class RasaStandIn(ThreadedServer):
    def __init__(self) -> None:
        super().__init__("rasa-standin")
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self.turns: List[tuple] = []
        self.triggers: Counter = Counter()  # (sender, intent) -> calls
        self.paused: Dict[str, bool] = {}
        self.rating_asked: Dict[str, bool] = {}

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6 (stand-in)")

    async def _turn(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.turns.append((body["sender"], body["message"]))
            if body["message"] == "/restart":
                self.rating_asked.pop(body["sender"], None)
        return web.json_response([{"recipient_id": body["sender"], "text": f"答复：{body['message']}"}])

    async def _tracker(self, request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        with self._lock:
            return web.json_response({"sender_id": sender, "paused": self.paused.get(sender, False),
                                      "slots": {"rating_asked": self.rating_asked.get(sender, False)},
                                      "active_loop": {}})

    async def _events(self, request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        events = await request.json()
        with self._lock:
            for event in events:
                if event.get("event") in ("pause", "resume"):
                    self.paused[sender] = event["event"] == "pause"
        return web.json_response({"sender_id": sender})

    async def _trigger(self, request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        intent = (await request.json())["name"]
        with self._lock:
            self.triggers[(sender, intent)] += 1
            if intent == "EXTERNAL_idle":
                self.rating_asked[sender] = True
        response = TRIGGERED.get(intent)
        messages = [{"recipient_id": sender, "text": response_text(response)}] if response else []
        return web.json_response({"messages": messages})

    def triggered(self, sender: str, intent: str) -> int:
        with self._lock:
            return self.triggers[(sender, intent)]

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_post("/webhooks/rest/webhook", self._turn)
        app.router.add_get("/conversations/{sender}/tracker", self._tracker)
        app.router.add_post("/conversations/{sender}/tracker/events", self._events)
        app.router.add_post("/conversations/{sender}/trigger_intent", self._trigger)
        return app
