"""python -m bot.run: start the action server, Rasa and the web page; stop them all on Ctrl-C.

`make run` calls this after it has built the virtual environment, loaded the catalog and trained the model.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
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
from typing import Callable, IO, List, Optional

from bot.channels.wechat_config import WeChatConfig, WeChatConfigError
from bot.settings import Settings, SettingsError

HEALTH_POLL_SECONDS = 0.5


class StackError(RuntimeError):
    """The stack could not start, or one of its processes died."""


class StackInterrupted(Exception):
    """A stop was requested while the stack was still starting."""


def _http_get(url: str, timeout: float = 2.0) -> Optional[tuple]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (OSError, ValueError):
        return None


def _ok(status_body: Optional[tuple]) -> bool:
    return status_body is not None and status_body[0] == 200


def _rasa_model_loaded(status_body: Optional[tuple]) -> bool:
    if not _ok(status_body):
        return False  # 409 until an agent with a model is loaded
    try:
        return bool(json.loads(status_body[1]).get("model_file"))
    except ValueError:
        return False


def _web_ok(status_body: Optional[tuple]) -> bool:
    if not _ok(status_body):
        return False
    try:
        return json.loads(status_body[1]).get("web") == "ok"
    except ValueError:
        return False


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


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> List[int]:
    """Distinct ports that are free right now on 127.0.0.1 (kept open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
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

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Stack:
    """The three processes behind the assistant, each in its own process group with its own log."""

    def __init__(
        self,
        settings: Settings,
        python: str = sys.executable,
        startup_timeout: Optional[float] = None,
        stop_grace: float = 10.0,
    ) -> None:
        self.settings = settings
        self.python = python
        self.startup_timeout = settings.startup_timeout if startup_timeout is None else startup_timeout
        self.stop_grace = stop_grace
        self._stop_requested = False  # a plain flag: set from a signal handler, so no locks
        # The web server's internal handoff API: loopback only, a port and a shared secret for this run.
        settings = dataclasses.replace(
            settings,
            handoff_port=settings.handoff_port or free_ports(1)[0],
            handoff_secret=settings.handoff_secret or secrets.token_urlsafe(32),
        )
        self.settings = settings
        self._env: Optional[dict] = None
        s = settings
        log = s.log_dir
        self.services = [
            Service(
                name="actions",
                title="action server",
                argv=[python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(s.action_port)],
                bind_host="0.0.0.0",  # rasa_sdk has no option for the bind address
                port=s.action_port,
                health_url=f"{s.action_url}/health",
                healthy=_ok,
                log_path=log / "actions.log",
            ),
            Service(
                name="rasa",
                title="Rasa server",
                argv=[
                    python, "-m", "rasa", "run",
                    "--enable-api",
                    "--cors", "*",
                    "--interface", s.host,
                    "--port", str(s.rasa_port),
                    "--model", str(s.model_dir),
                    "--credentials", "credentials.yml",
                    "--endpoints", "endpoints.yml",
                ],
                bind_host=s.host,
                port=s.rasa_port,
                health_url=f"http://{s.connect_host}:{s.rasa_port}/status",
                healthy=_rasa_model_loaded,
                log_path=log / "rasa.log",
            ),
            Service(
                name="web",
                title="web server",
                argv=[python, "-m", "bot.web"],
                bind_host=s.host,
                port=s.web_port,
                health_url=f"{s.web_url}/healthz",
                healthy=_web_ok,
                log_path=log / "web.log",
            ),
        ]

    # -- checks before starting -------------------------------------------------------------------

    def _preflight(self) -> None:
        s = self.settings
        ports = [svc.port for svc in self.services] + [s.handoff_port]
        if len(set(ports)) != len(ports):
            raise StackError(f"RASA_PORT, ACTION_PORT, WEB_PORT and HANDOFF_PORT must differ, got {ports}")
        if not s.model_dir.is_dir() or not any(s.model_dir.glob("*.tar.gz")):
            raise StackError(f"No trained model in {s.model_dir}. Train one first (make train).")
        for name in ("credentials.yml", "endpoints.yml", "domain.yml"):
            if not (s.project_dir / name).exists():
                raise StackError(f"{s.project_dir / name} is missing.")
        for svc in self.services:
            if not port_is_free(svc.bind_host, svc.port):
                variable = {"actions": "ACTION_PORT", "rasa": "RASA_PORT", "web": "WEB_PORT"}[svc.name]
                raise StackError(
                    f"Port {svc.port} for the {svc.title} is already in use. "
                    f"Stop whatever uses it or choose another port with {variable}=..."
                )
        if not port_is_free("127.0.0.1", s.handoff_port):
            raise StackError(f"Port {s.handoff_port} for the internal handoff API is already in use. "
                             "Choose another one with HANDOFF_PORT=...")

    # -- life cycle --------------------------------------------------------------------------------

    def start(self) -> "Stack":
        self._preflight()
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        self.settings.tracker_db.parent.mkdir(parents=True, exist_ok=True)
        env = self.settings.child_env()
        env.setdefault("RASA_TELEMETRY_ENABLED", "false")  # no network calls from a government server
        self._env = env
        try:
            for svc in self.services:
                self._launch(svc, env)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, svc: Service, env: dict) -> None:
        svc.log_file = open(svc.log_path, "ab")
        stamp = datetime.now().isoformat(timespec="seconds")
        svc.log_file.write(f"\n===== {stamp} starting {svc.title}: {' '.join(svc.argv)}\n".encode())
        svc.log_file.flush()
        svc.proc = subprocess.Popen(
            svc.argv,
            cwd=self.settings.project_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=svc.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: we stop it as a whole, Ctrl-C reaches only us
            preexec_fn=_set_parent_death_signal if _PRCTL is not None else None,
        )

    def service(self, name: str) -> Service:
        return next(svc for svc in self.services if svc.name == name)

    def restart(self, name: str, timeout: Optional[float] = None) -> None:
        """Stop one process (SIGTERM, then SIGKILL) and start it again; wait until it is healthy.

        For operators and for the durability tests: the others keep running, the handoff keeps its state.
        Call it from the thread that started the stack: children get SIGTERM when their parent *thread* ends.
        """
        self.kill(name, signal.SIGTERM)
        self.launch(name)
        self.wait_service(name, timeout)

    def launch(self, name: str) -> None:
        """Start one stopped process again, without waiting for it (see restart())."""
        if self._env is None:
            raise StackError("the stack is not started")
        svc = self.service(name)
        if svc.running():
            raise StackError(f"the {svc.title} is still running")
        self._launch(svc, self._env)

    def wait_service(self, name: str, timeout: Optional[float] = None) -> None:
        svc = self.service(name)
        deadline = time.monotonic() + (self.startup_timeout if timeout is None else timeout)
        while not svc.healthy(_http_get(svc.health_url)):
            if not svc.running():
                raise self._died(svc)
            if time.monotonic() > deadline:
                raise StackError(f"The {svc.title} is not healthy again (see {svc.log_path})")
            time.sleep(0.2)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop one process (and its group) without starting it again."""
        svc = self.service(name)
        if svc.proc is None:
            return
        _signal_group(svc.proc.pid, sig)
        try:
            svc.proc.wait(timeout=self.stop_grace)
        except subprocess.TimeoutExpired:
            _signal_group(svc.proc.pid, signal.SIGKILL)
            svc.proc.wait()
        _signal_group(svc.proc.pid, signal.SIGKILL)
        if svc.log_file is not None:
            svc.log_file.close()
            svc.log_file = None

    def _died(self, svc: Service) -> StackError:
        tail = log_tail(svc.log_path)
        return StackError(
            f"The {svc.title} exited with code {svc.proc.returncode}. See {svc.log_path}"
            + (f"; its last lines:\n{tail}" if tail else "")
        )

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        pending = list(self.services)
        while pending:
            if self._stop_requested:
                raise StackInterrupted()
            for svc in list(pending):
                if not svc.running():
                    raise self._died(svc)
                if svc.healthy(_http_get(svc.health_url)):
                    pending.remove(svc)
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(f"{svc.title} (see {svc.log_path})" for svc in pending)
                raise StackError(f"Not healthy after {self.startup_timeout:.0f} s: {names}")
            time.sleep(HEALTH_POLL_SECONDS)

    def dead_service(self) -> Optional[StackError]:
        """An error naming the first process that has exited, if any."""
        for svc in self.services:
            if svc.proc is not None and svc.proc.poll() is not None:
                return self._died(svc)
        return None

    def request_stop(self) -> None:
        """Safe to call from a signal handler: interrupts start() at its next health poll."""
        self._stop_requested = True

    def stop(self) -> None:
        started = [svc for svc in self.services if svc.proc is not None]
        for svc in reversed(started):
            _signal_group(svc.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for svc in reversed(started):
            try:
                svc.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(svc.proc.pid, signal.SIGKILL)
                svc.proc.wait()
            # Leftover grandchildren in the group go too.
            _signal_group(svc.proc.pid, signal.SIGKILL)
        for svc in started:
            if svc.log_file is not None:
                svc.log_file.close()
                svc.log_file = None
            svc.proc = None

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- what to tell the operator ----------------------------------------------------------------

    def urls(self) -> dict:
        s = self.settings
        urls = {"web": f"{s.web_url}/", "console": f"{s.web_url}/console", "rasa": f"{s.rasa_url}/",
                "actions": f"{s.action_url}/"}
        if s.wechat_enabled:
            urls["wechat"] = f"{s.rasa_url}/webhooks/wechat/webhook"
        return urls


def wechat_status(settings: Settings, urls: dict) -> str:
    """The WeChat line of the start-up message: on (where, which mode) or off (how to switch it on)."""
    config = WeChatConfig.from_env(settings.wechat_env)
    if not config.enabled:
        return ("  WeChat (公众号): off (set WECHAT_TOKEN, and WECHAT_APPID, WECHAT_SECRET, WECHAT_AES_KEY, "
                "to switch it on)\n")
    return f"  WeChat (公众号): {urls['wechat']} ({config.describe()})\n"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


HALL_FILE = Path("knowledge") / "catalog" / "hall.yml"


def hall_sample_notice(project_dir: Path) -> str:
    """A banner line while the hall's local facts are still the shipped sample (hall.yml: sample_data: true)."""
    import yaml

    try:
        hall = (yaml.safe_load((project_dir / HALL_FILE).read_text(encoding="utf-8")) or {}).get("hall") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return ""
    if not isinstance(hall, dict) or hall.get("sample_data") is not True:
        return ""
    city = os.environ.get("CATALOG_CITY") or hall.get("city") or ""
    return (f"  Hall data:      SAMPLE — city {city}, address, phones and windows are examples. Set the real ones in\n"
            f"                  {HALL_FILE} (then sample_data: false) and run `make run` again.\n")


