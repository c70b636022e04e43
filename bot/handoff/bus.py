"""Live events between web processes: the one seam every push to a page or a console goes through.

    live = LiveEvents(person_hub, console_hub, make_bus(settings.pubsub_url))
    await live.start()
    await live.to_person(("web", sender), frame)          # every process delivers it to its open pages
    await live.to_consoles(frame, queue_code, helper_id)  # ... and to its consoles allowed to see it

In-process by default (one web process): a publish is a direct call. With PUBSUB_URL, Redis pub/sub: every web
process subscribes to one channel and delivers what arrives to its own sockets, its own publications included.
Redis pub/sub rather than PostgreSQL LISTEN/NOTIFY: it works whatever DATABASE_URL is (SQLite included), a
NOTIFY payload is capped at 8000 bytes and is only sent at COMMIT of the writer's transaction, and Redis is
already the lock store of the Rasa processes (one engine less to run).

Pub/sub is fire and forget: a frame published while a process is not subscribed is lost for it. That loses
nothing that matters, because every message is written to SQL before it is published and pages and consoles
catch up from SQL whenever their socket (re)connects. When the subscription itself breaks, this process closes
its sockets, so its pages and consoles reconnect (to it or another process) and catch up.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Awaitable, Callable, Iterable, Optional, Tuple

from .hub import ConsoleHub, PersonHub

logger = logging.getLogger(__name__)

CHANNEL = "shenqian:live"
RECONNECT_FIRST, RECONNECT_MAX = 0.5, 10.0
Handler = Callable[[dict], Awaitable[None]]
Gap = Callable[[], Awaitable[None]]


class LocalBus:
    """One process: a publication is delivered at once."""

    name = "in-process"
    shared = False  # the only process: what it pushed is all that was pushed

    def __init__(self) -> None:
        self._handler: Optional[Handler] = None

    async def start(self, handler: Handler, on_gap: Gap) -> None:
        self._handler = handler

    async def publish(self, event: dict) -> None:
        if self._handler is not None:
            await self._handler(event)

    async def stop(self) -> None:
        self._handler = None


class RedisBus:
    """Redis pub/sub (redis-py's asyncio client): one publishing connection, one subscribed connection."""

    name = "redis"
    shared = True

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        self.url, self.channel = url, channel
        self._client = None
        self._task: Optional[asyncio.Task] = None

    async def start(self, handler: Handler, on_gap: Gap) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.from_url(self.url)
        # Subscribed before the process serves anyone: a page registered here misses nothing published later.
        pubsub = await self._subscribe()
        self._task = asyncio.get_running_loop().create_task(self._listen(pubsub, handler, on_gap))

    async def _subscribe(self):
        pubsub = self._client.pubsub(ignore_subscribe_messages=False)
        try:
            await pubsub.subscribe(self.channel)
            while True:  # the confirmation: from here on, every publication reaches us
                message = await pubsub.get_message(timeout=5.0)
                if message is None:
                    raise ConnectionError("no subscription confirmation from Redis")
                if message["type"] == "subscribe":
                    return pubsub
        except BaseException:
            await pubsub.close()
            raise

    async def _listen(self, pubsub, handler: Handler, on_gap: Gap) -> None:
        delay = RECONNECT_FIRST
        while True:
            try:
                if pubsub is None:
                    pubsub = await self._subscribe()
                    delay = RECONNECT_FIRST
                    logger.info("live events: subscribed to Redis again")
                    await on_gap()  # clients that reconnected during the outage missed frames too
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                if pubsub is not None:
                    await pubsub.close()
                raise
            except Exception as exc:  # Redis gone or restarted
                if pubsub is not None:
                    logger.warning("live events: Redis subscription lost (%s); reconnecting", type(exc).__name__)
                    try:
                        await pubsub.close()
                    except Exception:
                        pass
                    pubsub = None
                    await on_gap()  # frames may have been missed: clients reconnect and catch up from SQL
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            if message is None or message["type"] != "message":
                continue
            try:
                await handler(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("live events: delivering a frame failed")

    async def publish(self, event: dict) -> None:
        await self._client.publish(self.channel, json.dumps(event, ensure_ascii=False, default=str))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            await self._client.close()


async def _nothing(*_args) -> None:
    return None


def make_bus(pubsub_url: Optional[str]):
    return RedisBus(pubsub_url) if pubsub_url else LocalBus()


class LiveEvents:
    """What the handoff pushes, addressed to people and consoles wherever they are connected."""

    def __init__(self, person_hub: PersonHub, console_hub: ConsoleHub, bus=None) -> None:
        self.person_hub, self.console_hub = person_hub, console_hub
        self.bus = bus or LocalBus()
        self.on_error: Callable[[], None] = lambda: None  # counts failures (the web app's /metrics)
        # A helper's console closed on some process: one still open elsewhere keeps them on duty (the runtime).
        self.on_console_left: Callable[[int], Awaitable[None]] = _nothing

    async def start(self) -> None:
        await self.bus.start(self._deliver, self._gap)

    async def stop(self) -> None:
        await self.bus.stop()

    async def _publish(self, event: dict) -> None:
        try:
            await self.bus.publish(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # stored in SQL already: the clients catch up when they reconnect
            self.on_error()
            logger.error("live event not published (%s): %s", self.bus.name, type(exc).__name__)

    async def to_person(self, key: Tuple[str, str], frame: dict) -> None:
        await self._publish({"to": "person", "key": list(key), "frame": frame})

    async def to_consoles(self, frame: dict, queue_code: Optional[str] = None, helper_id: Optional[int] = None,
                          also: Iterable[int] = ()) -> None:
        await self._publish({"to": "console", "frame": frame, "queue": queue_code, "helper": helper_id,
                             "also": list(also)})

    async def console_left(self, helper_id: int) -> None:
        """After a process marked the helper off duty: a process where they still have a console says otherwise."""
        await self._publish({"to": "presence", "helper": helper_id})

    async def _deliver(self, event: dict) -> None:
        try:
            if event.get("to") == "person":
                channel, sender = event["key"]
                await self.person_hub.send((channel, sender), event["frame"])
            elif event.get("to") == "console":
                await self.console_hub.publish(event["frame"], event.get("queue"), event.get("helper"),
                                               also=event.get("also") or ())
            elif event.get("to") == "presence":
                await self.on_console_left(int(event["helper"]))
        except (KeyError, TypeError, ValueError):
            logger.warning("live event of an unknown shape dropped")

    async def _gap(self) -> None:
        self.on_error()
        await self.person_hub.close_all()
        await self.console_hub.close_all()
