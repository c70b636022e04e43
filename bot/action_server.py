"""python -m bot.action_server: rasa_sdk's action server on `HOST`, answering only callers with the token.

rasa_sdk's own `run()` always listens on 0.0.0.0 and takes any call; its actions write complaints, ratings and
tickets, so a forged `POST /webhook` must not reach them. Rasa sends the token in `ACTION_TOKEN_HEADER`
(endpoints.yml); `/health` stays open for the supervisor.
"""
from __future__ import annotations

import hmac
import logging
import socket
from typing import Optional

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import Settings

logger = logging.getLogger(__name__)

ACTION_TOKEN_HEADER = "X-Action-Token"
OPEN_PATHS = frozenset({"/health"})


def build_app(token: str, action_package: str = "actions") -> Sanic:
    if not token:
        raise ValueError("the action server needs a token (ACTION_TOKEN)")
    app = create_app(action_package)

    @app.middleware("request")
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get(ACTION_TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            logger.warning("refused a call to %s without the action token", request.path)
            return response.json({"error": "unauthorized"}, status=401)
        return None

    return app


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket that the other action server processes bind too (SO_REUSEPORT): the kernel spreads
    Rasa's calls (a new connection each) over them, and stops sending to one that died."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    settings = Settings.from_env()
    app = build_app(settings.action_token)
    logger.info("action server on http://%s:%d (one of %d)", settings.connect_host, settings.action_port,
                settings.action_workers)
    if settings.action_workers > 1:
        app.run(sock=shared_socket(settings.host, settings.action_port), workers=1, access_log=False, motd=False)
    else:
        app.run(host=settings.host, port=settings.action_port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
