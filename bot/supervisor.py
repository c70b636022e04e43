"""A small process supervisor, knowing nothing of this project: start processes, wait until each is healthy,
restart one that dies (with a back-off and a log line) and stop them all at once.

Each process runs in its own process group with its own log file; if the supervisor itself is killed outright,
the kernel still stops the children (Linux: PR_SET_PDEATHSIG). bot/run.py describes this project's processes.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Callable, Dict, Iterable, List, Optional

logger = logging.getLogger(__name__)

HEALTH_POLL_SECONDS = 0.5
# A process that died is started again after RESTART_FIRST seconds, doubling each time up to RESTART_MAX;
# once it has run for RESTART_RESET seconds, the next death waits RESTART_FIRST again.
RESTART_FIRST = 1.0
RESTART_MAX = 60.0
RESTART_RESET = 60.0


class StackError(RuntimeError):
    """The processes could not start, or one of them died while starting."""


class StackInterrupted(Exception):
    """A stop was requested while the processes were still starting."""


def http_get(url: str, timeout: float = 2.0) -> Optional[tuple]:
    """(status, body) of a GET, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (OSError, ValueError):
        return None


def answers_200(status_body: Optional[tuple]) -> bool:
    return status_body is not None and status_body[0] == 200


def _load_prctl():
    # Looked up in the parent: the child, between fork and exec, should only make the call.
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _set_parent_death_signal() -> None:
    # If this process is killed outright (SIGKILL), the kernel still stops the children.
    _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, avoid: Iterable[int] = ()) -> List[int]:
    """Distinct ports that are free right now on 127.0.0.1 (kept open together so they differ), none of `avoid`
    (ports already chosen for something that has not bound them yet)."""
    avoid = set(avoid)
    sockets, ports = [], []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)  # an avoided port stays bound meanwhile, so it is not offered again
            port = sock.getsockname()[1]
            if port not in avoid:
                ports.append(port)
        return ports
    finally:
        for sock in sockets:
            sock.close()


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Service:
    """One supervised process: how to start it and how to tell it is healthy."""

    name: str
    title: str
    argv: List[str]
    bind_host: str
    port: int
    health_url: str
    healthy: Callable[[Optional[tuple]], bool]
    log_path: Path
    proc: Optional[subprocess.Popen] = None
    log_file: Optional[IO[bytes]] = field(default=None, repr=False)
    started_at: float = 0.0
    restart_delay: float = RESTART_FIRST
    restart_at: Optional[float] = None  # set while a restart is scheduled
    restarts: int = 0

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    def __init__(self, services: List[Service], cwd: Path, startup_timeout: float, stop_grace: float = 10.0,
                 say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)):
        self.services = services
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.say = say  # where restart lines go (the operator's terminal)
        self._env: Optional[Dict[str, str]] = None
        self._stop_requested = False  # a plain flag: set from a signal handler, so no locks

    # -- starting ---------------------------------------------------------------------------------

    def start_all(self, env: Dict[str, str]) -> None:
        """Start every process and wait until all are healthy; on any failure stop them all and raise."""
        self._env = env
        try:
            for svc in self.services:
                self._launch(svc)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def _launch(self, svc: Service) -> None:
        svc.log_path.parent.mkdir(parents=True, exist_ok=True)
        svc.log_file = open(svc.log_path, "ab")
        stamp = datetime.now().isoformat(timespec="seconds")
        svc.log_file.write(f"\n===== {stamp} starting {svc.title}: {' '.join(svc.argv)}\n".encode())
        svc.log_file.flush()
        svc.proc = subprocess.Popen(
            svc.argv,
            cwd=self.cwd,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=svc.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: we stop it as a whole, Ctrl-C reaches only us
            preexec_fn=_set_parent_death_signal if _PRCTL is not None else None,
        )
        svc.started_at = time.monotonic()

    def service(self, name: str) -> Service:
        return next(svc for svc in self.services if svc.name == name)

    def launch(self, name: str) -> None:
        """Start one stopped process again, without waiting for it."""
        if self._env is None:
            raise StackError("the processes are not started")
        svc = self.service(name)
        if svc.running():
            raise StackError(f"the {svc.title} is still running")
        self._close_log(svc)
        self._launch(svc)

    def wait_service(self, name: str, timeout: Optional[float] = None) -> None:
        svc = self.service(name)
        deadline = time.monotonic() + (self.startup_timeout if timeout is None else timeout)
        while not svc.healthy(http_get(svc.health_url)):
            if not svc.running():
                raise self._died(svc)
            if time.monotonic() > deadline:
                raise StackError(f"The {svc.title} is not healthy again (see {svc.log_path})")
            time.sleep(0.2)

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.services)
        while pending:
            if self._stop_requested:
                raise StackInterrupted()
            for svc in list(pending):
                if not svc.running():
                    raise self._died(svc)
                if svc.healthy(http_get(svc.health_url)):
                    pending.remove(svc)
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(f"{svc.title} (see {svc.log_path})" for svc in pending)
                raise StackError(f"Not healthy after {self.startup_timeout:.0f} s: {names}")
            time.sleep(HEALTH_POLL_SECONDS)

    def _died(self, svc: Service) -> StackError:
        tail = log_tail(svc.log_path)
        return StackError(
            f"The {svc.title} exited with code {svc.proc.returncode}. See {svc.log_path}"
            + (f"; its last lines:\n{tail}" if tail else "")
        )

    # -- watching ---------------------------------------------------------------------------------

    def supervise(self) -> None:
        """One look at every process (call it every poll): a dead one is restarted after its back-off."""
        now = time.monotonic()
        for svc in self.services:
            if svc.proc is None or svc.running():
                if svc.running() and now - svc.started_at >= RESTART_RESET:
                    svc.restart_delay = RESTART_FIRST  # it has been fine for a while
                continue
            if svc.restart_at is None:
                code = svc.proc.returncode
                svc.restart_at = now + svc.restart_delay
                self.say(f"The {svc.title} exited with code {code} (see {svc.log_path}); "
                         f"restarting it in {svc.restart_delay:.0f} s")
                svc.restart_delay = min(svc.restart_delay * 2, RESTART_MAX)
            elif now >= svc.restart_at:
                svc.restart_at = None
                svc.restarts += 1
                self._close_log(svc)
                self._launch(svc)
                self.say(f"Restarted the {svc.title} (restart {svc.restarts})")

    # -- stopping ---------------------------------------------------------------------------------

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop one process (and its group) without starting it again."""
        svc = self.service(name)
        if svc.proc is None:
            return
        signal_group(svc.proc.pid, sig)
        try:
            svc.proc.wait(timeout=self.stop_grace)
        except subprocess.TimeoutExpired:
            signal_group(svc.proc.pid, signal.SIGKILL)
            svc.proc.wait()
        signal_group(svc.proc.pid, signal.SIGKILL)
        self._close_log(svc)

    @staticmethod
    def _close_log(svc: Service) -> None:
        if svc.log_file is not None:
            svc.log_file.close()
            svc.log_file = None

    def request_stop(self) -> None:
        """Safe to call from a signal handler: interrupts the start at its next health poll."""
        self._stop_requested = True

    def stop(self) -> None:
        """Every process at once: SIGTERM to all, then SIGKILL to what is left after the grace time."""
        started = [svc for svc in self.services if svc.proc is not None]
        for svc in reversed(started):
            signal_group(svc.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for svc in reversed(started):
            try:
                svc.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(svc.proc.pid, signal.SIGKILL)
                svc.proc.wait()
            # Leftover grandchildren in the group go too.
            signal_group(svc.proc.pid, signal.SIGKILL)
        for svc in started:
            self._close_log(svc)
            svc.proc = None
            svc.restart_at = None
