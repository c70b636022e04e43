"""WeChat channel configuration, from environment variables (never from credentials.yml: Rasa fails on unset ${VAR})."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping, Optional

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_MENU = Path(__file__).resolve().parent / "wechat_menu.yml"
DEFAULT_API_BASE_URL = "https://api.weixin.qq.com/cgi-bin/"
ENV_NAMES = ("WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_SECRET", "WECHAT_AES_KEY", "WECHAT_API_BASE_URL",
             "WECHAT_REPLY_BUDGET", "WECHAT_MAX_CLOCK_SKEW", "WECHAT_MENU_CONFIG", "WECHAT_RETRY_FIRST",
             "WECHAT_RETRY_MAX")


class WeChatConfigError(ValueError):
    """A WeChat variable is set but unusable; the message names it."""


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise WeChatConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise WeChatConfigError(f"{name} must be positive, got {value}")
    return value


@dataclass(frozen=True)
class WeChatConfig:
    token: str = field(default="", repr=False)
    appid: str = ""
    secret: str = field(default="", repr=False)
    aes_key: str = field(default="", repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    # WeChat waits 5 s for a passive reply; past this budget the answer goes out as 客服消息 instead.
    reply_budget: float = 4.0
    # Requests whose timestamp is further from now than this are refused as stale (replays).
    max_clock_skew: float = 300.0
    # A 客服消息 that failed for a passing reason is retried after this, doubling up to retry_max.
    retry_first: float = 2.0
    retry_max: float = 300.0
    menu_path: Path = DEFAULT_MENU

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    @property
    def can_send(self) -> bool:
        """客服消息 needs the app id and secret (for the access token)."""
        return bool(self.appid and self.secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "WeChatConfig":
        aes_key = (env.get("WECHAT_AES_KEY") or "").strip()
        appid = (env.get("WECHAT_APPID") or "").strip()
        if aes_key:
            try:
                if len(base64.b64decode(aes_key + "=", validate=True)) != 32:
                    raise ValueError
            except (binascii.Error, ValueError):
                raise WeChatConfigError("WECHAT_AES_KEY must be the 43-character EncodingAESKey") from None
            if not appid:
                raise WeChatConfigError("WECHAT_AES_KEY needs WECHAT_APPID (safe mode checks the app id)")
        base_url = (env.get("WECHAT_API_BASE_URL") or "").strip() or DEFAULT_API_BASE_URL
        if not base_url.startswith(("https://", "http://")):
            raise WeChatConfigError(f"WECHAT_API_BASE_URL must be an http(s) URL, got {base_url!r}")
        menu = (env.get("WECHAT_MENU_CONFIG") or "").strip()
        return cls(
            token=(env.get("WECHAT_TOKEN") or "").strip(), appid=appid,
            secret=(env.get("WECHAT_SECRET") or "").strip(), aes_key=aes_key,
            api_base_url=base_url.rstrip("/") + "/",
            reply_budget=_seconds(env, "WECHAT_REPLY_BUDGET", cls.reply_budget),
            max_clock_skew=_seconds(env, "WECHAT_MAX_CLOCK_SKEW", cls.max_clock_skew),
            retry_first=_seconds(env, "WECHAT_RETRY_FIRST", cls.retry_first),
            retry_max=_seconds(env, "WECHAT_RETRY_MAX", cls.retry_max),
            menu_path=Path(menu).expanduser().resolve() if menu else DEFAULT_MENU,
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
    return {name: env[name] for name in ENV_NAMES if (env.get(name) or "").strip()}
