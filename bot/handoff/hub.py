"""In-process fan-out of live events to WebSockets: people's pages and helpers' consoles (fed by
bot/handoff/bus.py, which carries the events between web processes).

Only a speed-up: everything pushed here is also in SQL, and every client catches up from SQL when it
(re)connects, so a frame lost with a dying connection or a restarted process loses nothing.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Callable, Dict, Iterable, Optional, Set, Tuple

from aiohttp import WSMsgType, web

logger = logging.getLogger(__name__)


async def _send(ws: web.WebSocketResponse, data: str) -> bool:
    if ws.closed:
        return False
    try:
        await ws.send_str(data)
        return True
    except (ConnectionError, RuntimeError, asyncio.CancelledError) as exc:
        if isinstance(exc, asyncio.CancelledError):
            raise
        return False


def _dump(frame: dict) -> str:
    return json.dumps(frame, ensure_ascii=False, default=str)


class PersonHub:
    """Open pages per (channel, sender); a person may have several tabs.

    Each socket has a lock: while a page catches up from SQL, live frames for it wait, so the page sees
    every message in order (it drops what it has already shown by id).
    """

    def __init__(self) -> None:
        self._sockets: Dict[Tuple[str, str], Set[web.WebSocketResponse]] = defaultdict(set)
        self._locks: Dict[web.WebSocketResponse, asyncio.Lock] = {}

    def add(self, key: Tuple[str, str], ws: web.WebSocketResponse) -> asyncio.Lock:
        self._sockets[key].add(ws)
        return self._locks.setdefault(ws, asyncio.Lock())

    def remove(self, key: Tuple[str, str], ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(key)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                self._sockets.pop(key, None)
        self._locks.pop(ws, None)

    async def _send_ordered(self, ws: web.WebSocketResponse, data: str) -> bool:
        lock = self._locks.get(ws)
        if lock is None:
            return await _send(ws, data)
        async with lock:
            return await _send(ws, data)

    def connected(self, key: Tuple[str, str]) -> bool:
        return bool(self._sockets.get(key))

    def count(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    async def send(self, key: Tuple[str, str], frame: dict) -> int:
        sockets = list(self._sockets.get(key, ()))
        if not sockets:
            return 0
        data = _dump(frame)
        results = await asyncio.gather(*(self._send_ordered(ws, data) for ws in sockets))
        return sum(results)

    async def close_all(self) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close()


class ConsoleHub:
    """Open consoles, each with the helper behind it; frames go only to helpers allowed to see them."""

    def __init__(self) -> None:
        self._clients: Dict[web.WebSocketResponse, object] = {}

    def add(self, ws: web.WebSocketResponse, helper) -> None:
        self._clients[ws] = helper

    def remove(self, ws: web.WebSocketResponse) -> None:
        self._clients.pop(ws, None)

    def count(self) -> int:
        return len(self._clients)

    def helper_connected(self, helper_id: int) -> bool:
        return any(h.id == helper_id for h in self._clients.values())

    def update_helper(self, helper) -> None:
        for ws, current in list(self._clients.items()):
            if current.id == helper.id:
                self._clients[ws] = helper

    async def publish(self, frame: dict, queue_code: Optional[str] = None, helper_id: Optional[int] = None,
                      also: Iterable[int] = (), only: Optional[Callable[[object], bool]] = None) -> int:
        """To every console whose helper may see a ticket of this queue/assignee (or `also` names)."""
        extra = set(also)
        targets = [ws for ws, h in self._clients.items()
                   if (only is None or only(h))
                   and (queue_code is None or h.can_see(queue_code, helper_id) or h.id in extra)]
        if not targets:
            return 0
        data = _dump(frame)
        results = await asyncio.gather(*(_send(ws, data) for ws in targets))
        return sum(results)

    async def close_all(self) -> None:
        for ws in list(self._clients):
            await ws.close()


async def json_objects(ws):
    """The JSON objects a client sends over a WebSocket; anything else (binary, broken JSON, lists) is skipped."""
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            data = json.loads(msg.data)
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict):
            yield data
