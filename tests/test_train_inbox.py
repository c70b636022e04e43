"""The trainer's inbox, read from a tracker store that Rasa's own SQLTrackerStore wrote."""
from __future__ import annotations

import pytest

from bot.train.inbox import read_inbox, scan
from bot.train.paths import WorkbenchPaths
from bot.train.sample_trackers import SampleTurn as T
from bot.train.sample_trackers import write_conversations
from support.workbench import copy_project

ANSWER = dict(actions=("action_answer",), utters=("utter_matter_overview",))
FALLBACK = dict(actions=("action_not_understood",), utters=("utter_default",))
CLARIFY = dict(actions=("action_answer",), utters=("utter_clarify_matter",))


@pytest.fixture()
def project(tmp_path):
    """A copy of the repository's training data and catalog: the inbox reads what is labelled already."""
    return WorkbenchPaths(copy_project(tmp_path), tmp_path / "models")


@pytest.fixture()
def store(tmp_path):
    db = tmp_path / "tracker.sqlite3"
    write_conversations(db, {
        # fallback, then the same words from another person on another channel (grouped, counted twice)
        "alice": ("rest", [T("渔船证咋弄", "nlu_fallback", 0.3, ranking=[("nlu_fallback", 0.35), ("ask_procedure", 0.3)],
                             **FALLBACK)]),
        "bob": ("wechat", [T("渔船证咋弄？", "nlu_fallback", 0.3,
                             ranking=[("nlu_fallback", 0.35), ("ask_procedure", 0.28)], **FALLBACK)]),
        # low confidence but answered
        "carol": ("rest", [T("那个执照的事儿办下来得几天呢", "ask_hours", 0.41, **ANSWER)]),
        # a clarifying question
        "dave": ("rest", [T("营业执照", "inform_matter", 0.99, **CLARIFY),
                          T('/choose_matter{"matter":"SCJG-GT-SL"}', "choose_matter", 1.0, **ANSWER)]),
        # a correction right after a confident answer
        "erin": ("rest", [T("公司搬家要多久", "ask_location", 0.9, **ANSWER),
                          T("不对，我问的是时间", "deny", 0.8, **ANSWER)]),
        # a handoff asked right after an answer
        "frank": ("rest", [T("社保断缴了还能补吗", "ask_conditions", 0.88, **ANSWER),
                           T("转人工", "request_human", 0.99, actions=("action_handoff",), utters=("utter_handoff_queued",))]),
        # a low rating
        "grace": ("rest", [T("公积金能取出来装修吗", "ask_conditions", 0.93, **ANSWER),
                           T('/rate{"rating_score":"1"}', "rate", 1.0, actions=("action_rate",), utters=(),
                             slots={"rating_low": True})]),
        # out of the catalog
        "heidi": ("rest", [T("养蜂证在哪里办", "out_of_scope", 0.9, actions=("action_answer",),
                             utters=("utter_out_of_scope",))]),
        # personal data, masked
        "ivan": ("rest", [T("我手机13812345678收不到验证码", "nlu_fallback", 0.2, **FALLBACK)]),
        # understood well: not in the inbox; a greeting at low confidence is not a question either
        "judy": ("rest", [T("你好", "greet", 0.4, actions=("utter_greet",), utters=("utter_greet",)),
                          T("营业执照要带什么材料", "ask_materials", 0.98, **ANSWER),
                          T("谢谢", "thank", 0.99, actions=("utter_thank",), utters=("utter_thank",))]),
        # already labelled in data/nlu: left out unless asked for
        "ken": ("rest", [T("公积金提取材料", "ask_materials", 0.4, **ANSWER)]),
    })
    return db


def test_finds_each_kind_of_misunderstanding(store):
    reasons = {t.text: t.reasons for t in scan(store)}
    assert reasons["渔船证咋弄"] == {"fallback"}
    assert reasons["那个执照的事儿办下来得几天呢"] == {"low_confidence"}
    assert reasons["营业执照"] == {"clarify"}
    assert reasons["公司搬家要多久"] == {"correction"}
    assert reasons["社保断缴了还能补吗"] == {"handoff"}
    assert reasons["公积金能取出来装修吗"] == {"low_rating"}
    assert reasons["养蜂证在哪里办"] == {"out_of_catalog"}
    assert "营业执照要带什么材料" not in reasons and "你好" not in reasons and "谢谢" not in reasons
    assert not any(text.startswith("/") for text in reasons)
    assert "不对，我问的是时间" not in reasons


