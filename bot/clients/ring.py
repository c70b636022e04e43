"""A consistent-hash ring of Rasa processes: each person (sender id) belongs to one process, so their messages are
handled in order by one process at a time; adding or losing a process moves only that process's people.

A process that does not answer is marked down for a while: its people go to the next process on the ring (Rasa's
tracker store is shared, so the conversation continues there) and come back once it answers again."""
from __future__ import annotations

import bisect
import hashlib
import time
from typing import Callable, Dict, List, Sequence

# Points per process on the ring: enough for an even share between a handful of processes.
POINTS = 64
# A process that refused a connection is tried last for this long, then first again for its own people.
DOWN_SECONDS = 5.0


def _point(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


class HashRing:
    def __init__(self, nodes: Sequence[str], points: int = POINTS, down_seconds: float = DOWN_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not nodes:
            raise ValueError("a ring needs at least one node")
        self.nodes = list(dict.fromkeys(nodes))
        ring = sorted((_point(f"{node}#{i}"), node) for node in self.nodes for i in range(points))
        self._points = [p for p, _ in ring]
        self._owners = [node for _, node in ring]
        self._down_until: Dict[str, float] = {}
        self.down_seconds = down_seconds
        self._clock = clock

    def order(self, key: str) -> List[str]:
        """Every node, in the order to try them for this key: its own first, then the next ones on the ring;
        nodes marked down go last (still tried: the others may be down too)."""
        start = bisect.bisect(self._points, _point(key))
        seen: List[str] = []
        for i in range(len(self._owners)):
            node = self._owners[(start + i) % len(self._owners)]
            if node not in seen:
                seen.append(node)
                if len(seen) == len(self.nodes):
                    break
        now = self._clock()
        return [n for n in seen if self._down_until.get(n, 0) <= now] + \
               [n for n in seen if self._down_until.get(n, 0) > now]

    def owner(self, key: str) -> str:
        return self.order(key)[0]

    def mark_down(self, node: str) -> None:
        self._down_until[node] = self._clock() + self.down_seconds

    def mark_up(self, node: str) -> None:
        self._down_until.pop(node, None)
