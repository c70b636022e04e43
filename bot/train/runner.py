"""python -m bot.train.runner RUN_DIR — one training run, started detached by bot.train.training.start.

Runs `python -m rasa train` (Rasa's own code path) into models/workbench/ under the run's id, registers the
candidate, then evaluates it and the active model on the project's test set. SIGTERM cancels the run.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from . import registry
from .paths import WorkbenchPaths
from .training import read_state, write_state


def main(run_dir: str) -> int:
    run = Path(run_dir)
    state = read_state(WorkbenchPaths(Path("."), run.parent.parent))
    paths = WorkbenchPaths(Path(state["project"]), Path(state["model_dir"]))
    paths.store_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "rasa", "train", "--config", state["config"], "--domain", state["domain"],
               "--data", *state["data"], "--out", str(paths.store_dir), "--fixed-model-name", state["id"]]
    print("$ rasa train " + " ".join(command[4:]), flush=True)
    started = time.time()
    child = subprocess.Popen(command, cwd=state["project"])

    def stop(_signum, _frame):
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
        current = read_state(paths)
        current["state"], current["finished"] = "cancelled", time.time()
        write_state(paths, current)
        registry.model_file(paths, state["id"]).unlink(missing_ok=True)
        print("训练已取消", flush=True)
        sys.exit(1)

    signal.signal(signal.SIGTERM, stop)
    code = child.wait()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    current = read_state(paths)
    if code != 0 or not registry.model_file(paths, state["id"]).exists():
        current.update(state="failed", finished=time.time(), error=f"rasa train 退出码 {code}，详见日志")
        write_state(paths, current)
        return 1
    registry.add_candidate(paths, state["id"], time.time() - started)
    if state.get("evaluate", True) and paths.eval_file.exists():
        current.update(state="evaluating")
        write_state(paths, current)
        try:
            from .evaluation import evaluate_and_store

            evaluate_and_store(paths, state["id"])
            active = registry.ensure_active_registered(paths)
            if active and active != state["id"]:
                evaluate_and_store(paths, active)  # kept from earlier runs unless the test set changed
        except Exception as exc:  # the candidate stays usable; the figures can be made later
            current.update(error=f"评估失败：{exc}")
            print(f"evaluation failed: {exc!r}", flush=True)
    current.update(state="done", finished=time.time())
    write_state(paths, current)
    print("训练完成", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
