"""A training run through Rasa's own code path: `rasa train` as a subprocess, in the background, into the
workbench's models folder (models/workbench/, never the folder Rasa loads from), while the active model keeps
answering. One run at a time; its state, progress and log are files under models/workbench/run/, so the shell
and the web pages see the same run.

The run is supervised by `python -m bot.train.runner`, started detached: it trains, registers the candidate and
evaluates it (and the active model, when not evaluated yet) on the project's test set.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bot.settings import REPO_ROOT

from .paths import WorkbenchPaths

STATE_LABELS = {"training": "正在训练", "evaluating": "正在评估", "done": "已完成", "failed": "失败",
                "cancelled": "已取消"}
RUNNING = ("training", "evaluating")
_EPOCHS = re.compile(r"Epochs:\s+(\d+)%")
_COMPONENT = re.compile(r"(Starting to train component|Finished training component)")


class TrainingError(RuntimeError):
    """`str()` is the sentence shown to the trainer."""


def _state_file(paths: WorkbenchPaths) -> Path:
    return paths.run_dir / "run.json"


def log_file(paths: WorkbenchPaths) -> Path:
    return paths.run_dir / "run.log"


def read_state(paths: WorkbenchPaths) -> Optional[Dict[str, Any]]:
    path = _state_file(paths)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_state(paths: WorkbenchPaths, state: Dict[str, Any]) -> None:
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    tmp = _state_file(paths).with_suffix(".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, _state_file(paths))


def _alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child of this very process stays a zombie until reaped; reap it if so.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def start(paths: WorkbenchPaths, config: Optional[Path] = None, domain: Optional[Path] = None,
          data: Optional[List[Path]] = None, evaluate: bool = True, env: Optional[Dict[str, str]] = None) -> Dict:
    """Start a run in the background and return its state; refuses while another run is going."""
    current = status(paths)
    if current and current["state"] in RUNNING:
        raise TrainingError(f"已有一次训练在进行（{current['id']}），请等它结束或先取消")
    project = paths.project_dir
    model_id = time.strftime("%Y%m%d-%H%M%S")
    state = {
        "id": model_id, "state": "training", "started": time.time(), "finished": None, "pid": None,
        "project": str(project), "model_dir": str(paths.model_dir), "evaluate": evaluate,
        "config": str(config or project / "config.yml"), "domain": str(domain or project / "domain.yml"),
        "data": [str(p) for p in (data or [project / "data"])], "error": None,
    }
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    write_state(paths, state)
    log = open(log_file(paths), "wb")
    try:
        child_env = dict(env or os.environ)
        child_env.setdefault("RASA_TELEMETRY_ENABLED", "false")
        child_env.setdefault("PYTHONUNBUFFERED", "1")
        child_env.setdefault("PYTHONWARNINGS", "ignore")  # a log tail a trainer can read
        # Our package and the project's custom components, whatever the project folder is.
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), str(project),
                                                             child_env.get("PYTHONPATH", "")) if p)
        proc = subprocess.Popen([sys.executable, "-m", "bot.train.runner", str(paths.run_dir)],
                                cwd=str(project), env=child_env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()
    state["pid"] = proc.pid
    write_state(paths, state)
    return status(paths)


def tail(paths: WorkbenchPaths, lines: int = 20) -> List[str]:
    path = log_file(paths)
    if not path.exists():
        return []
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 64 * 1024))
        text = re.sub(r"\x1b\[[0-9;]*m", "", handle.read().decode("utf-8", errors="replace"))  # colours
    # tqdm redraws its bar with carriage returns: keep the last drawing of each line.
    rows = [row.split("\r")[-1] for row in text.replace("\r\n", "\n").split("\n")]
    # Python's deprecation warnings (and their indented source lines) say nothing to a trainer.
    kept = [row for row in rows if row.strip() and "Warning" not in row and not row.startswith((" ", "\t"))
            and "declare_namespace" not in row]
    return kept[-lines:]


def progress(paths: WorkbenchPaths, state: Dict[str, Any]) -> float:
    """0..1, from the components Rasa reports started and finished and the epochs bar of the current one."""
    if state["state"] in ("done",):
        return 1.0
    path = log_file(paths)
    if not path.exists():
        return 0.0
    text = path.read_text(encoding="utf-8", errors="replace")
    components = _count_components(Path(state["config"]))
    finished = text.count("Finished training component") + text.count("Restored component")
    epochs = _EPOCHS.findall(text.rsplit("Starting to train component", 1)[-1])
    within = int(epochs[-1]) / 100 if epochs else 0.0
    done = min((finished + within) / max(components, 1), 1.0)
    if state["state"] == "evaluating":
        return max(done, 0.95)
    return min(done, 0.95)


def _count_components(config: Path) -> int:
    import yaml

    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except OSError:
        return 1
    # Rasa logs "Starting/Finished training component" for each of these.
    return len(data.get("pipeline") or []) + len(data.get("policies") or [])


def status(paths: WorkbenchPaths) -> Optional[Dict[str, Any]]:
    state = read_state(paths)
    if state is None:
        return None
    if state["state"] in RUNNING and not _alive(state.get("pid")):
        state["state"], state["error"] = "failed", state.get("error") or "训练进程意外退出"
        state["finished"] = state.get("finished") or time.time()
        write_state(paths, state)
    state["label"] = STATE_LABELS.get(state["state"], state["state"])
    state["progress"] = progress(paths, state)
    state["log_tail"] = tail(paths)
    return state


def cancel(paths: WorkbenchPaths) -> Dict[str, Any]:
    state = read_state(paths)
    if state is None or state["state"] not in RUNNING or not _alive(state.get("pid")):
        raise TrainingError("现在没有正在进行的训练")
    try:
        os.killpg(state["pid"], signal.SIGTERM)  # the runner and its `rasa train` child
    except ProcessLookupError:
        pass
    deadline = time.time() + 30
    while time.time() < deadline and _alive(state["pid"]):
        time.sleep(0.2)
    if _alive(state["pid"]):
        os.killpg(state["pid"], signal.SIGKILL)
    state = read_state(paths) or state
    if state["state"] in RUNNING:
        state["state"], state["finished"] = "cancelled", time.time()
        write_state(paths, state)
    return status(paths)


def wait(paths: WorkbenchPaths, timeout: float = 24 * 3600, interval: float = 1.0, on_progress=None) -> Dict:
    deadline = time.time() + timeout
    while True:
        state = status(paths)
        if on_progress:
            on_progress(state)
        if state is None or state["state"] not in RUNNING or time.time() > deadline:
            return state
        time.sleep(interval)
