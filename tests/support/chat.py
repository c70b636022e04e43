"""A conversation with the real Rasa through its REST channel, as the live tests hold it."""
from __future__ import annotations

import uuid

import requests


class Conversation:
    def __init__(self, rasa_url: str):
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.sender = f"test-{uuid.uuid4().hex[:12]}"

    def say(self, text: str) -> list:
        response = requests.post(self.url, json={"sender": self.sender, "message": text}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def text_of(self, text: str) -> str:
        return "\n".join(m.get("text", "") for m in self.say(text))


def buttons(messages) -> list:
    return [b for m in messages for b in m.get("buttons", [])]
