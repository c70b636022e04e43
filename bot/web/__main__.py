"""python -m bot.web [--worker N]: serve the citizen page on HOST:WEB_PORT.

With WEB_WORKERS > 1, `python -m bot.run` starts one per worker number; they share the port (SO_REUSEPORT).
"""
import argparse
import logging

from aiohttp import web

from bot.settings import Settings

from .app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.web")
    parser.add_argument("--worker", type=int, default=0, help="this process's number among WEB_WORKERS (from 0)")
    worker = parser.parse_args().worker
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    logging.getLogger(__name__).info("Serving the citizen page on %s:%d (worker %d of %d)", settings.host,
                                     settings.web_port, worker + 1, settings.web_workers)
    # No client address in the access log: it is personal data we do not need.
    web.run_app(
        create_app(settings, worker=worker),
        host=settings.host,
        port=settings.web_port,
        access_log_format='"%r" %s %b %Tfs',
        print=None,
        reuse_port=settings.web_workers > 1 or None,
    )


if __name__ == "__main__":
    main()
