"""What every action shares in one action-server process, built on first use (not at import) and kept:
the configuration (`Settings`, read from the environment once), the catalog (in memory) and the client of the
web server's internal handoff API."""
from __future__ import annotations

import threading
from typing import Optional

from bot.clients.handoff import HandoffClient
from bot.settings import Settings
from knowledge import Catalog, open_catalog

_lock = threading.Lock()
_catalog: Optional[Catalog] = None
_settings: Optional[Settings] = None
_handoff: Optional[HandoffClient] = None


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


def reset() -> None:
    """Forget the configuration and the catalog, e.g. after the environment changed (tests) or a catalog reload."""
    global _catalog, _settings, _handoff
    with _lock:
        _catalog = None
        _settings = None
        _handoff = None
