"""A conversation turned into a test story from Rasa's own events: personal data masked around the entities, a
rewound turn dropped, the story stopped where a helper took over, and refusals that write nothing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, ConversationPaused, SessionStarted, SlotSet,
                                     UserUttered, UserUtteranceReverted)
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

from bot.train.stories import StoryError, load_domain, story_file, write_story

REPO = Path(__file__).resolve().parent.parent


def _user(text, intent, entities=()):
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": list(entities)}
    return UserUttered(text, intent=parse["intent"], parse_data=parse, entities=list(entities))


@pytest.fixture()
def project(tmp_path):
    shutil.copy(REPO / "domain.yml", tmp_path / "domain.yml")
    return tmp_path


def _events(*events):
    return [e.as_dict() for e in events]


def test_masked_rewound_and_stopped_at_the_handoff(project):
    text = "社保卡补办要带啥，我身份证130102199001011234"
    stored = _events(
        ActionExecuted("action_session_start"), SessionStarted(), SlotSet("session_started_metadata", {"a": 1}),
        ActionExecuted("action_listen"),
        _user(text, "ask_materials", [{"entity": "matter", "value": "RSJ-SBK-BH", "start": 0, "end": 5}]),
        ActionExecuted("action_answer"), ActiveLoop("situation_form"), SlotSet("requested_slot", "situation_answer"),
        ActionExecuted("action_listen"),
        _user("呃呃呃", "nlu_fallback"), UserUtteranceReverted(),  # Rasa's fallback took this turn back
        _user("转人工", "request_human"), ActionExecuted("action_handoff"), ConversationPaused(),
        _user("喂，有人吗", "greet"),  # said to the helper: not the bot's part
    )
    written = write_story(project, "c1", stored, note="2026-12-01 rest")
    content = story_file(project).read_text(encoding="utf-8")
    assert "130102199001011234" not in content
    assert '[社保卡补办]{"entity": "matter", "value": "RSJ-SBK-BH"}要带啥，我身份证130*************34' in content
    assert "呃呃呃" not in content and "喂" not in content and "session_started_metadata" not in content
    assert "      - active_loop: situation_form\n      - slot_was_set:\n          - requested_slot: \"situation_answer\"\n" \
        in content
    assert content.rstrip().endswith("      - action: action_handoff")
    assert written.steps == 6
    steps = YAMLStoryReader(load_domain(project), str(story_file(project))).read_from_file(story_file(project))
    assert [s.block_name for s in steps] == ["reviewed conversation c1"]


def test_refusals_write_nothing(project):
    with pytest.raises(StoryError, match="没有群众说的话"):
        write_story(project, "c2", _events(ActionExecuted("action_session_start"), SessionStarted()))
    with pytest.raises(StoryError, match="动作 action_gone 不在 domain.yml 里"):
        write_story(project, "c3", _events(_user("你好", "greet"), ActionExecuted("action_gone")))
    assert not story_file(project).exists()
