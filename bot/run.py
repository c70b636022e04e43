"""python -m bot.run: start the action server, Rasa and the web page; restart one that dies; stop them all on
Ctrl-C.

`make run` calls this after it has built the virtual environment, loaded the catalog and trained the model.
The generic part (starting, health checks, restarts with back-off, stopping) is bot/supervisor.py; this module
describes this project's three processes and what to tell the operator.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional

from bot import endpoints, proxy
from bot.settings import Settings, SettingsError
from bot.supervisor import (HEALTH_POLL_SECONDS, Service, StackError, StackInterrupted, Supervisor, answers_200,
                            free_ports, port_is_free)

__all__ = ["Stack", "StackError", "StackInterrupted", "free_ports", "main", "wechat_status"]


def _rasa_model_loaded(status_body: Optional[tuple]) -> bool:
    if not answers_200(status_body):
        return False  # 409 until an agent with a model is loaded
    try:
        return bool(json.loads(status_body[1]).get("model_file"))
    except ValueError:
        return False


def _web_ok(status_body: Optional[tuple]) -> bool:
    if not answers_200(status_body):
        return False
    try:
        return json.loads(status_body[1]).get("web") == "ok"
    except ValueError:
        return False


def _web_worker_ok(worker: int) -> Callable[[Optional[tuple]], bool]:
    """Healthy when this worker answers: with SO_REUSEPORT any worker may take the probe, so it names itself."""
    def healthy(status_body: Optional[tuple]) -> bool:
        if not _web_ok(status_body):
            return False
        return json.loads(status_body[1]).get("worker", 0) == worker
    return healthy


def web_services(s: Settings, python: str) -> List[Service]:
    """WEB_WORKERS web processes sharing WEB_PORT and the handoff port (SO_REUSEPORT: the kernel spreads the
    connections, so one address serves citizens, consoles and the action server, with or without a proxy in
    front). Live events cross processes through PUBSUB_URL; each restarts on its own, keeping its number."""
    return [Service(
        name="web" if worker == 0 else f"web-{worker + 1}",
        title="web server" if s.web_workers == 1 else f"web server {worker + 1}",
        argv=[python, "-m", "bot.web", "--worker", str(worker)],
        bind_host=s.host,
        port=s.web_port,
        health_url=f"{s.web_url}/healthz",
        healthy=_web_worker_ok(worker),
        log_path=s.log_dir / ("web.log" if worker == 0 else f"web-{worker + 1}.log"),
    ) for worker in range(s.web_workers)]


def _kind(service_name: str) -> str:
    return service_name.split("-")[0]  # "web-2" is a web server like "web"


class Stack(Supervisor):
    """The three processes behind the assistant, each in its own process group with its own log."""

    def __init__(
        self,
        settings: Settings,
        python: str = sys.executable,
        startup_timeout: Optional[float] = None,
        stop_grace: float = 10.0,
    ) -> None:
        # The web server's internal handoff API: loopback only, a port and a shared secret for this run.
        settings = dataclasses.replace(
            settings,
            handoff_port=settings.handoff_port or free_ports(1, avoid=(
                settings.rasa_port, *settings.rasa_worker_ports, settings.action_port, settings.web_port))[0],
            handoff_secret=settings.handoff_secret or secrets.token_urlsafe(32),
            action_token=settings.action_token or secrets.token_urlsafe(32),
            rasa_token=settings.rasa_token or secrets.token_urlsafe(32),
            web_secret=settings.web_secret or kept_secret(settings.project_dir / "var" / "web_secret"),
        )
        self.settings = settings
        self.python = python
        s = settings
        services = [*self._action_services(), *self._rasa_services(), *self._proxy_services(),
                    *web_services(s, python)]
        super().__init__(services, s.project_dir, settings.startup_timeout if startup_timeout is None
                         else startup_timeout, stop_grace)

    # -- the processes (ACTION_WORKERS action servers, RASA_WORKERS Rasa servers and their proxy) ---------

    @staticmethod
    def _numbered(name: str, index: int) -> str:
        return name if index == 0 else f"{name}-{index + 1}"  # "rasa", "rasa-2", ...

    def _action_services(self) -> List[Service]:
        # All on ACTION_PORT (SO_REUSEPORT, bot/action_server.py): Rasa's one action URL reaches any of them.
        s = self.settings
        return [Service(name=self._numbered("actions", i), title=self._numbered("action server", i),
                        argv=[self.python, "-m", "bot.action_server"], bind_host=s.host, port=s.action_port,
                        health_url=f"{s.action_url}/health", healthy=answers_200,
                        log_path=s.log_dir / f"{self._numbered('actions', i)}.log")
                for i in range(s.action_workers)]

    def _rasa_services(self) -> List[Service]:
        s = self.settings
        services = []
        for i, rasa_port in enumerate(s.rasa_worker_ports):
            name = self._numbered("rasa", i)
            services.append(Service(
                name=name,
                title=self._numbered("Rasa server", i),
                argv=[
                    self.python, "-m", "rasa", "run",
                    "--enable-api",
                    "--auth-token", s.rasa_token,
                    "--cors", "*",
                    "--interface", s.host,
                    "--port", str(rasa_port),
                    "--model", str(s.model_dir),
                    "--credentials", "credentials.yml",
                    "--endpoints", str(endpoints.target(s)),
                ],
                bind_host=s.host,
                port=rasa_port,
                health_url=f"http://{s.connect_host}:{rasa_port}/status?token={s.rasa_token}",
                healthy=_rasa_model_loaded,
                log_path=s.log_dir / f"{name}.log",
            ))
        return services

    def _proxy_services(self) -> List[Service]:
        s = self.settings
        if s.rasa_workers == 1:
            return []
        return [Service(name="proxy", title="proxy in front of Rasa (HAProxy)",
                        argv=[proxy.haproxy_binary(), "-db", "-f", str(proxy.target(s))], bind_host=s.host,
                        port=s.rasa_port, health_url=f"{s.rasa_url}/proxy-health", healthy=answers_200,
                        log_path=s.log_dir / "proxy.log")]

    # -- checks before starting -------------------------------------------------------------------

    def _preflight(self) -> None:
        s = self.settings
        rasa_ports = sorted({s.rasa_port, *s.rasa_worker_ports})  # the proxy's and the processes' (or Rasa's)
        ports = [s.action_port, *rasa_ports, s.web_port, s.handoff_port]
        if len(set(ports)) != len(ports):
            raise StackError(f"RASA_PORT (and the RASA_WORKERS ports after it), ACTION_PORT, WEB_PORT and "
                             f"HANDOFF_PORT must differ, got {ports}")
        if s.rasa_workers > 1:
            proxy.check_installed()
        if not s.model_dir.is_dir() or not any(s.model_dir.glob("*.tar.gz")):
            raise StackError(f"No trained model in {s.model_dir}. Train one first (make train).")
        for name in ("credentials.yml", "endpoints.yml", "domain.yml"):
            if not (s.project_dir / name).exists():
                raise StackError(f"{s.project_dir / name} is missing.")
        for svc in {svc.port: svc for svc in self.services}.values():  # action servers share one port
            if not port_is_free(svc.bind_host, svc.port):
                variable = {"actions": "ACTION_PORT", "rasa": "RASA_PORT", "proxy": "RASA_PORT",
                            "web": "WEB_PORT"}[_kind(svc.name)]
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
        endpoints.write(self.settings)
        if self.settings.rasa_workers > 1:
            proxy.write(self.settings)
        env = self.settings.child_env()
        env.update(endpoints.process_env(self.settings))
        env.setdefault("RASA_TELEMETRY_ENABLED", "false")  # no network calls from a government server
        self.start_all(env)
        if self.settings.rasa_workers > 1:
            # Once more: the proxy's checks see the Rasa processes a second or two after they are up.
            try:
                self.wait_service("proxy", timeout=30)
            except BaseException:
                self.stop()
                raise
        return self

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        super().stop()
        for generated in (endpoints.target(self.settings), proxy.target(self.settings)):
            generated.unlink(missing_ok=True)  # written for this run only (var/)

    # -- what to tell the operator ----------------------------------------------------------------

    def urls(self) -> dict:
        s = self.settings
        urls = {"web": f"{s.web_url}/", "console": f"{s.web_url}/console", "rasa": f"{s.rasa_url}/",
                "actions": f"{s.action_url}/"}
        if s.wechat_enabled:
            urls["wechat"] = f"{s.rasa_url}/webhooks/wechat/webhook"
        return urls


def scale_status(settings: Settings) -> str:
    """The scale-out lines of the start-up message; nothing in the embedded layout."""
    s = settings
    if s.rasa_workers == 1 and s.action_workers == 1 and not s.lock_store_url and not s.tracker_store_url_override:
        return ""
    tracker = s.tracker_store_url.split("://")[0]
    lines = f"  Scale-out:      tracker store {tracker}, lock store {'Redis' if s.lock_store_url else 'in memory'}"
    lines += f", {s.rasa_workers} Rasa process(es)"
    if s.rasa_workers > 1:
        lines += f" on ports {s.rasa_worker_ports[0]}-{s.rasa_worker_ports[-1]} behind HAProxy"
    return lines + f", {s.action_workers} action server process(es)\n"


def wechat_status(settings: Settings, urls: dict) -> str:
    """The WeChat line of the start-up message: on (where, which mode) or off (how to switch it on)."""
    config = settings.wechat
    if not config.enabled:
        return ("  WeChat (公众号): off (set WECHAT_TOKEN, and WECHAT_APPID, WECHAT_SECRET, WECHAT_AES_KEY, "
                "to switch it on)\n")
    return f"  WeChat (公众号): {urls['wechat']} ({config.describe()})\n"


def kept_secret(path: Path) -> str:
    """A secret that outlives a restart (the page's sender ids stay valid): read it, or create it (mode 600)."""
    try:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(value)
    return value


RETENTION_INTERVAL_SECONDS = 24 * 3600


def run_retention(settings: Settings) -> None:
    """Deletes or anonymises personal data older than RETENTION_DAYS (bot.retention); never stops the stack."""
    from bot.retention import purge

    try:
        counts = purge(settings)
    except Exception as exc:  # a locked or unreachable database: try again tomorrow, say so now
        print(f"Retention clean-up failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return
    done = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    print(f"Retention ({settings.retention_days} days): {done or 'nothing older to remove'}", flush=True)


HALL_FILE = Path("knowledge") / "catalog" / "hall.yml"


def hall_sample_notice(project_dir: Path, city_override: Optional[str] = None) -> str:
    """A banner line while the hall's local facts are still the shipped sample (hall.yml: sample_data: true)."""
    import yaml

    try:
        hall = (yaml.safe_load((project_dir / HALL_FILE).read_text(encoding="utf-8")) or {}).get("hall") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return ""
    if not isinstance(hall, dict) or hall.get("sample_data") is not True:
        return ""
    city = city_override or hall.get("city") or ""
    return (f"  Hall data:      SAMPLE — city {city}, address, phones and windows are examples. Set the real ones in\n"
            f"                  {HALL_FILE} (then sample_data: false) and run `make run` again.\n")


def main() -> int:
    try:
        settings = Settings.from_env()  # a wrong variable (WeChat's too) stops here, named
        if settings.wechat.enabled:
            settings.wechat.menu()
    except SettingsError as exc:
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
        + (f"  Web processes:  {settings.web_workers} on port {settings.web_port}, live events through PUBSUB_URL\n"
           if settings.web_workers > 1 else "")
        + scale_status(settings)
        + wechat_status(settings, urls)
        + hall_sample_notice(settings.project_dir, settings.catalog_city)
        + ("  (listening on all network interfaces)\n" if wildcard else "")
        + "Press Ctrl-C to stop.",
        flush=True,
    )
    exit_code = 0
    next_retention = time.monotonic()  # at start, then once a day
    try:
        while not stopping:
            if time.monotonic() >= next_retention:
                next_retention = time.monotonic() + RETENTION_INTERVAL_SECONDS
                run_retention(stack.settings)
            time.sleep(HEALTH_POLL_SECONDS)
            stack.supervise()  # a process that died is started again, after its back-off
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping ...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