def test_groups_masks_and_counts(store, project):
    inbox = read_inbox(store, project)
    first = inbox.groups[0]
    assert (first.text, first.count, first.senders) == ("渔船证咋弄", 2, 2)
    assert first.channels == {"rest": 1, "wechat": 1}
    assert first.predicted_intent == "ask_procedure"  # the model's guess under the fallback
    assert first.confidence == pytest.approx(0.29)
    texts = [g.text for g in inbox.groups]
    assert "我手机138****5678收不到验证码" in texts
    assert not any("13812345678" in t for t in texts)
    assert "公积金提取材料" not in texts
    assert inbox.find(first.id) is first
    again = read_inbox(store, project)
    assert again.groups[0].id == first.id  # ids stay the same between two readings


def test_labelled_messages_shown_on_request(store, project):
    groups = read_inbox(store, project, include_labelled=True).groups
    assert {g.text: g.labelled for g in groups}["公积金提取材料"] == "ask_materials"


def test_a_rephrase_right_after_the_answer(tmp_path):
    db = tmp_path / "t.sqlite3"
    write_conversations(db, {"x": ("rest", [T("护照过期了怎么换新的", "ask_location", 0.95, **ANSWER),
                                            T("护照过期了怎么换新的呢", "ask_procedure", 0.95, **ANSWER)])})
    flagged = scan(db)
    assert [(t.text, t.reasons) for t in flagged] == [("护照过期了怎么换新的", {"rephrase"})]


def test_the_kept_scan_reads_only_new_events_and_forgets_deleted_ones(tmp_path, project):
    import sqlite3

    db = tmp_path / "kept.sqlite3"
    write_conversations(db, {"a": ("rest", [T("渔船证咋弄", "nlu_fallback", 0.3, **FALLBACK)])})
    assert [g.text for g in read_inbox(db, project).groups] == ["渔船证咋弄"]
    write_conversations(db, {"b": ("rest", [T("养蜂证在哪办", "nlu_fallback", 0.3, **FALLBACK)])})
    assert sorted(g.text for g in read_inbox(db, project).groups) == ["养蜂证在哪办", "渔船证咋弄"]
    with sqlite3.connect(str(db)) as conn:  # retention deletes a conversation
        conn.execute("DELETE FROM events WHERE sender_id = 'a'")
    assert [g.text for g in read_inbox(db, project).groups] == ["养蜂证在哪办"]
    assert [g.text for g in read_inbox(db, project, incremental=False).groups] == ["养蜂证在哪办"]


def test_groups_close_in_meaning_are_merged_with_a_sentence_encoder(tmp_path, project):
    import numpy as np

    def encode(texts):
        """Stands in for the sentence encoder: one dimension per topic word, so "meaning" is the topic."""
        topics = ("渔船", "养蜂", "公积金")
        return np.array([[1.0 if t in text else 0.0 for t in topics] + [0.01] for text in texts])

    db = tmp_path / "m.sqlite3"
    write_conversations(db, {
        "a": ("rest", [T("渔船证咋弄", "nlu_fallback", 0.3, **FALLBACK)]),
        "b": ("wechat", [T("渔船证咋弄", "nlu_fallback", 0.3, **FALLBACK)]),
        "c": ("rest", [T("办渔船的证去哪", "nlu_fallback", 0.3, **FALLBACK)]),
        "d": ("rest", [T("养蜂证在哪办", "nlu_fallback", 0.3, **FALLBACK)]),
    })
    by_text = read_inbox(db, project, encode=None)
    assert sorted(g.count for g in by_text.groups) == [1, 1, 2]
    merged = read_inbox(db, project, encode=encode)
    assert [(g.text, g.count, g.senders) for g in merged.groups] == [("渔船证咋弄", 3, 3), ("养蜂证在哪办", 1, 1)]
    assert merged.groups[0].variants == ["渔船证咋弄", "办渔船的证去哪"]
    assert merged.groups[0].channels == {"rest": 2, "wechat": 1}
    other = next(g for g in by_text.groups if g.text == "办渔船的证去哪")
    assert merged.find(other.id) is merged.groups[0]  # an id from before the merge still finds its message


def test_an_inbox_before_rasa_stored_anything_is_empty(tmp_path, project):
    import sqlite3

    assert read_inbox(tmp_path / "not-yet.sqlite3", project).groups == []
    sqlite3.connect(str(tmp_path / "empty.sqlite3")).close()  # the file exists, Rasa's table not yet
    assert read_inbox(tmp_path / "empty.sqlite3", project).messages == 0
