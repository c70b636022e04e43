"""Sending 客服消息 (customer-service messages) through WeChat's API with wechatpy's client.

The access token is cached by wechatpy (MemoryStorage, refreshed a minute before it expires, and fetched again
when the API says it is invalid or expired). The base URL is configurable so tests use a local stand-in.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from typing import List

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.privacy import mask_personal_data

from .wechat_config import WeChatConfig

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = 10


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
    pass


class CustomerServiceSender:
    """Sends texts to one person in order (one lock per person), off the event loop (wechatpy is blocking)."""

    def __init__(self, config: WeChatConfig):
        self.config = config
        self._client = HallWeChatClient(config.appid, config.secret, config.api_base_url) if config.can_send else None
        self._locks: "weakref.WeakValueDictionary[str, asyncio.Lock]" = weakref.WeakValueDictionary()

    async def send(self, openid: str, chunks: List[str]) -> None:
        if self._client is None:
            raise WeChatSendError("客服消息 needs WECHAT_APPID and WECHAT_SECRET")
        loop = asyncio.get_running_loop()
        lock = self._locks.get(openid)
        if lock is None:  # weak: a person's lock lives only while their messages are being sent
            lock = self._locks[openid] = asyncio.Lock()
        async with lock:
            for chunk in chunks:
                try:
                    await loop.run_in_executor(None, self._client.message.send_text, openid, chunk)
                except (WeChatClientException, requests.RequestException) as exc:
                    logger.error("客服消息 to %s failed: %s", mask_personal_data(openid), exc)
                    raise WeChatSendError(str(exc)) from exc
