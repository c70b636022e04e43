"""When the action server is gone, Rasa answers 200 with no messages: the person still gets a reply."""
import signal

import pytest
import requests
import yaml

from support.stack import web_sender

from support.stack import REPO_ROOT


@pytest.fixture(scope="module")
def stack_without_actions(live_stack):
    """The shared stack with its action server stopped, started again afterwards for the other tests."""
    live_stack.stack.kill("actions", signal.SIGTERM)
    try:
        yield live_stack.settings
    finally:
        live_stack.stack.launch("actions")
        live_stack.stack.wait_service("actions")


def test_a_failed_action_still_gets_a_polite_reply(stack_without_actions):
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
    expected = domain["responses"]["utter_no_reply"][0]["text"]
    response = requests.post(f"{stack_without_actions.web_url}/api/chat", timeout=60,
                             json={"sender": web_sender(), "message": "公积金提取要带什么"})
    assert response.status_code == 200
    assert [m["text"] for m in response.json()["messages"]] == [expected]
