"""One catalog and one search index per action-server process, created on first use (not at import)."""
from __future__ import annotations

import threading
from typing import Optional

from knowledge import Catalog, MatterSearch, make_engine

_lock = threading.Lock()
_catalog: Optional[Catalog] = None
_search: Optional[MatterSearch] = None


def catalog() -> Catalog:
    global _catalog
    with _lock:
        if _catalog is None:
            _catalog = Catalog(make_engine(), cache=True)
        return _catalog


def search() -> MatterSearch:
    global _search
    current = catalog()
    with _lock:
        if _search is None:
            _search = MatterSearch.from_catalog(current)
        return _search


def reset() -> None:
    """Forget the cached catalog, e.g. after DATABASE_URL changed (tests) or the catalog was reloaded."""
    global _catalog, _search
    with _lock:
        _catalog, _search = None, None
