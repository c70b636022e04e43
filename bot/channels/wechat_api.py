"""Sending one 客服消息 (customer-service message) through WeChat's API with wechatpy's client.

The access token is cached by wechatpy (MemoryStorage, refreshed a minute before it expires, and fetched again
once when the API says it is invalid or expired). Failures are sorted into transient (retry later) and permanent
(give up) for the outbox. The base URL is configurable so tests use a local stand-in.
"""
from __future__ import annotations

import asyncio
from typing import Optional

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.settings import WeChatConfig

HTTP_TIMEOUT = 10
# Token errors: wechatpy already fetched a new token and retried once; the next attempt starts from a fresh one.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# Retrying cannot help: bad openid, not following us, no reply from the person within 48 h, quota, too long.
PERMANENT_ERRORS = frozenset({40003, 43004, 45002, 45015, 45047})


class HallWeChatClient(WeChatClient):
    """wechatpy's client with the token URL under the configured base URL (wechatpy hard-codes it)."""

    def __init__(self, appid: str, secret: str, api_base_url: str, timeout: float = HTTP_TIMEOUT):
        super().__init__(appid, secret, timeout=timeout)
        self.API_BASE_URL = api_base_url

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


class WeChatSendError(RuntimeError):
    def __init__(self, reason: str, errcode: Optional[int] = None):
        super().__init__(reason)
        self.errcode = errcode

    @property
    def permanent(self) -> bool:
        return self.errcode in PERMANENT_ERRORS


class CustomerServiceSender:
    """Sends one text to one person, off the event loop (wechatpy is blocking). Ordering is the outbox's job."""

    def __init__(self, config: WeChatConfig):
        self.config = config
        self._client = HallWeChatClient(config.appid, config.secret, config.api_base_url) if config.can_send else None

    @property
    def can_send(self) -> bool:
        return self._client is not None

    async def send_one(self, openid: str, text: str) -> None:
        if self._client is None:
            raise WeChatSendError("客服消息 needs WECHAT_APPID and WECHAT_SECRET")
        await asyncio.get_running_loop().run_in_executor(None, self._send, openid, text)

    def _send(self, openid: str, text: str) -> None:
        try:
            self._client.message.send_text(openid, text)
        except WeChatClientException as exc:
            if exc.errcode in TOKEN_ERRORS:
                self._client.session.delete(self._client.access_token_key)
            status = getattr(getattr(exc, "response", None), "status_code", None)
            reason = f"errcode {exc.errcode}: {exc.errmsg}" if exc.errcode is not None else f"HTTP {status}"
            raise WeChatSendError(reason, exc.errcode) from exc
        except requests.RequestException as exc:  # network: refused, reset, timeout
            raise WeChatSendError(type(exc).__name__) from exc
