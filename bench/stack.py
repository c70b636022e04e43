"""What every benchmark of the whole stack does first: a fresh catalog database in its temporary folder, and
Settings for a stack on free ports there (as `make run` would start it, with this process's environment)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Optional

from bot.settings import Settings
from bot.supervisor import free_ports


def fresh_catalog(folder: str) -> str:
    """Loads the catalog files into a new SQLite database in `folder`; returns its URL."""
    url = f"sqlite:///{Path(folder) / 'catalog.sqlite3'}"
    subprocess.run([sys.executable, "-m", "knowledge", "--database-url", url, "load"], check=True,
                   stdout=subprocess.DEVNULL)
    return url


def stack_settings(folder: str, database_url: str, env: Optional[Mapping[str, str]] = None, **extra: str) -> Settings:
    """Free ports, the database, logs and Rasa's tracker file in `folder`; `env` (default: this process's) and
    `extra` variables on top."""
    rasa_port, action_port, web_port = free_ports(3)
    return Settings.from_env(dict(env if env is not None else os.environ, RASA_PORT=str(rasa_port),
                                  ACTION_PORT=str(action_port), WEB_PORT=str(web_port), DATABASE_URL=database_url,
                                  LOG_DIR=folder, TRACKER_DB=str(Path(folder) / "tracker.sqlite3"), **extra))
