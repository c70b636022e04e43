"""A python-socketio client speaking to Rasa's socket.io channel as the standard widgets do."""
from __future__ import annotations

import queue
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

import socketio

TIMEOUT = 60.0  # one turn on a busy 2-core machine


class WidgetClient:
    """session_request → session_confirm, then user_uttered / bot_uttered, like rasa-webchat."""

    def __init__(self, rasa_url: str, session_id: Optional[str] = None):
        self.rasa_url = rasa_url
        self.session_id = session_id or uuid.uuid4().hex
        self.confirmed: "queue.Queue[Any]" = queue.Queue()
        self.received: "queue.Queue[Dict[str, Any]]" = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("session_confirm", self.confirmed.put)
        self.client.on("bot_uttered", self.received.put)

    def connect(self, session_request: Any = "default") -> Any:
        """Connect and ask for the session; returns what session_confirm carried."""
        self.client.connect(self.rasa_url, socketio_path="/socket.io/", wait_timeout=TIMEOUT)
        payload = {"session_id": self.session_id} if session_request == "default" else session_request
        self.client.emit("session_request", payload)
        return self.confirmed.get(timeout=TIMEOUT)

    def send(self, payload: Any) -> None:
        self.client.emit("user_uttered", payload)

    def say(self, text: str) -> None:
        self.send({"message": text, "session_id": self.session_id})

    def wait_for(self, done: Callable[[Dict[str, Any]], bool], timeout: float = TIMEOUT) -> List[Dict[str, Any]]:
        """Every bot message up to and including the first one for which done() is true."""
        seen: List[Dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                message = self.received.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise AssertionError(f"no such bot message within {timeout}s; got {seen!r}") from None
            seen.append(message)
            if done(message):
                return seen

    def close(self) -> None:
        if self.client.connected:
            # Tell the server, but do not wait for the long poll in flight to end (up to the ping interval).
            self.client.eio.disconnect(abort=True)


def has_buttons(message: Dict[str, Any]) -> bool:
    return bool(message.get("buttons"))


def text_of(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)
