"""Without WECHAT_TOKEN the stack starts as usual and the WeChat channel answers nothing but "not configured"."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest


@pytest.mark.parametrize("method,path", [("GET", "/webhooks/wechat/webhook?echostr=1"),
                                         ("POST", "/webhooks/wechat/webhook"), ("POST", "/webhooks/wechat/deliver")])
def test_the_channel_is_off_without_wechat_variables(live_stack, method, path):
    assert not live_stack.settings.wechat_enabled
    request = urllib.request.Request(f"{live_stack.rasa_url}{path}", data=b"<xml/>" if method == "POST" else None,
                                     method=method)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 404 and b"wechat_not_configured" in caught.value.read()
