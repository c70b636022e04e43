"""`python -m bot.run` as an operator uses it: start, print URLs, answer, stop cleanly on one Ctrl-C."""
from __future__ import annotations

import dataclasses
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from bot.run import Stack, StackError
from bot.settings import Settings
from support.stack import RASA_TOKEN, WEB_SECRET, rasa_api_params, web_sender

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 300
STOP_TIMEOUT = 60


class RunProcess:
    """bot.run in a subprocess, with its output collected line by line."""

    def __init__(self, env: dict):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.output: list = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.output.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"{pattern!r} not printed; output so far:\n{self.text()}")

    def text(self) -> str:
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "".join(self.output)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_env(free_ports, database_url: str, log_dir: Path, **extra) -> dict:
    rasa, action, web = free_ports(3)
    env = dict(
        os.environ,
        RASA_PORT=str(rasa),
        ACTION_PORT=str(action),
        WEB_PORT=str(web),
        HOST="127.0.0.1",
        DATABASE_URL=database_url,
        MODEL_DIR=str(REPO_ROOT / "models"),
        LOG_DIR=str(log_dir),
        RASA_TOKEN=RASA_TOKEN,
        WEB_SECRET=WEB_SECRET,
    )
    env.update(extra)
    return env


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def ports_of(env: dict) -> list:
    return [int(env[name]) for name in ("RASA_PORT", "ACTION_PORT", "WEB_PORT")]


def assert_all_closed(ports, timeout=10):
    deadline = time.monotonic() + timeout
    while any(port_open(p) for p in ports):
        assert time.monotonic() < deadline, f"still listening: {[p for p in ports if port_open(p)]}"
        time.sleep(0.2)


