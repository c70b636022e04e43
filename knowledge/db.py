"""Engine creation from a database URL (SQLite by default, PostgreSQL by URL)."""
from __future__ import annotations

from pathlib import Path
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'var' / 'catalog.sqlite3'}"


def make_engine(url: str) -> Engine:
    """An engine for this URL (callers take it from their configuration: Settings, or the CLI's environment)."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
