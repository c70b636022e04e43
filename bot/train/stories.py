"""A reviewed conversation turned into a conversation test: a story in the repository's test format (as in
tests/conversations/*.yml: the person's text with its entities, the intent, then the actions, slots and loops
that followed), appended to tests/conversations/test_reviewed.yml. Personal data is masked in the story.

The story is read back with Rasa's own YAML story reader and checked against the domain (as `rasa data
validate` does) before anything is written, so the file always loads.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from . import yamlfiles
from .inbox import _masked

FILE_NAME = "test_reviewed.yml"
HEADER = ('version: "3.1"\n'
          "# Conversations a trainer reviewed in the workbench (/console/train/conversations) and turned into tests\n"
          "# with one click: the person's words (personal data masked), the intents the model read and the actions,\n"
          "# slots and loops that followed. Run with the others by `make test-conversations`; edit freely.\n"
          "stories:\n")
SKIPPED_ACTIONS = {"action_listen", "action_session_start", "action_extract_slots", "action_unlikely_intent"}
SKIPPED_SLOTS = {"session_started_metadata"}


class StoryError(ValueError):
    """The conversation cannot be written as a test; the message says why, in Chinese."""


@dataclass(frozen=True)
class Written:
    path: Path
    name: str
    steps: int


def story_file(project_dir: Path) -> Path:
    return project_dir / "tests" / "conversations" / FILE_NAME


def story_name(conversation: str) -> str:
    return f"reviewed conversation {conversation}"


def _annotated(text: str, entities: List[dict], known: set) -> str:
    """The text with its entities inline ([词]{"entity": …, "value": …}), each piece masked on its own so the
    entities' places survive the masking."""
    if text.lstrip().startswith("/"):
        return _masked(text)[0]  # a button's payload: no entities to mark
    spans = sorted((e for e in entities if e.get("entity") in known and isinstance(e.get("start"), int)
                    and isinstance(e.get("end"), int) and 0 <= e["start"] < e["end"] <= len(text)),
                   key=lambda e: e["start"])
    out, at = [], 0
    for e in spans:
        if e["start"] < at:
            continue  # overlapping extractors: the first one wins
        out.append(_masked(text[at:e["start"]])[0] if text[at:e["start"]].strip() else text[at:e["start"]])
        label = {"entity": e["entity"]}
        value = e.get("value")
        if isinstance(value, str):
            label["value"] = _masked(value)[0]
        for extra in ("role", "group"):
            if e.get(extra):
                label[extra] = e[extra]
        out.append(f"[{_masked(text[e['start']:e['end']])[0]}]{json.dumps(label, ensure_ascii=False)}")
        at = e["end"]
    rest = text[at:]
    out.append(_masked(rest)[0] if rest.strip() else rest)
    return " ".join("".join(out).split())


def _value(value) -> str:
    if isinstance(value, str):
        value = _masked(value)[0]
    return json.dumps(value, ensure_ascii=False)