def main() -> int:
    try:
        settings = Settings.from_env()
        wechat = WeChatConfig.from_env(settings.wechat_env)  # a wrong WeChat variable stops here, named
        if wechat.enabled:
            wechat.menu()
    except (SettingsError, WeChatConfigError) as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    stack = Stack(settings)
    stopping = []  # non-empty once a signal arrived

    def on_signal(signum, frame):
        # One Ctrl-C is enough; further ones must not interrupt the clean shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopping.append(signum)
        stack.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    print(f"Starting the action server, Rasa and the web server (logs in {settings.log_dir}) ...", flush=True)
    try:
        stack.start()
    except StackInterrupted:
        print("Stopped.", flush=True)
        return 0
    except StackError as exc:
        print(f"Could not start: {exc}", file=sys.stderr, flush=True)
        return 1

    urls = stack.urls()
    wildcard = settings.host in ("0.0.0.0", "::")
    print(
        "\n审前辅导助手 is running.\n"
        f"  Citizen page:   {urls['web']}\n"
        f"  Helper console: {urls['console']} (accounts: python -m bot.console add-helper ...)\n"
        f"  Rasa API:       {urls['rasa']}\n"
        f"  Action server:  {urls['actions']}\n"
        + wechat_status(settings, urls)
        + hall_sample_notice(settings.project_dir)
        + ("  (listening on all network interfaces)\n" if wildcard else "")
        + "Press Ctrl-C to stop.",
        flush=True,
    )
    exit_code = 0
    try:
        while not stopping:
            time.sleep(HEALTH_POLL_SECONDS)
            died = stack.dead_service()
            if died is not None:
                print(f"Stopping everything: {died}", file=sys.stderr, flush=True)
                exit_code = 1
                break
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping ...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
