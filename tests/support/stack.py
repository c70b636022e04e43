"""Running the real processes for tests: the catalog loaded by its command, the stack on free ports, the web
server alone, restarting one process; and the addresses a port listens on."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from bot.run import Stack, StackError
from bot.settings import Settings
from bot.supervisor import free_ports, http_get

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def load_catalog(database_url: str) -> None:
    env = dict(os.environ, DATABASE_URL=database_url)
    result = subprocess.run(
        [sys.executable, "-m", "knowledge", "load"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"`python -m knowledge load` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


# Rasa's HTTP API token of every test stack: tests read trackers with it (rasa_api_params()).
RASA_TOKEN = "test-rasa-" + __import__("secrets").token_urlsafe(16)


def rasa_api_params() -> dict:
    return {"token": RASA_TOKEN}


# The web servers' WEB_SECRET in the tests, so a test can hold a sender id the server issued (web_sender()).
WEB_SECRET = "test-web-" + __import__("secrets").token_urlsafe(16)


def web_sender() -> str:
    """A sender id as /api/session issues it to the page."""
    from bot.web.senders import issue

    return issue(WEB_SECRET)


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1 (RASA_PORT and the Rasa processes after it)."""
    from bot.supervisor import port_is_free

    for _ in range(200):
        base = free_ports(1)[0]
        if base + count < 65536 and all(port_is_free("127.0.0.1", base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


def stack_env(database_url: str, log_dir: Path, **extra: str) -> dict:
    """`extra`: more variables (TRACKER_STORE_URL, RASA_WORKERS, ...); with RASA_WORKERS > 1, RASA_PORT starts a
    block of free ports (the proxy, then one per Rasa process)."""
    import secrets

    workers = int(extra.get("RASA_WORKERS", "1"))
    block: set = set()
    if workers > 1:
        first = free_port_block(workers + 1)
        block = set(range(first, first + workers + 1))
    ports = [p for p in free_ports(4 + len(block)) if p not in block]
    rasa_port = min(block) if block else ports.pop()
    action_port, web_port, handoff_port = ports[:3]
    return {
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(action_port),
        "WEB_PORT": str(web_port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": database_url,
        "MODEL_DIR": str(REPO_ROOT / "models"),
        "LOG_DIR": str(log_dir),
        "TRACKER_DB": str(log_dir / "tracker.sqlite3"),
        # Handoff: helpers answer around the clock in the test stacks (see the file).
        "HANDOFF_CONFIG": str(REPO_ROOT / "tests" / "fixtures" / "handoff.yml"),
        # Known to the tests, so they can open tickets through the internal API as the action server does.
        "HANDOFF_PORT": str(handoff_port),
        "HANDOFF_SECRET": secrets.token_urlsafe(24),
        "RASA_TOKEN": RASA_TOKEN,
        "WEB_SECRET": WEB_SECRET,
        **extra,
    }


@dataclass(frozen=True)
class LiveStack:
    web_url: str
    rasa_url: str
    action_url: str
    settings: Settings
    log_dir: Path
    stack: Stack  # to stop and start one process (restart and degraded-mode tests put it back as it was)

    @property
    def pids(self) -> dict:
        """Service name -> process id, to watch a process's memory and addresses."""
        return {svc.name: svc.proc.pid for svc in self.stack.services if svc.proc is not None}


def listening_addresses(port: int) -> set:
    """The local addresses (dotted IPv4) on which a TCP socket listens on this port (from /proc/net/tcp)."""
    found = set()
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


@contextmanager
def running_stack(database_url: str, log_dir: Path, extra_env: Optional[dict] = None, warm_up=None, **extra: str):
    """The real stack on free ports with this database (and more variables in `extra_env` or `extra`: WeChat, the
    scaled layout); a start failure fails the test, never skips it. `warm_up(stack)` runs once it is up."""
    stack = Stack(Settings.from_env(stack_env(database_url, log_dir, **{**(extra_env or {}), **extra})))
    try:
        stack.start()  # stops what it started when it fails
    except StackError as exc:
        pytest.fail(f"The stack did not start: {exc}")
    try:
        if warm_up is not None:
            warm_up(stack)
        yield stack
    finally:
        stack.stop()


@contextmanager
def running_web_server(env: dict, log: Path, what: str = "bot.web"):
    """Our web server alone (`python -m bot.web`) with this environment, until /healthz answers."""
    import time
    import urllib.request

    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.web"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{env['WEB_PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not start:\n" + log.read_text(errors="replace"))
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def restart(stack: Stack, name: str, meanwhile=None) -> None:
    """Kill one process and launch it again from this (the main) thread, then wait for its health without
    blocking the event loop (`meanwhile` runs while it is down).

    Processes must be launched from the thread that lives as long as the stack: they get SIGTERM when
    the thread that started them ends (PR_SET_PDEATHSIG), and executor threads end with each test's loop.
    """
    stack.kill(name, signal.SIGTERM)
    if meanwhile is not None:
        await meanwhile()  # while the process is down
    stack.launch(name)
    svc = stack.service(name)
    deadline = time.monotonic() + 300
    while not svc.healthy(await asyncio.get_running_loop().run_in_executor(None, http_get, svc.health_url)):
        assert svc.running(), f"the {name} process died; see {svc.log_path}"
        assert time.monotonic() < deadline, f"the {name} process is not healthy again"
        await asyncio.sleep(0.3)
