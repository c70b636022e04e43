"""一件事 bundles and related matters (证照联动) through the running servers; expected texts from the catalog."""
from bot.texts.catalog import Fragments
from support.actions import DOMAIN
from support.chat import buttons

F = Fragments(DOMAIN)


def payload(code: str) -> str:
    return f'/choose_matter{{"matter":"{code}"}}'


def texts(messages) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def through_questions(chat, messages) -> list:
    """Answers the situation questions (情形引导) with their first option; all messages up to the list."""
    seen = list(messages)
    for _ in range(10):
        options = [b["payload"] for b in buttons(messages) if b["payload"].startswith("/inform_situation")]
        if not options:
            return seen
        messages = chat.say(options[0])
        seen += messages
    raise AssertionError("the situation questions did not end")


def assert_bundle_answer(messages, bundle):
    text = texts(messages)
    assert f"「{bundle.name}」把以下{len(bundle.members)}件事合在一起办" in text
    assert F.bundle_members(bundle) in text
    lines = F.bundle_material_lines(bundle)
    assert f"合并材料清单（共{len(lines)}项，相同的材料只交一次）：\n" + "\n".join(lines) in text
    names = {m.code: m.name for m in bundle.members}
    for material in bundle.materials:
        if set(material.matters) != set(names):  # a partial item names the members that need it
            needed = "、".join(n for c, n in names.items() if c in material.matters)
            assert f"{material.name}（" in text and f"【{needed}需要】" in text
    assert f"办理地点：{F.place(bundle.place)}" in text
    expected_time = "没有统一的合并时限" if bundle.time_limit_days is None else f"承诺{bundle.time_limit_days}个工作日"
    assert f"合并办理时限：{expected_time}" in text
    assert "目录未登记" not in text
    assert [(b["title"], b["payload"]) for b in buttons(messages)] == [(m.name, payload(m.code))
                                                                       for m in bundle.members]


def test_bundle_question_then_drill_down_into_a_member(chat, catalog):
    bundle = catalog.bundle("YJS-QYKB")
    assert_bundle_answer(chat.say("企业开办一件事要准备哪些材料"), bundle)

    company = catalog.matter("SCJG-QY-SL")
    messages = through_questions(chat, chat.say(payload(company.code)))
    text = texts(messages)
    assert f"办理「{company.name}」需要准备以下材料" in text  # the pending aspect: materials
    # The bundle just seen is not offered again; the other one the company belongs to is.
    others = [b for b in company.bundles if b.code != bundle.code]
    assert f"「{company.name}」也可以和相关事项一次办好（一件事一次办）：{'、'.join(b.name for b in others)}" in text
    offered = {b["payload"] for b in buttons(messages)}
    assert payload(bundle.code) not in offered
    assert all(payload(b.code) in offered for b in others)


def test_second_hand_house_bundle_with_utilities(chat, catalog):
    assert_bundle_answer(chat.say("二手房过户和水电气过户一起办要带什么"), catalog.bundle("YJS-ESFGH"))


def test_member_matter_mentions_its_bundle_and_the_button_opens_it(chat, catalog):
    birth = catalog.matter("GAJ-HJ-CS")
    bundle = catalog.bundle("YJS-XSECS")
    messages = through_questions(chat, chat.say("新生儿上户口要带什么"))
    text = texts(messages)
    assert f"办理「{birth.name}」需要准备以下材料" in text
    assert f"「{birth.name}」也可以和相关事项一次办好（一件事一次办）：{bundle.name}。材料只交一次" in text
    assert {"title": bundle.name, "payload": payload(bundle.code)} in buttons(messages)

    assert_bundle_answer(chat.say(payload(bundle.code)), bundle)


def test_business_registration_names_the_related_permits_as_buttons(chat, catalog):
    shop = catalog.matter("SCJG-GT-SL")
    messages = through_questions(chat, chat.say("办个体户执照要带什么材料"))
    related = [m for m in messages if "证照联动" in (m.get("text") or "")]
    assert len(related) == 1
    assert related[0]["text"] == f"办「{shop.name}」的，通常还要办下面这些相关事项（证照联动），需要的话请点选："
    assert [b["title"] for b in related[0]["buttons"]] == [r.name for r in shop.related][:5]
    assert any(r.code == "SCJG-SP-JY" for r in shop.related)  # 餐饮 → 食品经营许可, from the catalog

    food = catalog.matter("SCJG-SP-JY")
    answer = texts(through_questions(chat, chat.say(payload(food.code))))
    assert f"办理「{food.name}」需要准备以下材料" in answer  # the aspect asked before: materials


def test_time_limit_of_a_member_adds_no_offers(chat, catalog):
    shop = catalog.matter("SCJG-GT-SL")
    chat.say("办个体户执照要带什么材料")
    messages = chat.say("那要多久能办好")
    assert len(messages) == 1 and shop.name in messages[0]["text"]
