"""One catalog per action-server process, opened on first use (not at import) and kept in memory."""
from __future__ import annotations

import threading
from typing import Optional

from knowledge import Catalog, open_catalog

_lock = threading.Lock()
_catalog: Optional[Catalog] = None


def catalog() -> Catalog:
    global _catalog
    with _lock:
        if _catalog is None:
            _catalog = open_catalog(cache=True)
        return _catalog


def reset() -> None:
    """Forget the cached catalog, e.g. after DATABASE_URL changed (tests) or the catalog was reloaded."""
    global _catalog
    with _lock:
        _catalog = None
