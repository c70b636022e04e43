"""Rasa keeps conversations in SQL: after a restart of the Rasa server the bot still knows the matter."""
import uuid

import requests

from conftest import running_stack


def say(rasa_url: str, sender: str, text: str) -> str:
    response = requests.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                             timeout=60)
    assert response.status_code == 200
    return "\n".join(m.get("text", "") for m in response.json())


def test_a_follow_up_after_a_rasa_restart_keeps_the_matter(tmp_path, catalog_database_url, trained_model):
    with running_stack(catalog_database_url, tmp_path / "logs") as stack:
        rasa_url, sender = stack.settings.rasa_url, f"t-{uuid.uuid4().hex[:12]}"
        assert "住房公积金提取" in say(rasa_url, sender, "公积金提取要带什么")
        stack.restart("rasa")
        answer = say(rasa_url, sender, "那要多久？")
        assert "住房公积金提取" in answer and "办理时限" in answer
        assert (tmp_path / "logs" / "tracker.sqlite3").exists()
