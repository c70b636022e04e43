"""Issue #16 through the running servers with the trained model: two aspects in one message get both answers in
the order asked, another city gets the note once, a policy amount is not answered with another aspect. The
facts expected are read from the catalog."""
import uuid

import pytest
import requests

from knowledge import Catalog, make_engine


@pytest.fixture(scope="module")
def catalog(catalog_database_url):
    return Catalog(make_engine(catalog_database_url))


@pytest.fixture
def say(live_stack):
    url = f"{live_stack.rasa_url}/webhooks/rest/webhook"
    sender = f"test-{uuid.uuid4().hex[:12]}"

    def _say(text: str) -> str:
        response = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
        assert response.status_code == 200, response.text
        return "\n".join(m.get("text", "") for m in response.json())
    return _say


def test_materials_and_time_limit_in_one_message_are_both_answered_in_order(say, catalog):
    licence = catalog.matter("GAJ-JSZ-HZ")  # its list does not depend on a situation
    answer = say("驾驶证到期换证要带什么材料，多久能办好")
    materials = answer.find(f"办理「{licence.name}」需要准备以下材料")
    time_limit = answer.find(f"「{licence.name}」的办理时限")
    assert 0 <= materials < time_limit
    for material, _ in licence.materials_for({}):
        assert material.name in answer


def test_procedure_and_time_limit_in_one_message(say, catalog):
    fund = catalog.matter("GJJ-TQ")
    answer = say("公积金提取流程是怎样的？一般要多久？")
    assert 0 <= answer.find(f"「{fund.name}」的办理流程") < answer.find(f"「{fund.name}」的办理时限")
    if fund.legal_days is not None:  # the catalog's fact, whatever it says today
        assert f"{fund.legal_days}日" in answer
    for step in fund.steps:
        assert step.name in answer


def test_another_city_is_answered_for_this_hall_with_one_note(say, catalog):
    answer = say("北京公积金提取需要什么条件")
    assert answer.startswith("以下是本市政务服务大厅的办理要求") and answer.count("以下是本市") == 1
    assert f"办理「{catalog.matter('GJJ-TQ').name}」需要满足以下条件" in answer


def test_a_policy_amount_says_where_to_ask_and_no_other_aspect(say):
    answer = say("失业金一个月能领多少钱")
    assert "现行政策" in answer and "转人工" in answer
    assert "需要准备以下材料" not in answer and "办理流程" not in answer
