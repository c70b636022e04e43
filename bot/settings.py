"""Runtime configuration, read from environment variables with local defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from bot.channels.wechat_config import wechat_env
from knowledge.db import EMBEDDED_DATABASE_URL

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use."""


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a port number, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"{name} must be between 1 and 65535, got {port}")
    return port


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _minutes(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of minutes, got {raw!r}") from None
    if not 0 <= value <= 24 * 60:
        raise SettingsError(f"{name} must be between 0 (off) and 1440, got {value}")
    return value


def _optional_port(env: Mapping[str, str], name: str) -> Optional[int]:
    return _port(env, name, 0) or None


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name, "").strip()
    # Absolute paths, so child processes with another cwd see the same files.
    return Path(raw).expanduser().resolve() if raw else default


def _timezone(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(raw)
    except Exception:
        raise SettingsError(f"{name} must be a time zone name such as Asia/Shanghai, got {raw!r}") from None
    return raw


def _public_url(env: Mapping[str, str]) -> Optional[str]:
    raw = env.get("PUBLIC_URL", "").strip().rstrip("/")
    if not raw:
        return None
    if not raw.startswith(("http://", "https://")) or any(ch.isspace() for ch in raw):
        raise SettingsError(f"PUBLIC_URL must be an http(s):// address, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    rasa_port: int = 5005
    action_port: int = 5055
    web_port: int = 8000
    host: str = "127.0.0.1"
    database_url: str = EMBEDDED_DATABASE_URL
    model_dir: Path = REPO_ROOT / "models"
    log_dir: Path = REPO_ROOT / "logs"
    # Rasa's conversations (trackers) in SQLite, so a Rasa restart does not forget them.
    tracker_db: Path = REPO_ROOT / "var" / "tracker.sqlite3"
    project_dir: Path = REPO_ROOT
    # Loading the model takes most of it on a 2-core machine.
    startup_timeout: float = 300.0
    # Set only when Rasa runs elsewhere (scale-out); otherwise derived from host and port.
    rasa_url_override: Optional[str] = None
    # ---- handoff (帮办代办) ----
    # The web server's internal handoff API listens on 127.0.0.1 only, on this port, and wants this secret.
    # `python -m bot.run` picks a free port and a new secret for every run unless these are set.
    handoff_port: Optional[int] = None
    handoff_secret: str = field(default="", repr=False)
    handoff_config: Path = REPO_ROOT / "bot" / "handoff" / "handoff.yml"
    # Tickets, helpers and sessions; the catalog's database unless set.
    handoff_database_url: Optional[str] = None
    console_session_minutes: int = 480
    console_secure_cookie: bool = False
    # ---- ratings (好差评) ----
    # Minutes without a message after a bot answer before the page asks for a rating (once); 0 turns it off.
    rating_idle_minutes: float = 5.0
    # ---- guide: the address citizens reach the web server at (links to the printable notice) ----
    public_url_override: Optional[str] = None
    # ---- the hall's clock: every date and time shown to citizens and helpers (the notice, the console) ----
    hall_timezone: str = "Asia/Shanghai"
    # ---- wechat (公众号) ----
    # The WECHAT_* variables that are set; passed to the Rasa process, whose channel reads them.
    wechat_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        defaults = cls()
        return cls(
            rasa_port=_port(env, "RASA_PORT", defaults.rasa_port),
            action_port=_port(env, "ACTION_PORT", defaults.action_port),
            web_port=_port(env, "WEB_PORT", defaults.web_port),
            host=env.get("HOST", "").strip() or defaults.host,
            database_url=env.get("DATABASE_URL", "").strip() or defaults.database_url,
            model_dir=_path(env, "MODEL_DIR", defaults.model_dir),
            log_dir=_path(env, "LOG_DIR", defaults.log_dir),
            tracker_db=_path(env, "TRACKER_DB", defaults.tracker_db),
            startup_timeout=_seconds(env, "STARTUP_TIMEOUT", defaults.startup_timeout),
            rasa_url_override=(env.get("RASA_URL", "").strip().rstrip("/") or None),
            handoff_port=_optional_port(env, "HANDOFF_PORT"),
            handoff_secret=env.get("HANDOFF_SECRET", "").strip(),
            handoff_config=_path(env, "HANDOFF_CONFIG", defaults.handoff_config),
            handoff_database_url=env.get("HANDOFF_DATABASE_URL", "").strip() or None,
            console_session_minutes=_positive_int(env, "CONSOLE_SESSION_MINUTES", defaults.console_session_minutes),
            console_secure_cookie=_flag(env, "CONSOLE_SECURE_COOKIE"),
            rating_idle_minutes=_minutes(env, "RATING_IDLE_MINUTES", defaults.rating_idle_minutes),
            public_url_override=_public_url(env),
            hall_timezone=_timezone(env, "HALL_TIMEZONE", defaults.hall_timezone),
            wechat_env=wechat_env(env),
        )

    @property
    def connect_host(self) -> str:
        """Address to reach our own servers: a wildcard bind address is not one."""
        if self.host in ("0.0.0.0", "::", ""):
            return "127.0.0.1"
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def rasa_url(self) -> str:
        return self.rasa_url_override or f"http://{self.connect_host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        # rasa_sdk cannot choose its bind address; it always listens on all interfaces.
        return f"http://127.0.0.1:{self.action_port}"

    @property
    def action_endpoint_url(self) -> str:
        return f"{self.action_url}/webhook"

    @property
    def web_url(self) -> str:
        return f"http://{self.connect_host}:{self.web_port}"

    @property
    def public_url(self) -> str:
        """Base of links given to citizens (PUBLIC_URL, e.g. https://zwfw.example.gov.cn behind a proxy)."""
        return self.public_url_override or f"http://localhost:{self.web_port}"

    @property
    def handoff_url(self) -> Optional[str]:
        """The internal handoff API of the web server (always on the loopback interface)."""
        return f"http://127.0.0.1:{self.handoff_port}" if self.handoff_port else None

    @property
    def handoff_db_url(self) -> str:
        return self.handoff_database_url or self.database_url

    @property
    def wechat_enabled(self) -> bool:
        return bool(self.wechat_env.get("WECHAT_TOKEN"))

    @property
    def wechat_deliver_url(self) -> Optional[str]:
        """Where the handoff sends helper messages for WeChat people: the channel in the Rasa process."""
        return f"{self.rasa_url}/webhooks/wechat/deliver" if self.wechat_enabled else None

    @property
    def hall_tz(self):
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.hall_timezone)

    @property
    def domain_path(self) -> Path:
        return self.project_dir / "domain.yml"

    def child_env(self, base: Mapping[str, str] = os.environ) -> dict:
        """Environment for the processes we start, so they all see the same configuration."""
        env = dict(base)
        env.update(
            RASA_PORT=str(self.rasa_port),
            ACTION_PORT=str(self.action_port),
            WEB_PORT=str(self.web_port),
            HOST=self.host,
            DATABASE_URL=self.database_url,
            MODEL_DIR=str(self.model_dir),
            LOG_DIR=str(self.log_dir),
            TRACKER_DB=str(self.tracker_db),
            ACTION_ENDPOINT_URL=self.action_endpoint_url,
            PYTHONUNBUFFERED="1",
        )
        if self.rasa_url_override:
            env["RASA_URL"] = self.rasa_url_override
        if self.handoff_port:
            env["HANDOFF_PORT"] = str(self.handoff_port)
            env["HANDOFF_URL"] = self.handoff_url
        if self.handoff_secret:
            env["HANDOFF_SECRET"] = self.handoff_secret
        env["HANDOFF_CONFIG"] = str(self.handoff_config)
        env["RATING_IDLE_MINUTES"] = repr(self.rating_idle_minutes)
        env["PUBLIC_URL"] = self.public_url
        env["HALL_TIMEZONE"] = self.hall_timezone
        if self.handoff_database_url:
            env["HANDOFF_DATABASE_URL"] = self.handoff_database_url
        env.update(self.wechat_env)
        return env
