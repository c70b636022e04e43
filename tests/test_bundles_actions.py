"""一件事 bundles and related matters (证照联动) in action_answer, on tracker snapshots and the fixture catalog."""
import dataclasses

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import ActionAnswer, ActionSituationList, catalog_access
from bot.texts.catalog import Fragments
from support.actions import DOMAIN, fixture_catalog, rendered, run, snapshot  # noqa: F401 (fixture_catalog: autouse)


def test_bundle_gives_members_merged_list_place_and_unknown_time_limit():
    messages, events = run(ActionAnswer(), "bundle.json")
    assert [m["response"] for m in messages] == ["utter_bundle"]
    assert events == [SlotSet("bundle", "T-YJS"), SlotSet("aspect", "materials")]
    message = messages[0]
    assert message["bundle_name"] == "开店一件事" and message["count"] == 2 and message["material_count"] == 3
    assert message["members"] == "1. 个体工商户设立登记\n2. 食品经营许可"
    assert message["intro"] == "先办营业执照，再办食品经营许可，可在同一窗口一次提交。\n"
    # The shared item once, without a member note; the others say which member needs them.
    assert message["materials"] == (
        "1. 经营者身份证（原件1份、复印件1份）——两件事共用一份\n"
        "2. 个体工商户登记申请书（原件1份）【个体工商户设立登记需要】\n"
        "3. 食品经营许可申请书（原件1份）【食品经营许可需要】")
    assert message["place"] == "2F企业服务区，A01-A02号窗口"
    assert message["time_limit"] == "没有统一的合并时限，各事项的时限可点选后问“多久办好”"
    assert message["buttons"] == [
        {"title": "个体工商户设立登记", "payload": '/choose_matter{"matter":"T-GT-SL"}'},
        {"title": "食品经营许可", "payload": '/choose_matter{"matter":"T-SP-XK"}'},
    ]
    text = rendered(message)
    assert text.startswith("「开店一件事」把以下2件事合在一起办：\n1. 个体工商户设立登记")
    assert "合并材料清单（共3项，相同的材料只交一次）：\n1. 经营者身份证" in text
    assert "合并办理时限：没有统一的合并时限" in text
    assert "目录未登记" not in text  # catalog jargon never reaches a citizen


def test_bundle_time_limit_is_the_catalog_figure_when_registered():
    bundle = catalog_access.catalog().bundle("T-YJS")
    assert Fragments(DOMAIN).bundle_time(dataclasses.replace(bundle, time_limit_days=5)) == "承诺5个工作日"


def listed_after_questions(name: str, **slots):
    """The list action_situation_list gives once the situation questions are answered."""
    tracker = snapshot(name)
    tracker.slots.update({"matter": "T-GT-SL", "guide_matter": "T-GT-SL", "situation_answers": {"agent": "self"},
                          **slots})
    dispatcher = CollectingDispatcher()
    ActionSituationList().run(dispatcher, tracker, DOMAIN)
    return dispatcher.messages


def test_drill_down_into_a_member_answers_the_pending_aspect_without_offering_the_same_bundle():
    messages, events = run(ActionAnswer(), "bundle_member_drill_down.json")
    # The member's list depends on who applies: the question first (actions/guide.py), the offers after the list.
    assert [m["response"] for m in messages] == ["utter_situation_intro"]
    assert SlotSet("matter", "T-GT-SL") in events and SlotSet("aspect", "materials") in events
    messages = listed_after_questions("bundle_member_drill_down.json", bundle="T-YJS")
    assert [m["response"] for m in messages] == ["utter_materials_for_situation", "utter_related",
                                                 "utter_checklist_offer"]
    related = messages[1]
    assert rendered(related) == "办「个体工商户设立登记」的，通常还要办下面这些相关事项（证照联动），需要的话请点选："
    assert related["buttons"] == [{"title": "食品经营许可", "payload": '/choose_matter{"matter":"T-SP-XK"}'}]


def test_a_member_matter_mentions_its_bundle_then_its_related_matters():
    messages = listed_after_questions("materials_named.json")
    assert [m["response"] for m in messages] == ["utter_materials_for_situation", "utter_bundle_offer",
                                                 "utter_related", "utter_checklist_offer"]
    offer = messages[1]
    assert rendered(offer) == ("「个体工商户设立登记」也可以和相关事项一次办好（一件事一次办）：开店一件事。"
                               "材料只交一次，点选查看合并清单：")
    assert offer["buttons"] == [{"title": "开店一件事", "payload": '/choose_matter{"matter":"T-YJS"}'}]


def test_overview_of_a_member_without_related_matters_offers_only_the_bundle():
    messages, events = run(ActionAnswer(), "member_overview.json")
    assert [m["response"] for m in messages] == ["utter_matter_overview", "utter_bundle_offer"]
    assert events == [SlotSet("matter", "T-SP-XK"), SlotSet("aspect", "overview")]
    assert "一件事" not in rendered(messages[0])  # said once, in the offer
    assert messages[1]["matter_name"] == "食品经营许可" and messages[1]["bundles"] == "开店一件事"


def test_the_offer_button_opens_the_bundle():
    messages, events = run(ActionAnswer(), "bundle_from_offer_button.json")
    assert [m["response"] for m in messages] == ["utter_bundle"]
    assert events == [SlotSet("bundle", "T-YJS"), SlotSet("aspect", "materials")]


def test_other_aspects_of_a_member_add_no_offers():
    for name in ("time_limit_follow_up.json", "location.json", "fee_free.json"):
        messages, _ = run(ActionAnswer(), name)
        assert len(messages) == 1, name


def test_related_buttons_are_capped(monkeypatch):
    from actions import follow_ups
    from knowledge.views import MatterRef

    matter = catalog_access.catalog().matter("T-GT-SL")
    many = tuple(MatterRef(f"T-X{i}", f"事项{i}") for i in range(9))
    dispatcher_messages = []

    class Dispatcher:
        def utter_message(self, **kwargs):
            dispatcher_messages.append(kwargs)

    follow_ups.offer_follow_ups(Dispatcher(), Fragments(DOMAIN), dataclasses.replace(matter, related=many, bundles=()))
    assert [m["response"] for m in dispatcher_messages] == ["utter_related"]
    assert len(dispatcher_messages[0]["buttons"]) == follow_ups.MAX_RELATED == 5
