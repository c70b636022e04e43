"""The page's sender ids, issued by the server: 16 random bytes and their HMAC, 44 URL-safe characters.

Only an id this server issued opens the event stream (helper messages) or a conversation, so nobody can listen
in by choosing or guessing another person's id. The secret (WEB_SECRET) is shared by every web process.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_RANDOM_BYTES = 16  # 128 bits
_MAC_BYTES = 16
_RANDOM_CHARS = 22  # base64url of 16 bytes, without padding


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _mac(secret: str, random_part: str) -> str:
    return _b64(hmac.new(secret.encode(), random_part.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES])


def issue(secret: str) -> str:
    random_part = _b64(secrets.token_bytes(_RANDOM_BYTES))
    return random_part + _mac(secret, random_part)


def verify(secret: str, sender: str) -> bool:
    if not isinstance(sender, str) or len(sender) != 2 * _RANDOM_CHARS or not sender.isascii():
        return False
    random_part, given = sender[:_RANDOM_CHARS], sender[_RANDOM_CHARS:]
    return hmac.compare_digest(given, _mac(secret, random_part))
