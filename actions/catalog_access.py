"""What every action shares in one action-server process, built on first use (not at import) and kept:
the configuration (`Settings`, read from the environment once), the catalog (in memory) and the client of the
web server's internal handoff API, and the handoff database for the one fallback of actions/feedback_writes.py."""
from __future__ import annotations

import threading
from typing import Optional

from bot.clients.handoff import HandoffClient
from bot.handoff.feedback import FeedbackStore
from bot.settings import Settings
from knowledge import Catalog, open_catalog

_lock = threading.Lock()
_catalog: Optional[Catalog] = None
_settings: Optional[Settings] = None
_handoff: Optional[HandoffClient] = None
_feedback: Optional[FeedbackStore] = None


def settings() -> Settings:
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env()
        return _settings


def catalog() -> Catalog:
    global _catalog
    config = settings()
    with _lock:
        if _catalog is None:
            _catalog = open_catalog(config.database_url, cache=True, city=config.catalog_city)
        return _catalog


def handoff() -> HandoffClient:
    global _handoff
    config = settings()
    with _lock:
        if _handoff is None:
            _handoff = HandoffClient(config.handoff_url, config.handoff_secret)
        return _handoff


def feedback_store() -> FeedbackStore:
    """The handoff database, opened on first use (only when the web server could not take a write)."""
    global _feedback
    config = settings()
    with _lock:
        if _feedback is None:
            from bot.handoff.config import HandoffConfig
            from knowledge import make_engine

            store = FeedbackStore(make_engine(config.handoff_db_url), HandoffConfig.load(config.handoff_config).tz)
            store.setup()
            _feedback = store
        return _feedback


def reset() -> None:
    """Forget the configuration and the catalog, e.g. after the environment changed (tests) or a catalog reload."""
    global _catalog, _settings, _handoff, _feedback
    with _lock:
        _feedback = None
        _catalog = None
        _settings = None
        _handoff = None