def child_running(parent_pid: int, module: str) -> int:
    """The pid of the parent's child process running `python -m module`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent_pid and module.encode() in cmdline:
            return int(entry.name)
    raise AssertionError(f"no child running {module}")


def requests_status(url: str):
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return None


def test_run_starts_everything_restarts_what_dies_and_one_ctrl_c_stops_it(trained_model, free_ports, catalog_database_url, tmp_path):
    env = run_env(free_ports, catalog_database_url, tmp_path / "logs")
    run = RunProcess(env)
    try:
        web_url = run.wait_for(r"Citizen page:\s+http://", START_TIMEOUT).split()[-1]
        rasa_url = run.wait_for(r"Rasa API:\s+http://", 5).split()[-1]
        action_url = run.wait_for(r"Action server:\s+http://", 5).split()[-1]
        run.wait_for(r"Ctrl-C", 5)

        assert web_url == f"http://127.0.0.1:{env['WEB_PORT']}/"
        assert rasa_url == f"http://127.0.0.1:{env['RASA_PORT']}/"
        assert action_url == f"http://127.0.0.1:{env['ACTION_PORT']}/"

        assert requests.get(f"{web_url}healthz", timeout=10).json() == {"web": "ok", "rasa": "ok"}
        assert requests.get(f"{rasa_url}status", timeout=10).status_code == 401  # Rasa's API wants the token
        assert requests.get(f"{rasa_url}status", params=rasa_api_params(), timeout=10).json()["model_file"]
        assert requests.get(f"{action_url}health", timeout=10).status_code == 200
        reply = requests.post(
            f"{web_url}api/chat", json={"sender": web_sender(), "message": "/greet"}, timeout=60
        )
        assert reply.status_code == 200 and reply.json()["messages"]

        for name in ("actions", "rasa", "web"):
            assert (tmp_path / "logs" / f"{name}.log").stat().st_size > 0

        # A process that dies is restarted (with a log line); the others keep running.
        actions_pid = child_running(run.proc.pid, "bot.action_server")
        os.killpg(actions_pid, signal.SIGKILL)
        run.wait_for(r"The action server exited with code -9 .*restarting it in 1 s", 30)
        run.wait_for(r"Restarted the action server", 30)
        deadline = time.monotonic() + 120
        while requests_status(f"{action_url}health") != 200:
            assert time.monotonic() < deadline, run.text()
            time.sleep(0.3)
        assert child_running(run.proc.pid, "bot.action_server") != actions_pid
        assert requests.get(f"{web_url}healthz", timeout=10).json() == {"web": "ok", "rasa": "ok"}

        run.proc.send_signal(signal.SIGINT)
        assert run.proc.wait(timeout=STOP_TIMEOUT) == 0, run.text()
        assert_all_closed(ports_of(env))
        assert "Stopped." in run.text()
    finally:
        run.kill()


def test_sigterm_while_starting_stops_everything(trained_model, free_ports, catalog_database_url, tmp_path):
    env = run_env(free_ports, catalog_database_url, tmp_path / "logs")
    run = RunProcess(env)
    try:
        run.wait_for(r"Starting", 30)
        # Wait until the children exist, then interrupt before Rasa has loaded its model.
        deadline = time.monotonic() + 30
        while not (tmp_path / "logs" / "rasa.log").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1)
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=STOP_TIMEOUT) == 0, run.text()
        assert_all_closed(ports_of(env))
    finally:
        run.kill()


def test_port_in_use_fails_clearly(free_ports, catalog_database_url, tmp_path):
    models = tmp_path / "models"  # the checks before starting need a model file; nothing gets to load it
    models.mkdir()
    (models / "placeholder.tar.gz").write_bytes(b"")
    env = run_env(free_ports, catalog_database_url, tmp_path / "logs", MODEL_DIR=str(models))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(env["WEB_PORT"])))
        busy.listen()
        result = subprocess.run(
            [sys.executable, "-m", "bot.run"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert env["WEB_PORT"] in result.stderr and "WEB_PORT" in result.stderr
    assert_all_closed([int(env["RASA_PORT"]), int(env["ACTION_PORT"])], timeout=2)


def test_missing_model_fails_clearly(free_ports, catalog_database_url, tmp_path):
    empty = tmp_path / "no-models"
    empty.mkdir()
    env = run_env(free_ports, catalog_database_url, tmp_path / "logs", MODEL_DIR=str(empty))
    result = subprocess.run(
        [sys.executable, "-m", "bot.run"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "No trained model" in result.stderr and str(empty) in result.stderr


@pytest.mark.parametrize("name, value", [("WEB_PORT", "eighty"), ("RASA_PORT", "70000")])
def test_bad_configuration_fails_clearly(tmp_path, name, value):
    env = dict(os.environ, **{name: value}, LOG_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "bot.run"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert name in result.stderr


def fake_interpreter(tmp_path: Path, body: str) -> str:
    """Stands in for the venv's python so the stack's own bookkeeping can be tested quickly."""
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def stack_settings(free_ports, tmp_path: Path) -> Settings:
    models = tmp_path / "models"
    models.mkdir()
    (models / "placeholder.tar.gz").write_bytes(b"")
    rasa, action, web = free_ports(3)
    return Settings.from_env(
        {
            "RASA_PORT": str(rasa),
            "ACTION_PORT": str(action),
            "WEB_PORT": str(web),
            "MODEL_DIR": str(models),
            "LOG_DIR": str(tmp_path / "logs"),
        }
    )


def test_a_child_that_dies_is_named_with_its_log(free_ports, tmp_path):
    python = fake_interpreter(tmp_path, 'echo "boom: $*"; exit 3')
    stack = Stack(stack_settings(free_ports, tmp_path), python=python, startup_timeout=30)
    with pytest.raises(StackError) as error:
        stack.start()
    message = str(error.value)
    assert "exited with code 3" in message
    assert str(tmp_path / "logs") in message and ".log" in message
    assert "boom:" in message  # the log's last lines are shown


def test_startup_timeout_names_the_logs_and_kills_the_children(free_ports, tmp_path):
    pid_file = tmp_path / "pids"
    python = fake_interpreter(tmp_path, f'echo $$ >> {pid_file}; exec sleep 600')
    stack = Stack(stack_settings(free_ports, tmp_path), python=python, startup_timeout=2, stop_grace=2)
    started = time.monotonic()
    with pytest.raises(StackError) as error:
        stack.start()
    assert "Not healthy after 2 s" in str(error.value)
    assert "rasa.log" in str(error.value)
    assert time.monotonic() - started < 20
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 3
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_settings_defaults_and_derived_urls():
    s = Settings.from_env({})
    assert (s.rasa_port, s.action_port, s.web_port, s.host) == (5005, 5055, 8000, "127.0.0.1")
    assert s.database_url == f"sqlite:///{REPO_ROOT / 'var' / 'catalog.sqlite3'}"
    assert s.model_dir == REPO_ROOT / "models" and s.log_dir == REPO_ROOT / "logs"
    assert s.rasa_url == "http://127.0.0.1:5005"
    assert s.action_endpoint_url == "http://127.0.0.1:5055/webhook"

    public = Settings.from_env({"HOST": "0.0.0.0", "WEB_PORT": "8080", "DATABASE_URL": "postgresql://u:p@db/x"})
    assert public.web_url == "http://127.0.0.1:8080"  # a wildcard bind address is not one to connect to
    env = public.child_env({})
    assert env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:5055/webhook"
    assert env["DATABASE_URL"] == "postgresql://u:p@db/x" and env["HOST"] == "0.0.0.0"
    with pytest.raises(dataclasses.FrozenInstanceError):
        public.web_port = 1  # frozen


def test_a_process_that_dies_is_restarted_with_a_back_off_and_a_log_line(tmp_path):
    """The generic supervisor: a dead process is started again after 1 s, then 2 s, ...; the others run on."""
    from bot.supervisor import Service, Supervisor, answers_200

    starts = tmp_path / "starts"
    flaky = Service(name="flaky", title="flaky server", argv=["sh", "-c", f"echo x >> {starts}; exit 3"],
                    bind_host="127.0.0.1", port=1, health_url="http://127.0.0.1:1/", healthy=answers_200,
                    log_path=tmp_path / "flaky.log")
    steady = Service(name="steady", title="steady server", argv=["sleep", "600"], bind_host="127.0.0.1", port=2,
                     health_url="http://127.0.0.1:2/", healthy=answers_200, log_path=tmp_path / "steady.log")
    said = []
    supervisor = Supervisor([flaky, steady], tmp_path, startup_timeout=5, stop_grace=2, say=said.append)
    supervisor._env = dict(os.environ)
    supervisor.launch("flaky")
    supervisor.launch("steady")
    steady_pid = steady.proc.pid
    started = time.monotonic()
    try:
        while flaky.restarts < 2:
            assert time.monotonic() - started < 20, said
            supervisor.supervise()
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        supervisor.stop()
    assert said[0].startswith("The flaky server exited with code 3") and "restarting it in 1 s" in said[0]
    assert "flaky.log" in said[0] and said[1] == "Restarted the flaky server (restart 1)"
    assert "restarting it in 2 s" in said[2] and said[3] == "Restarted the flaky server (restart 2)"
    assert 3.0 <= elapsed < 10, "waited 1 s, then 2 s"
    assert len(starts.read_text().split()) == 3
    assert not any("steady" in line for line in said)
    with pytest.raises(ProcessLookupError):  # stop() ended everything, the steady one too
        os.kill(steady_pid, 0)


def test_the_handoff_port_drawn_for_a_run_is_none_of_the_configured_ports(tmp_path):
    """The internal handoff port is drawn when the stack is built, before anything binds the configured ports, so
    the draw avoids them (it once gave WEB_PORT, and the start failed)."""
    from bot.supervisor import free_ports

    configured = free_ports(4)
    settings = dataclasses.replace(Settings.from_env({"HOST": "127.0.0.1", "LOG_DIR": str(tmp_path)}),
                                   rasa_port=configured[0], action_port=configured[1], web_port=configured[2])
    drawn = Stack(settings).settings.handoff_port
    assert drawn not in configured[:3] + settings.rasa_worker_ports
    assert not set(free_ports(20, avoid=configured)) & set(configured)
