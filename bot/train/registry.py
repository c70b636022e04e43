"""Every model the workbench knows and its figures: models/workbench/models.json, next to the model files.

Only models and their evaluation figures are kept here; the training data stays in the repository's files.
Statuses: "candidate" (trained, not active), "active", "previous" (was active), "discarded" (file removed).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from .paths import WorkbenchPaths

STATUS_LABELS = {"candidate": "候选", "active": "正在使用", "previous": "曾经使用", "discarded": "已丢弃"}


class RegistryError(ValueError):
    """`str()` is the sentence shown to the trainer."""


@contextlib.contextmanager
def _locked(paths: WorkbenchPaths) -> Iterator[Dict[str, Any]]:
    """The registry, read and written back under a file lock (the CLI, the web and a training run share it)."""
    paths.store_dir.mkdir(parents=True, exist_ok=True)
    with open(paths.store_dir / ".models.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = _read(paths)
        yield data
        tmp = paths.registry_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, paths.registry_file)


def _read(paths: WorkbenchPaths) -> Dict[str, Any]:
    if paths.registry_file.exists():
        return json.loads(paths.registry_file.read_text(encoding="utf-8"))
    return {"active": None, "models": []}


def read(paths: WorkbenchPaths) -> Dict[str, Any]:
    return _read(paths)


def model_file(paths: WorkbenchPaths, model_id: str) -> Path:
    return paths.store_dir / f"{model_id}.tar.gz"


def ensure_active_registered(paths: WorkbenchPaths) -> Optional[str]:
    """The model Rasa starts with (models/assistant.tar.gz), registered as active when the registry has none.
    Returns the active model's id."""
    with _locked(paths) as data:
        if data.get("active"):
            return data["active"]
        if not paths.active_model.exists():
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(paths.active_model.stat().st_mtime))
        model_id = f"initial-{stamp}"
        target = model_file(paths, model_id)
        if not target.exists():
            shutil.copy2(paths.active_model, target)
        data["models"].append({"id": model_id, "created": paths.active_model.stat().st_mtime, "source": "initial",
                               "status": "active", "figures": None})
        data["active"] = model_id
        return model_id


def add_candidate(paths: WorkbenchPaths, model_id: str, seconds: float) -> None:
    with _locked(paths) as data:
        data["models"].append({"id": model_id, "created": time.time(), "source": "trained", "status": "candidate",
                               "train_seconds": round(seconds, 1), "figures": None})


def set_figures(paths: WorkbenchPaths, model_id: str, figures: Dict[str, Any]) -> None:
    with _locked(paths) as data:
        _entry(data, model_id)["figures"] = figures


def set_active(paths: WorkbenchPaths, model_id: str) -> None:
    with _locked(paths) as data:
        entry = _entry(data, model_id)
        for other in data["models"]:
            if other["status"] == "active":
                other["status"] = "previous"
        entry["status"] = "active"
        entry["activated"] = time.time()
        data["active"] = model_id


def discard(paths: WorkbenchPaths, model_id: str) -> None:
    with _locked(paths) as data:
        entry = _entry(data, model_id)
        if entry["status"] == "active":
            raise RegistryError("不能丢弃正在使用的模型")
        entry["status"] = "discarded"
        model_file(paths, model_id).unlink(missing_ok=True)


def _entry(data: Dict[str, Any], model_id: str) -> Dict[str, Any]:
    for entry in data["models"]:
        if entry["id"] == model_id:
            return entry
    raise RegistryError(f"没有编号为“{model_id}”的模型")


def entry(paths: WorkbenchPaths, model_id: str) -> Dict[str, Any]:
    return _entry(_read(paths), model_id)


def models(paths: WorkbenchPaths) -> List[Dict[str, Any]]:
    """Newest first."""
    return sorted(_read(paths)["models"], key=lambda e: -float(e.get("created") or 0))


def latest_candidate(paths: WorkbenchPaths) -> Optional[Dict[str, Any]]:
    return next((e for e in models(paths) if e["status"] == "candidate"), None)
