"""When the action server is gone, Rasa answers 200 with no messages: the person still gets a reply."""
import signal
import uuid

import pytest
import requests
import yaml

from conftest import REPO_ROOT, running_stack


@pytest.fixture(scope="module")
def stack_without_actions(tmp_path_factory, catalog_database_url, trained_model):
    with running_stack(catalog_database_url, tmp_path_factory.mktemp("logs")) as stack:
        actions = next(svc for svc in stack.services if svc.name == "actions")
        actions.proc.send_signal(signal.SIGTERM)
        actions.proc.wait(timeout=30)
        yield stack.settings


def test_a_failed_action_still_gets_a_polite_reply(stack_without_actions):
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
    expected = domain["responses"]["utter_no_reply"][0]["text"]
    response = requests.post(f"{stack_without_actions.web_url}/api/chat", timeout=60,
                             json={"sender": f"t-{uuid.uuid4().hex[:12]}", "message": "公积金提取要带什么"})
    assert response.status_code == 200
    assert [m["text"] for m in response.json()["messages"]] == [expected]
