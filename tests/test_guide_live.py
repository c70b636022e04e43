"""情形引导 and 一次性告知单 through the running servers (web server → Rasa → action server → catalog).

Expected texts are built from the catalog itself: the list for the answers given, what is missing, the link.
"""

import pytest
import requests

from knowledge import Catalog, make_engine
from knowledge.notice import notice_path
from support.stack import web_sender


@pytest.fixture(scope="module")
def catalog(catalog_database_url):
    return Catalog(make_engine(catalog_database_url))


class Page:
    """A person on our web page: POST /api/chat, as chat.js does."""

    def __init__(self, web_url: str):
        self.url = f"{web_url}/api/chat"
        self.sender = web_sender()

    def say(self, text: str) -> list:
        response = requests.post(self.url, json={"sender": self.sender, "message": text}, timeout=90)
        assert response.status_code == 200, response.text
        return response.json()["messages"]


@pytest.fixture
def page(live_stack):
    return Page(live_stack.web_url)


def text_of(messages) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages) -> dict:
    return {b["title"]: b["payload"] for m in messages for b in m.get("buttons") or []}


def checklist(messages) -> dict:
    found = [m["checklist"] for m in messages if m.get("checklist")]
    assert len(found) == 1, messages
    return found[0]


def question(matter, code):
    return next(s for s in matter.situations if s.code == code)


def assert_list(text, matter, answers):
    listed = [m for m, _ in matter.materials_for(answers)]
    assert f"办理「{matter.name}」需要准备以下材料（共{len(listed)}项" in text
    for position, material in enumerate(listed, 1):
        assert f"{position}. {material.name}" in text
    for material in matter.materials:
        if material not in listed:
            assert material.name not in text, material.name
    for code, option in answers.items():
        assert question(matter, code).label_of(option) in text
    return listed


def test_first_message_answer_free_text_buttons_list_and_checklist_by_names(page, catalog, live_stack):
    individual = catalog.matter("SCJG-GT-SL")
    first = page.say("帮我爸办个体户执照要带啥")
    # 帮我爸 answered who applies: only the questions on the form of business and prior approval are left.
    assert individual.name in text_of(first) and "一次性告知" in text_of(first)
    assert question(individual, "form").question in text_of(first)
    assert question(individual, "agent").question not in text_of(first)
    assert set(buttons(first)) == {label for _, label in question(individual, "form").options}

    second = page.say("个人开的")
    assert question(individual, "prior").question in text_of(second)
    no_prior = buttons(second)[question(individual, "prior").label_of("no")]

    answers = {"agent": "agent", "form": "individual", "prior": "no"}
    listing = page.say(no_prior)
    listed = assert_list(text_of(listing), individual, answers)
    offered = checklist(listing)
    assert [(i["index"], i["name"]) for i in offered["items"]] == [(p, m.name) for p, m in enumerate(listed, 1)]

    reply = text_of(page.say("我有身份证和委托书"))
    have = [p for p, m in enumerate(listed, 1) if m.name in ("经营者身份证", "经营者签署的委托书")]
    assert len(have) == 2
    assert f"还缺以下{len(listed) - 2}项" in reply
    for position, material in enumerate(listed, 1):
        line = f"{position}. {material.name}"
        assert (line in reply) == (position not in have), line
        if position not in have and material.note:
            assert material.note in reply  # how to get it, from the catalog
    url = live_stack.settings.public_url + notice_path(individual.code, answers, have)
    assert url in reply


def test_changing_an_answer_mid_form_and_the_checklist_by_numbers(page, catalog, live_stack):
    company = catalog.matter("SCJG-QY-SL")
    assert question(company, "company_type").question in text_of(page.say("公司注册需要准备哪些材料"))
    assert question(company, "agent").question in text_of(page.say("有限责任公司"))
    # Before answering the second question the person corrects the first one.
    again = page.say("不对，是股份公司，发起设立的")
    assert question(company, "agent").question in text_of(again)
    answers = {"company_type": "jsc_promoter", "agent": "self"}
    listed = assert_list(text_of(page.say("法定代表人本人办理")), company, answers)

    reply = text_of(page.say("1 3 4"))
    assert f"还缺以下{len(listed) - 3}项" in reply
    for position, material in enumerate(listed, 1):
        assert (f"{position}. {material.name}" in reply) == (position not in (1, 3, 4))
    assert live_stack.settings.public_url + notice_path(company.code, answers, [1, 3, 4]) in reply

    reply = text_of(page.say("第1和第3项"))
    assert notice_path(company.code, answers, [1, 3]) in reply
    reply = text_of(page.say("都有了"))
    assert f"材料都齐了（共{len(listed)}项）" in reply


def test_after_the_list_the_person_changes_the_matter_and_an_answer(page, catalog):
    company, individual = catalog.matter("SCJG-QY-SL"), catalog.matter("SCJG-GT-SL")
    page.say("开公司要带什么")
    assert_list(text_of(page.say("我自己办，有限公司")), company, {"company_type": "llc", "agent": "self"})

    switched = text_of(page.say("不对，是个体户"))
    assert individual.name in switched
    # "我自己办" means the same for a 个体户: not asked again.
    assert question(individual, "form").question in switched
    page.say("家庭经营")
    listed = assert_list(text_of(page.say("不涉及")), individual,
                         {"form": "family", "agent": "self", "prior": "no"})
    assert any("家庭成员" in m.name for m in listed)

    changed = text_of(page.say("不对，是委托别人办的"))
    assert_list(changed, individual, {"form": "family", "agent": "agent", "prior": "no"})

    restart = text_of(page.say("改一下"))
    assert question(individual, "form").question in restart


def test_leaving_the_questions_and_coming_back(page, catalog):
    food = catalog.matter("SCJG-SP-JY")  # 食品经营许可: new or renewal, then who applies
    assert question(food, "apply").question in text_of(page.say("食品经营许可证要带什么材料"))
    assert question(food, "agent").question in text_of(page.say("第一次办"))
    where = text_of(page.say("在哪个窗口办啊"))
    assert food.place.zone in where and question(food, "agent").question not in where
    # Asking for the materials again goes on where the person left: the first answer is kept.
    back = text_of(page.say("那食品经营许可要带什么"))
    assert question(food, "agent").question in back and question(food, "apply").question not in back
    assert_list(text_of(page.say("我本人去")), food, {"apply": "new", "agent": "self"})


def test_an_answer_in_the_first_message_is_kept_also_through_the_which_matter_buttons(page, catalog):
    individual = catalog.matter("SCJG-GT-SL")
    asked = page.say("营业执照要带啥，帮我妈办的")
    choice = buttons(asked)
    if individual.name in choice:  # the catalog ranks both licences close: the person picks one first
        asked = page.say(choice[individual.name])
    assert question(individual, "form").question in text_of(asked)
    assert question(individual, "agent").question not in text_of(asked)


def test_bad_input_in_the_questions_gets_a_polite_reply(page, catalog):
    individual = catalog.matter("SCJG-GT-SL")
    page.say("个体户执照要带什么")
    for attack in ("<script>alert(1)</script>", "'; DROP TABLE matters; --", "😀😀😀", "啊" * 900):
        messages = page.say(attack)
        assert text_of(messages).strip(), attack
        assert "<script>" not in text_of(messages)
    # Still answerable afterwards.
    assert_list(text_of(page.say("要带什么材料")) + text_of(page.say("个人经营")) + text_of(page.say("本人办理"))
                + text_of(page.say("不涉及")), individual, {"form": "individual", "agent": "self", "prior": "no"})
