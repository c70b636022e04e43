"""Actions on tracker snapshots (tests/trackers/*.json) against the fixture catalog: the shared pieces."""
import json
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import catalog_access
from knowledge import make_engine
from knowledge.loader import load

ROOT = Path(__file__).resolve().parent.parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
FIXTURE_CATALOG = Path(__file__).parent.parent / "fixtures" / "catalog"


@pytest.fixture(autouse=True)
def fixture_catalog(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    load(make_engine(url), FIXTURE_CATALOG)
    monkeypatch.setenv("DATABASE_URL", url)
    catalog_access.reset()
    yield
    catalog_access.reset()


def snapshot(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((Path(__file__).parent.parent / "trackers" / name).read_text(encoding="utf-8")))


def run(action, name):
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, snapshot(name), DOMAIN)
    return dispatcher.messages, events


def rendered(message) -> str:
    template = DOMAIN["responses"][message["response"]][0]["text"]
    return template.format(**{k: v for k, v in message.items() if k not in ("response", "buttons")})