def steps(stored: List[dict], domain) -> List[str]:
    """The story's steps as YAML lines (indented for a story under `stories:`), from Rasa's stored events.
    Stops where a helper took over (the bot paused) or a second session began; a rewound turn is dropped."""
    known_entities = set(domain.entities)
    slots = {s.name for s in domain.slots}
    blocks: List[List[str]] = []
    user_at: List[int] = []  # index in blocks of each user step
    for e in stored:
        kind = e.get("event")
        if kind in ("pause", "restart") and user_at:
            break
        if kind == "session_started" and user_at:
            break
        if kind == "rewind" and user_at:
            del blocks[user_at.pop():]
            continue
        if kind == "user":
            intent = ((e.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            if not intent:
                continue
            user_at.append(len(blocks))
            text = e.get("text") or ""
            if intent.startswith("EXTERNAL_") or not text.strip():
                blocks.append([f"      - intent: {intent}"])
                continue
            annotated = _annotated(text, (e.get("parse_data") or {}).get("entities") or [], known_entities)
            blocks.append(["      - user: |", f"          {annotated}", f"        intent: {intent}"])
        elif not user_at:
            continue  # the session's start: slots of the channel's metadata, the first action_listen
        elif kind == "action" and e.get("name") and e["name"] not in SKIPPED_ACTIONS:
            blocks.append([f"      - action: {e['name']}"])
        elif kind == "slot" and e.get("name") in slots and e["name"] not in SKIPPED_SLOTS:
            blocks.append(["      - slot_was_set:", f"          - {e['name']}: {_value(e.get('value'))}"])
        elif kind == "active_loop":
            blocks.append([f"      - active_loop: {e.get('name') or 'null'}"])
    if not user_at:
        raise StoryError("这段对话里没有群众说的话，不能转成测试")
    return [line for block in blocks for line in block]


def _check_domain(lines_text: str, domain) -> None:
    """What `rasa data validate` refuses in a story: an intent, action, slot or form the domain lacks."""
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    from rasa.shared.exceptions import RasaException

    try:
        story_steps = YAMLStoryReader(domain, source_name=FILE_NAME).read_from_string(lines_text)
    except RasaException as exc:
        raise StoryError(f"Rasa 读不了这个测试：{exc}") from exc
    intents, actions = set(domain.intents), set(domain.action_names_or_texts)
    for step in story_steps:
        for event in step.events:
            if isinstance(event, UserUttered) and event.intent_name not in intents:
                raise StoryError(f"意图 {event.intent_name} 不在 domain.yml 里")
            if isinstance(event, ActionExecuted) and event.action_name and event.action_name not in actions:
                raise StoryError(f"动作 {event.action_name} 不在 domain.yml 里")
            if isinstance(event, ActiveLoop) and event.name and event.name not in domain.form_names:
                raise StoryError(f"表单 {event.name} 不在 domain.yml 里")
            if isinstance(event, SlotSet) and event.key not in {s.name for s in domain.slots}:
                raise StoryError(f"槽 {event.key} 不在 domain.yml 里")


_DOMAIN: dict = {}
_DOMAIN_LOCK = threading.Lock()
_LOCK = threading.Lock()  # one writer of the story file in this process


def load_domain(project_dir: Path):
    """The project's domain, read again only when domain.yml changed."""
    from rasa.shared.core.domain import Domain

    path = project_dir / "domain.yml"
    stamp = (str(path), path.stat().st_mtime_ns, path.stat().st_size)
    with _DOMAIN_LOCK:
        if stamp not in _DOMAIN:
            _DOMAIN.clear()
            _DOMAIN[stamp] = Domain.load(str(path))
        return _DOMAIN[stamp]


def write_story(project_dir: Path, conversation: str, stored: List[dict], note: str = "") -> Written:
    """Append the conversation as a test story; refused (StoryError) when it is there already or would not load."""
    domain = load_domain(project_dir)
    body = steps(stored, domain)
    name = story_name(conversation)
    path = story_file(project_dir)
    with _LOCK:
        current = path.read_text(encoding="utf-8") if path.exists() else HEADER
        if f"  - story: {name}\n" in current:
            raise StoryError("这段对话已经转成过测试")
        head: Tuple[str, ...] = (f"  - story: {name}",) + ((f"    # {note}",) if note else ()) + ("    steps:",)
        block = "\n".join(head + tuple(body)) + "\n"
        new_text = current + ("\n" if current != HEADER else "") + block
        _check_domain(new_text, domain)
        path.parent.mkdir(parents=True, exist_ok=True)
        yamlfiles.write_atomic(path, new_text)
    return Written(path, name, sum(1 for line in body if line.startswith("      - ")))


def written_stories(project_dir: Path) -> Optional[List[str]]:
    path = story_file(project_dir)
    if not path.exists():
        return None
    return [line[len("  - story: "):] for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("  - story: ")]
