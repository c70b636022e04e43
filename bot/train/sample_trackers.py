"""Conversations written into a tracker store through Rasa's own SQLTrackerStore, for the tests and the inbox
benchmark: each conversation is a list of turns (what the person said, what the NLU made of it, what the bot did).
"""
from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple


@dataclass
class SampleTurn:
    text: str
    intent: str
    confidence: float = 0.95
    actions: Sequence[str] = ("action_answer",)
    utters: Sequence[str] = ("utter_matter_overview",)
    slots: Dict[str, object] = field(default_factory=dict)
    ranking: Sequence[Tuple[str, float]] = ()
    entities: Sequence[dict] = ()  # as the NLU gives them: entity, value, start, end


def _events(turns: Sequence[SampleTurn], channel: str, start: float) -> list:
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

    events = [ActionExecuted("action_session_start", timestamp=start), SessionStarted(timestamp=start),
              ActionExecuted("action_listen", timestamp=start)]
    clock = start
    for turn in turns:
        clock += 20.0
        ranking = [{"name": n, "confidence": c} for n, c in (turn.ranking or [(turn.intent, turn.confidence)])]
        parse = {"text": turn.text, "intent": {"name": turn.intent, "confidence": turn.confidence},
                 "intent_ranking": ranking, "entities": [dict(e) for e in turn.entities]}
        events.append(UserUttered(turn.text, intent=parse["intent"], parse_data=parse, input_channel=channel,
                                  timestamp=clock, entities=parse["entities"]))
        for action in turn.actions:
            events.append(ActionExecuted(action, timestamp=clock + 1))
        for utter in turn.utters:
            events.append(BotUttered(f"({utter})", metadata={"utter_action": utter}, timestamp=clock + 1))
        for name, value in turn.slots.items():
            events.append(SlotSet(name, value, timestamp=clock + 1))
        events.append(ActionExecuted("action_listen", timestamp=clock + 2))
    return events


async def _save_all(db: Path, conversations: Dict[str, Tuple[str, Sequence[SampleTurn]]], start: float) -> None:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db))
    for i, (sender, (channel, turns)) in enumerate(conversations.items()):
        tracker = DialogueStateTracker.from_events(sender, _events(turns, channel, start + i * 600.0))
        await store.save(tracker)


def write_conversations(db: Path, conversations: Dict[str, Tuple[str, Sequence[SampleTurn]]],
                        start: Optional[float] = None) -> None:
    """{sender: (channel, turns)} saved by Rasa's SQLTrackerStore into the SQLite file `db`."""
    job = _save_all(db, conversations, start if start is not None else time.time() - 86400)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(job)
        return
    # Called where an event loop runs already (Playwright's sync API): in a thread of its own.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, job).result()


def replicate(db: Path, copies: int) -> int:
    """Multiply the stored conversations `copies` times under new sender ids (Rasa's rows, copied in SQL);
    returns the number of user turns stored afterwards."""
    with sqlite3.connect(str(db)) as conn:
        columns = "type_name, timestamp, intent_name, action_name, data"
        for n in range(1, copies):
            conn.execute(f"INSERT INTO events (sender_id, {columns}) SELECT sender_id || '#{n}', {columns} "
                         "FROM events WHERE sender_id NOT LIKE '%#%' ORDER BY id")
        return conn.execute("SELECT COUNT(*) FROM events WHERE type_name = 'user'").fetchone()[0]
