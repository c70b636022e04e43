"""Whole conversations through the running Rasa server, action server and catalog database.

The expected facts are read from the catalog itself, so these tests check that what the citizen sees is
exactly the catalog's content (complete, not invented), whatever the catalog says today.
"""
from pathlib import Path

import pytest
import yaml

from support.catalog import matter_codes
from bot.texts.catalog import Fragments
from support.chat import buttons

DOMAIN = yaml.safe_load((Path(__file__).resolve().parent.parent / "domain.yml").read_text(encoding="utf-8"))


def test_restaurant_question_lists_the_permits_then_gives_complete_materials(chat, catalog):
    messages = chat.say("我想开个饭店，要办哪些证，需要带什么材料")
    text = "\n".join(m.get("text", "") for m in messages)
    bundle = catalog.bundle("YJS-QYZY-CY")
    for member in bundle.members:
        assert member.name in text
    choices = {b["title"]: b["payload"] for b in buttons(messages)}
    assert set(choices) == {m.name for m in bundle.members}

    food = catalog.matter("SCJG-SP-JY")
    assert food.name in chat.text_of(choices[food.name])  # its list depends on the situation: questions first
    chat.say("新办")
    answer = chat.text_of("我本人办")
    assert f"办理「{food.name}」需要准备以下材料" in answer
    for material, _ in food.materials_for({"apply": "new", "agent": "self"}):
        assert material.name in answer
    assert food.place.zone in answer


def test_materials_then_follow_ups_keep_the_matter(chat, catalog):
    fund = catalog.matter("GJJ-TQ")
    assert fund.name in chat.text_of("公积金提取要带什么")  # first: why the person withdraws
    answer = chat.text_of("租房")
    assert fund.name in answer
    listed = [m for m, _ in fund.materials_for({"reason": "rent"})]
    assert f"共{len(listed)}项" in answer
    for material in listed:
        assert material.name in answer
    for material, conditional in fund.materials_for({"reason": "rent"}):
        if conditional:
            assert f"【{material.when_text}需提供】" in answer

    answer = chat.text_of("那要多久？")
    assert fund.name in answer
    # The catalog's limit as it stands: a number of days, or the plain sentence for an unverified one.
    if fund.legal_days is not None:
        assert f"{fund.legal_days}" in answer
    else:
        assert "法定时限以窗口告知为准" in answer and "None" not in answer

    answer = chat.text_of("在哪办")
    assert fund.name in answer and fund.place.floor in answer and fund.place.zone in answer


def test_an_ambiguous_name_is_clarified_with_buttons(chat):
    messages = chat.say("营业执照")
    titles = [b["title"] for b in buttons(messages)]
    assert "个体工商户设立登记" in titles and any("公司设立登记" in t for t in titles)
    answer = chat.text_of(next(b["payload"] for b in buttons(messages) if b["title"] == "个体工商户设立登记"))
    assert "个体工商户设立登记" in answer


def test_a_question_naming_no_matter_gets_the_hall(chat, catalog):
    hall = catalog.hall()
    assert hall.hours in chat.text_of("周六上班吗")


def test_a_missing_fact_is_said_to_be_unknown_not_invented(chat, catalog):
    codes = [c for c in matter_codes(catalog)
             if catalog.matter(c).legal_days is None and catalog.matter(c).committed_days is None
             and not catalog.matter(c).time_note]
    if not codes:
        pytest.fail("the catalog has no matter without a time limit; pick another unknown fact for this test")
    matter = catalog.matter(codes[0])
    chat.say(f'/choose_matter{{"matter":"{matter.code}"}}')
    answer = chat.text_of("要多长时间能办完")
    assert "暂时没有登记" in answer and matter.name in answer


def test_aspect_buttons_answer_for_the_same_matter(chat, catalog):
    chat.say("结婚登记要带什么")
    messages = chat.say("没有，我们都不是军人")
    fee_button = next(b for b in buttons(messages) if b["payload"].startswith("/ask_fee"))
    marriage = catalog.matter("MZJ-HY-JH")
    answer = chat.text_of(fee_button["payload"])
    fee = Fragments(DOMAIN).fee(marriage)  # the catalog's fee as the bot words it; None: the catalog lacks it
    assert marriage.name in answer
    assert (fee in answer) if fee else ("暂时没有登记" in answer)


def test_human_help_and_complaint_give_the_hall_places(chat, catalog):
    hall = catalog.hall()
    assert hall.help_place.zone in chat.text_of("转人工")
    assert hall.complaint_place.zone in chat.text_of("我要投诉，跑了三趟都没办成")


def test_greeting_thanks_goodbye_and_out_of_scope(chat):
    assert "审前辅导助手" in chat.text_of("你好")
    assert "不客气" in chat.text_of("谢谢")
    assert chat.text_of("今天股票涨了吗") == DOMAIN["responses"]["utter_out_of_scope"][0]["text"]
    assert "再见" in chat.text_of("再见")
