"""Counters of a web process and their Prometheus text exposition (format 0.0.4), written by hand:
prometheus_client is not in the environment and this is all we need of it.

Every web process counts in memory and writes its numbers to METRICS_DIR/web-<worker>.json every few seconds;
GET /metrics sums the files of the machine's web processes (as prometheus_client's multiprocess mode does), so
whichever process a scrape lands on (SO_REUSEPORT), the answer covers them all. A restarted worker starts from
its own file, so counters never go down. No label carries personal data: outcomes, kinds, queue codes only.
"""
from __future__ import annotations

import json
import math
import os
import time
from bisect import bisect_left
from pathlib import Path
from typing import Awaitable, Callable, Dict, Iterable, List, Optional, Tuple

# Seconds; a turn through Rasa takes 20 ms bare, seconds when saturated.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WRITE_EVERY = 2.0

Labels = Tuple[Tuple[str, str], ...]

# name -> (type, help)
FAMILIES = {
    "assistant_turns_total": ("counter", "Turns of the web page, by outcome."),
    "assistant_turn_seconds": ("histogram", "Time from a person's message to the reply, turns answered by Rasa."),
    "assistant_errors_total": ("counter", "Errors, by kind."),
    "assistant_handoffs_waiting": ("gauge", "Handoff tickets waiting for a helper, by queue (live from SQL)."),
    "assistant_live_sockets": ("gauge", "Open WebSockets, by kind (page, console)."),
    "assistant_web_processes": ("gauge", "Web processes whose counters this answer sums."),
}


def _key(labels: Dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


class Metrics:
    def __init__(self, folder: Optional[Path] = None, worker: int = 0, workers: int = 1,
                 clock: Callable[[], float] = time.monotonic):
        self.folder, self.worker, self.workers = folder, worker, workers
        self.clock = clock
        self.counters: Dict[str, Dict[Labels, float]] = {}
        # name -> labels -> [bucket counts..., +Inf count, sum]
        self.histograms: Dict[str, Dict[Labels, List[float]]] = {}
        self._written = 0.0
        self._dirty = False
        self._load_own()

    # -- counting ----------------------------------------------------------------------------------

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        series = self.counters.setdefault(name, {})
        key = _key(labels)
        series[key] = series.get(key, 0.0) + amount
        self._maybe_write()

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        series = self.histograms.setdefault(name, {})
        values = series.setdefault(_key(labels), [0.0] * (len(LATENCY_BUCKETS) + 2))
        values[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # a value on a bound counts in that bucket (le)
        values[-1] += seconds
        self._maybe_write()

    # -- the machine's other processes -------------------------------------------------------------

    def _path(self, worker: int) -> Optional[Path]:
        return self.folder / f"web-{worker}.json" if self.folder is not None else None

    def _load_own(self) -> None:
        data = _read(self._path(self.worker))
        if data is not None:
            self.counters, self.histograms = _decode(data)

    def _snapshot(self) -> dict:
        return {"counters": {n: [[list(k), v] for k, v in s.items()] for n, s in self.counters.items()},
                "histograms": {n: [[list(k), v] for k, v in s.items()] for n, s in self.histograms.items()}}

    def _maybe_write(self) -> None:
        self._dirty = True
        if self.clock() - self._written >= WRITE_EVERY:
            self.write()

    async def keep_written(self) -> None:
        """Run as a task: what changed since the last write reaches the file within WRITE_EVERY seconds."""
        import asyncio

        self.write()  # at once: the others count this process from now on
        while True:
            await asyncio.sleep(WRITE_EVERY)
            if self._dirty:
                self.write()

    def write(self) -> None:
        path = self._path(self.worker)
        if path is None:
            return
        self._written = self.clock()
        self._dirty = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._snapshot()), encoding="utf-8")
            os.replace(tmp, path)  # readers never see half a file
        except OSError:
            pass  # a full disk must not stop the turns; /metrics then shows this process only

    def merged(self) -> Tuple[Dict[str, Dict[Labels, float]], Dict[str, Dict[Labels, List[float]]], int]:
        """This process's numbers plus the files of the other workers of this machine."""
        counters = {n: dict(s) for n, s in self.counters.items()}
        histograms = {n: {k: list(v) for k, v in s.items()} for n, s in self.histograms.items()}
        processes = 1
        for worker in range(self.workers):
            if worker == self.worker:
                continue
            data = _read(self._path(worker))
            if data is None:
                continue
            processes += 1
            other_counters, other_histograms = _decode(data)
            for name, series in other_counters.items():
                mine = counters.setdefault(name, {})
                for key, value in series.items():
                    mine[key] = mine.get(key, 0.0) + value
            for name, series in other_histograms.items():
                mine = histograms.setdefault(name, {})
                for key, values in series.items():
                    current = mine.setdefault(key, [0.0] * len(values))
                    mine[key] = [a + b for a, b in zip(current, values)]
        return counters, histograms, processes

    # -- the text format ---------------------------------------------------------------------------

    def exposition(self, gauges: Iterable[Tuple[str, Dict[str, str], float]] = ()) -> str:
        self.write()  # the next scrape on another process sees this one's latest numbers
        counters, histograms, processes = self.merged()
        gauge_series: Dict[str, Dict[Labels, float]] = {"assistant_web_processes": {(): float(processes)}}
        for name, labels, value in gauges:
            gauge_series.setdefault(name, {})[_key(labels)] = float(value)
        lines: List[str] = []
        for name, (kind, help_text) in FAMILIES.items():
            lines.append(f"# HELP {name} {_escape_help(help_text)}")
            lines.append(f"# TYPE {name} {kind}")
            if kind == "histogram":
                for key, values in sorted(histograms.get(name, {}).items()):
                    running = 0.0
                    for bound, count in zip(LATENCY_BUCKETS, values):
                        running += count
                        lines.append(f"{name}_bucket{_labels(key + (('le', _number(bound)),))} {_number(running)}")
                    running += values[len(LATENCY_BUCKETS)]
                    lines.append(f"{name}_bucket{_labels(key + (('le', '+Inf'),))} {_number(running)}")
                    lines.append(f"{name}_sum{_labels(key)} {_number(values[-1])}")
                    lines.append(f"{name}_count{_labels(key)} {_number(running)}")
            else:
                source = counters if kind == "counter" else gauge_series
                for key, value in sorted(source.get(name, {}).items()):
                    lines.append(f"{name}{_labels(key)} {_number(value)}")
        return "\n".join(lines) + "\n"


def _read(path: Optional[Path]) -> Optional[dict]:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _decode(data: dict):
    def series(section: str) -> dict:
        out: dict = {}
        for name, rows in (data.get(section) or {}).items():
            if name in FAMILIES:
                out[name] = {tuple(tuple(pair) for pair in key): value for key, value in rows}
        return out
    try:
        return series("counters"), series("histograms")
    except (TypeError, ValueError):
        return {}, {}


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(key: Labels) -> str:
    if not key:
        return ""
    return "{" + ",".join(f'{name}="{_escape_value(str(value))}"' for name, value in key) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if value != int(value) else str(int(value))


def metrics_handler(text: Callable[[], Awaitable[str]], token: str):
    """GET /metrics: off (404) without a METRICS_TOKEN; with one, only for `Authorization: Bearer <token>`."""
    import hmac

    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        if not token:
            raise web.HTTPNotFound()
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.Response(status=401, text="unauthorized\n", headers={"WWW-Authenticate": "Bearer"})
        return web.Response(body=(await text()).encode("utf-8"), headers={"Content-Type": CONTENT_TYPE})

    return handler
