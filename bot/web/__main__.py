"""python -m bot.web: serve the citizen page on HOST:WEB_PORT."""
import logging

from aiohttp import web

from bot.settings import Settings

from .app import create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    logging.getLogger(__name__).info("Serving the citizen page on %s:%d", settings.host, settings.web_port)
    # No client address in the access log: it is personal data we do not need.
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.web_port,
        access_log_format='"%r" %s %b %Tfs',
        print=None,
    )


if __name__ == "__main__":
    main()
