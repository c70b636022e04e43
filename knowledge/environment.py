"""The catalog layer's one reader of the environment (the other is bot/settings.py): this layer must not import
bot/ (it runs before anything else exists: `make catalog`, the Rasa components, benchmarks), so the few
variables it honours are read here and nowhere else in knowledge/."""
from __future__ import annotations

import os
from typing import Mapping, Optional, Tuple

from .db import EMBEDDED_DATABASE_URL

ENCODER_SWITCH = "MATTER_ENCODER"  # "off" (or 0/false/no) ranks matters by words only
DEFAULT_ENCODER_THREADS = 1


def catalog_env(env: Mapping[str, str] = os.environ) -> Tuple[str, Optional[str]]:
    """(database URL, city) from DATABASE_URL and CATALOG_CITY, for the catalog's command line; every other
    caller hands the URL and the city in from its Settings."""
    return ((env.get("DATABASE_URL") or "").strip() or EMBEDDED_DATABASE_URL,
            (env.get("CATALOG_CITY") or "").strip() or None)


def encoder_enabled(env: Mapping[str, str] = os.environ) -> bool:
    return env.get(ENCODER_SWITCH, "on").strip().lower() not in ("off", "0", "false", "no")


def encoder_threads(env: Mapping[str, str] = os.environ) -> int:
    """BLAS threads per encode call (ENCODER_THREADS, e.g. for bulk encoding in a benchmark)."""
    try:
        return max(1, int(env.get("ENCODER_THREADS", DEFAULT_ENCODER_THREADS)))
    except ValueError:
        return DEFAULT_ENCODER_THREADS
