"""Runtime configuration: the only reader of the environment (with knowledge/__main__.py, the catalog CLI, which
must not import bot/). Every process builds one `Settings` with `Settings.from_env()` and hands it, or the parts
it needs, to what it builds; child processes get the same values through `Settings.child_env()`."""
from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, TypeVar

import yaml

from knowledge.db import EMBEDDED_DATABASE_URL

REPO_ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use; the message names it."""


class WeChatConfigError(SettingsError):
    """A WeChat variable is set but unusable; the message names it."""


# ---- one parser per kind of value ----------------------------------------------------------------------------

def _raw(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def _number(env: Mapping[str, str], name: str, default: T, convert: Callable[[str], T], what: str,
            low: float, high: Optional[float] = None, error: type = SettingsError) -> T:
    """A number of some kind between low and high (inclusive); the default when unset."""
    raw = _raw(env, name)
    if not raw:
        return default
    try:
        value = convert(raw)
    except ValueError:
        raise error(f"{name} must be {what}, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else ("positive" if low > 0 else f">= {low:g}")
        raise error(f"{name} must be {span}, got {value}")
    return value


def port(env: Mapping[str, str], name: str, default: Optional[int]) -> Optional[int]:
    return _number(env, name, default, int, "a port number", 1, 65535)


def seconds(env: Mapping[str, str], name: str, default: float, error: type = SettingsError) -> float:
    return _number(env, name, default, float, "a number of seconds", 1e-9, error=error)


def minutes(env: Mapping[str, str], name: str, default: float) -> float:
    """0 turns the feature off; at most a day."""
    return _number(env, name, default, float, "a number of minutes (0 = off)", 0, 24 * 60)


def count(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int, "a whole number", 1)


def flag(env: Mapping[str, str], name: str) -> bool:
    return _raw(env, name).lower() in ("1", "true", "yes", "on")


def path(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = _raw(env, name)
    # Absolute paths, so child processes with another cwd see the same files.
    return Path(raw).expanduser().resolve() if raw else default


def timezone(env: Mapping[str, str], name: str, default: str) -> str:
    raw = _raw(env, name) or default
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(raw)
    except Exception:
        raise SettingsError(f"{name} must be a time zone name such as Asia/Shanghai, got {raw!r}") from None
    return raw


def url(env: Mapping[str, str], name: str, default: Optional[str] = None,
        error: type = SettingsError) -> Optional[str]:
    """An http(s) address without its trailing slash."""
    raw = _raw(env, name).rstrip("/")
    if not raw:
        return default
    if not raw.startswith(("http://", "https://")) or any(ch.isspace() for ch in raw):
        raise error(f"{name} must be an http(s):// address, got {raw!r}")
    return raw


def text(env: Mapping[str, str], name: str, default: Optional[str] = "") -> Optional[str]:
    return _raw(env, name) or default


REDIS_SCHEMES = ("redis", "rediss")


def store_url(env: Mapping[str, str], name: str, schemes: tuple) -> Optional[str]:
    """A database or Redis address (TRACKER_STORE_URL, LOCK_STORE_URL) of one of these schemes; None when unset."""
    raw = _raw(env, name)
    if not raw:
        return None
    scheme = raw.split("://", 1)[0].split("+", 1)[0].lower() if "://" in raw else ""
    if scheme not in schemes or any(ch.isspace() for ch in raw):
        raise SettingsError(f"{name} must be a {' or '.join(s + '://' for s in schemes)} address, got "
                            f"{raw.split('@')[-1]!r}")  # never echo a password
    return raw


# ---- WeChat (公众号) --------------------------------------------------------------------------------------------
# From environment variables, never from credentials.yml (Rasa fails on an unset ${VAR}).

DEFAULT_WECHAT_MENU = REPO_ROOT / "bot" / "channels" / "wechat_menu.yml"
DEFAULT_WECHAT_API = "https://api.weixin.qq.com/cgi-bin/"
WECHAT_ENV_NAMES = ("WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_SECRET", "WECHAT_AES_KEY", "WECHAT_API_BASE_URL",
                    "WECHAT_REPLY_BUDGET", "WECHAT_MAX_CLOCK_SKEW", "WECHAT_MENU_CONFIG", "WECHAT_RETRY_FIRST",
                    "WECHAT_RETRY_MAX")


@dataclass(frozen=True)
class WeChatConfig:
    token: str = field(default="", repr=False)
    appid: str = ""
    secret: str = field(default="", repr=False)
    aes_key: str = field(default="", repr=False)
    api_base_url: str = DEFAULT_WECHAT_API
    # WeChat waits 5 s for a passive reply; past this budget the answer goes out as 客服消息 instead.
    reply_budget: float = 4.0
    # Requests whose timestamp is further from now than this are refused as stale (replays).
    max_clock_skew: float = 300.0
    # A 客服消息 that failed for a passing reason is retried after this, doubling up to retry_max.
    retry_first: float = 2.0
    retry_max: float = 300.0
    menu_path: Path = DEFAULT_WECHAT_MENU

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    @property
    def can_send(self) -> bool:
        """客服消息 needs the app id and secret (for the access token)."""
        return bool(self.appid and self.secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "WeChatConfig":
        aes_key, appid = _raw(env, "WECHAT_AES_KEY"), _raw(env, "WECHAT_APPID")
        if aes_key:
            try:
                if len(base64.b64decode(aes_key + "=", validate=True)) != 32:
                    raise ValueError
            except (binascii.Error, ValueError):
                raise WeChatConfigError("WECHAT_AES_KEY must be the 43-character EncodingAESKey") from None
            if not appid:
                raise WeChatConfigError("WECHAT_AES_KEY needs WECHAT_APPID (safe mode checks the app id)")
        base_url = url(env, "WECHAT_API_BASE_URL", DEFAULT_WECHAT_API, error=WeChatConfigError)

        def secs(name: str, default: float) -> float:
            return seconds(env, name, default, error=WeChatConfigError)

        return cls(
            token=_raw(env, "WECHAT_TOKEN"), appid=appid, secret=_raw(env, "WECHAT_SECRET"), aes_key=aes_key,
            api_base_url=base_url.rstrip("/") + "/",
            reply_budget=secs("WECHAT_REPLY_BUDGET", cls.reply_budget),
            max_clock_skew=secs("WECHAT_MAX_CLOCK_SKEW", cls.max_clock_skew),
            retry_first=secs("WECHAT_RETRY_FIRST", cls.retry_first),
            retry_max=secs("WECHAT_RETRY_MAX", cls.retry_max),
            menu_path=path(env, "WECHAT_MENU_CONFIG", DEFAULT_WECHAT_MENU),
        )

    def menu(self) -> Dict[str, str]:
        """Menu click EventKey -> what the bot receives (an intent payload such as /ask_hours, or a question)."""
        try:
            data = yaml.safe_load(self.menu_path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise WeChatConfigError(f"cannot read the WeChat menu {self.menu_path}: {exc}") from None
        items = data.get("menu") if isinstance(data, dict) else None
        if not isinstance(items, dict) or not all(isinstance(v, str) and v for v in items.values()):
            raise WeChatConfigError(f"{self.menu_path}: `menu` must map each EventKey to a payload or a question")
        return {str(k): v for k, v in items.items()}

    def describe(self) -> Optional[str]:
        """One line for the operator: which mode, and whether 客服消息 can be sent."""
        if not self.enabled:
            return None
        mode = "safe/compatible mode (AES)" if self.aes_key else "plain-text mode"
        sending = "客服消息 on" if self.can_send else "客服消息 off (no WECHAT_APPID/WECHAT_SECRET)"
        return f"{mode}, {sending}"


def wechat_env(env: Mapping[str, str]) -> Dict[str, str]:
    """The WECHAT_* variables that are set, to pass on to the Rasa process."""
    return {name: env[name] for name in WECHAT_ENV_NAMES if _raw(env, name)}


# ---- the whole configuration --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    rasa_port: int = 5005
    action_port: int = 5055
    web_port: int = 8000
    host: str = "127.0.0.1"
    database_url: str = EMBEDDED_DATABASE_URL
    # The city put into the catalog's {city} placeholders; the catalog's own hall.yml city when unset.
    catalog_city: Optional[str] = None
    model_dir: Path = REPO_ROOT / "models"
    log_dir: Path = REPO_ROOT / "logs"
    # Rasa's conversations (trackers) in SQLite, so a Rasa restart does not forget them.
    tracker_db: Path = REPO_ROOT / "var" / "tracker.sqlite3"
    project_dir: Path = REPO_ROOT
    # Loading the model takes most of it on a 2-core machine.
    startup_timeout: float = 300.0
    # Set only when Rasa runs elsewhere (scale-out); otherwise derived from host and port.
    rasa_url_override: Optional[str] = None
    # ---- scale-out (README "Several processes"): unset = the embedded layout ----
    # Rasa's tracker store (SQLite file TRACKER_DB, or postgresql://...) and lock store (in memory, or redis://...).
    tracker_store_url_override: Optional[str] = field(default=None, repr=False)
    lock_store_url: Optional[str] = field(default=None, repr=False)
    # Rasa processes on RASA_PORT+1.. behind the proxy on RASA_PORT (one: Rasa itself on RASA_PORT).
    rasa_workers: int = 1
    # Action server processes sharing ACTION_PORT (SO_REUSEPORT).
    action_workers: int = 1
    # With LOCK_STORE_URL: a conversation's lock ticket expires after this (Rasa's TICKET_LOCK_LIFETIME, 60 s by
    # default); a Rasa process killed in the middle of a turn holds that person back at most this long.
    lock_lifetime: int = 15
    # ---- handoff (帮办代办) ----
    # The web server's internal handoff API listens on 127.0.0.1 only, on this port, and wants this secret.
    # `python -m bot.run` picks a free port and a new secret for every run unless these are set.
    handoff_port: Optional[int] = None
    handoff_secret: str = field(default="", repr=False)
    # Rasa sends this to the action server on every call; `python -m bot.run` picks one per run unless set.
    action_token: str = field(default="", repr=False)
    # Rasa's HTTP API (trackers, events, the model) wants this token (`rasa run --auth-token`); our servers send
    # it. The channels' webhooks (REST, socket.io, WeChat) do not. Picked per run unless set.
    rasa_token: str = field(default="", repr=False)
    # Signs the page's sender ids (bot/web/senders.py); `python -m bot.run` keeps one in var/web_secret.
    web_secret: str = field(default="", repr=False)
    handoff_config: Path = REPO_ROOT / "bot" / "handoff" / "handoff.yml"
    # Tickets, helpers and sessions; the catalog's database unless set.
    handoff_database_url: Optional[str] = None
    console_session_minutes: int = 480
    console_secure_cookie: bool = False
    # ---- back-pressure: turns sent to Rasa at once by the web server, and how many more may wait ----
    rasa_in_flight: int = 8
    rasa_queue_limit: int = 400
    # ---- personal data: conversations, tickets, complaints and comments are kept this many days ----
    retention_days: int = 180
    # ---- ratings (好差评) ----
    # Minutes without a message after a bot answer before the page asks for a rating (once); 0 turns it off.
    rating_idle_minutes: float = 5.0
    # ---- guide: the address citizens reach the web server at (links to the printable notice) ----
    public_url_override: Optional[str] = None
    # ---- the hall's clock: every date and time shown to citizens and helpers (the notice, the console) ----
    hall_timezone: str = "Asia/Shanghai"
    # ---- wechat (公众号) ----
    wechat: WeChatConfig = field(default_factory=WeChatConfig, repr=False)
    # The WECHAT_* variables that are set, passed on unchanged to the Rasa process, whose channel reads them.
    wechat_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    # ---- scale-out of the web server ----
    # Web processes on WEB_PORT (SO_REUSEPORT: the kernel spreads connections); more than one needs PUBSUB_URL,
    # the Redis that carries live events between them (bot/handoff/bus.py). repr=False: it may hold a password.
    web_workers: int = 1
    pubsub_url: Optional[str] = field(default=None, repr=False)
    # GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>`; unset, /metrics answers 404 (off).
    metrics_token: str = field(default="", repr=False)
    # Each web process keeps its counters here too, so /metrics sums every process of the machine.
    metrics_dir: Path = REPO_ROOT / "var" / "metrics"
    # Several machines: the internal handoff API listens on HANDOFF_HOST (a private interface; 127.0.0.1 by
    # default) and the action servers and Rasa's channels reach it at HANDOFF_URL (e.g. the web servers' proxy).
    handoff_host: str = "127.0.0.1"
    handoff_url_override: Optional[str] = None

    def __post_init__(self) -> None:
        if self.web_workers > 1 and not self.pubsub_url:
            raise SettingsError(
                f"WEB_WORKERS={self.web_workers} needs PUBSUB_URL (a Redis URL such as redis://127.0.0.1:6379/0): "
                "pages and consoles on different web processes must see each other's live events")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        d = cls()
        settings = cls(
            rasa_port=port(env, "RASA_PORT", d.rasa_port),
            action_port=port(env, "ACTION_PORT", d.action_port),
            web_port=port(env, "WEB_PORT", d.web_port),
            host=text(env, "HOST", d.host),
            database_url=text(env, "DATABASE_URL", d.database_url),
            catalog_city=text(env, "CATALOG_CITY", None),
            model_dir=path(env, "MODEL_DIR", d.model_dir),
            log_dir=path(env, "LOG_DIR", d.log_dir),
            tracker_db=path(env, "TRACKER_DB", d.tracker_db),
            startup_timeout=seconds(env, "STARTUP_TIMEOUT", d.startup_timeout),
            rasa_url_override=url(env, "RASA_URL"),
            tracker_store_url_override=store_url(env, "TRACKER_STORE_URL", ("sqlite", "postgresql")),
            lock_store_url=store_url(env, "LOCK_STORE_URL", REDIS_SCHEMES),
            rasa_workers=_number(env, "RASA_WORKERS", d.rasa_workers, int, "a whole number", 1, 64),
            action_workers=_number(env, "ACTION_WORKERS", d.action_workers, int, "a whole number", 1, 64),
            lock_lifetime=_number(env, "TICKET_LOCK_LIFETIME", d.lock_lifetime, int, "a number of seconds", 1, 3600),
            handoff_port=port(env, "HANDOFF_PORT", None),
            handoff_secret=text(env, "HANDOFF_SECRET"),
            action_token=text(env, "ACTION_TOKEN"),
            rasa_token=text(env, "RASA_TOKEN"),
            web_secret=text(env, "WEB_SECRET"),
            handoff_config=path(env, "HANDOFF_CONFIG", d.handoff_config),
            handoff_database_url=text(env, "HANDOFF_DATABASE_URL", None),
            console_session_minutes=count(env, "CONSOLE_SESSION_MINUTES", d.console_session_minutes),
            console_secure_cookie=flag(env, "CONSOLE_SECURE_COOKIE"),
            rasa_in_flight=count(env, "RASA_IN_FLIGHT", d.rasa_in_flight),
            rasa_queue_limit=count(env, "RASA_QUEUE_LIMIT", d.rasa_queue_limit),
            retention_days=count(env, "RETENTION_DAYS", d.retention_days),
            rating_idle_minutes=minutes(env, "RATING_IDLE_MINUTES", d.rating_idle_minutes),
            public_url_override=url(env, "PUBLIC_URL"),
            hall_timezone=timezone(env, "HALL_TIMEZONE", d.hall_timezone),
            wechat=WeChatConfig.from_env(env),
            wechat_env=wechat_env(env),
            web_workers=count(env, "WEB_WORKERS", d.web_workers),
            pubsub_url=store_url(env, "PUBSUB_URL", REDIS_SCHEMES + ("unix",)),
            metrics_token=text(env, "METRICS_TOKEN"),
            metrics_dir=path(env, "METRICS_DIR", d.metrics_dir),
            handoff_host=text(env, "HANDOFF_HOST", d.handoff_host),
            handoff_url_override=url(env, "HANDOFF_URL"),
        )
        if settings.rasa_workers > 1 and not settings.lock_store_url:
            # Several processes share conversations: Redis is the second guard and carries socket.io's rooms.
            raise SettingsError("RASA_WORKERS > 1 needs LOCK_STORE_URL (a redis:// address)")
        return settings

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
    def tracker_store_url(self) -> str:
        """Rasa's tracker store as a SQLAlchemy URL: TRACKER_STORE_URL, or the SQLite file TRACKER_DB."""
        return self.tracker_store_url_override or f"sqlite:///{self.tracker_db}"

    @property
    def rasa_worker_ports(self) -> List[int]:
        """One Rasa: RASA_PORT. Several: consecutive ports after RASA_PORT, where the proxy listens."""
        if self.rasa_workers == 1:
            return [self.rasa_port]
        return [self.rasa_port + i for i in range(1, self.rasa_workers + 1)]

    @property
    def rasa_worker_urls(self) -> List[str]:
        """Each Rasa process, for our own clients (the web server routes each sender to one of them)."""
        if self.rasa_url_override:
            return [self.rasa_url_override]
        return [f"http://{self.connect_host}:{p}" for p in self.rasa_worker_ports]

    @property
    def action_url(self) -> str:
        return f"http://{self.connect_host}:{self.action_port}"

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
        """The internal handoff API of the web server (on the loopback interface unless HANDOFF_URL says)."""
        if self.handoff_url_override:
            return self.handoff_url_override
        return f"http://127.0.0.1:{self.handoff_port}" if self.handoff_port else None

    @property
    def handoff_db_url(self) -> str:
        return self.handoff_database_url or self.database_url

    @property
    def wechat_enabled(self) -> bool:
        return self.wechat.enabled

    @property
    def socketio_deliver_url(self) -> str:
        """Where the handoff sends helper messages for people on a standard web widget (socket.io, in Rasa)."""
        return f"{self.rasa_url}/webhooks/socketio/deliver"

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
        if self.catalog_city:
            env["CATALOG_CITY"] = self.catalog_city
        if self.rasa_url_override:
            env["RASA_URL"] = self.rasa_url_override
        if self.tracker_store_url_override:
            env["TRACKER_STORE_URL"] = self.tracker_store_url_override
        if self.lock_store_url:
            env["LOCK_STORE_URL"] = self.lock_store_url
            env["TICKET_LOCK_LIFETIME"] = str(self.lock_lifetime)  # read by Rasa's lock store
        env["RASA_WORKERS"] = str(self.rasa_workers)
        env["ACTION_WORKERS"] = str(self.action_workers)
        if self.handoff_port:
            env["HANDOFF_PORT"] = str(self.handoff_port)
        if self.handoff_secret:
            env["HANDOFF_SECRET"] = self.handoff_secret
        if self.action_token:
            env["ACTION_TOKEN"] = self.action_token
        if self.rasa_token:
            env["RASA_TOKEN"] = self.rasa_token
        if self.web_secret:
            env["WEB_SECRET"] = self.web_secret
        env["HANDOFF_CONFIG"] = str(self.handoff_config)
        env["RATING_IDLE_MINUTES"] = repr(self.rating_idle_minutes)
        env["PUBLIC_URL"] = self.public_url
        env["HALL_TIMEZONE"] = self.hall_timezone
        if self.handoff_database_url:
            env["HANDOFF_DATABASE_URL"] = self.handoff_database_url
        env.update(self.wechat_env)
        env["WEB_WORKERS"] = str(self.web_workers)
        env["METRICS_DIR"] = str(self.metrics_dir)
        if self.pubsub_url:
            env["PUBSUB_URL"] = self.pubsub_url
        if self.metrics_token:
            env["METRICS_TOKEN"] = self.metrics_token
        env["HANDOFF_HOST"] = self.handoff_host
        if self.handoff_url_override:
            env["HANDOFF_URL"] = self.handoff_url_override
        return env
