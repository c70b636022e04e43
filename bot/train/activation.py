"""Switching the model Rasa answers with, without a restart: Rasa's HTTP API `PUT /model` (with the API token
of `rasa run --auth-token`, RASA_TOKEN), then the model is copied to models/assistant.tar.gz so that the next
start of Rasa (`rasa run --model models/`) keeps it. An earlier model is re-activated the same way."""
from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional, Sequence, Union

from . import registry
from .paths import WorkbenchPaths


class ActivationError(RuntimeError):
    """`str()` is the sentence shown to the trainer."""


def load_in_rasa(rasa_url: str, token: str, model: Path, timeout: float = 600.0) -> None:
    query = f"?{urllib.parse.urlencode({'token': token})}" if token else ""
    request = urllib.request.Request(f"{rasa_url.rstrip('/')}/model{query}", method="PUT",
                                     data=json.dumps({"model_file": str(model.resolve())}).encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise ActivationError("助手服务拒绝了切换模型的请求：令牌不对（请设置 RASA_TOKEN）") from None
        raise ActivationError(f"助手服务没能加载这个模型（HTTP {exc.code}）") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ActivationError(f"连不上助手服务（{rasa_url}），模型没有切换") from exc
    if status not in (200, 204):
        raise ActivationError(f"助手服务没能加载这个模型（HTTP {status}）")


def activate(paths: WorkbenchPaths, model_id: Optional[str], rasa_url: Union[str, Sequence[str]],
             token: str) -> str:
    """Activate `model_id` (default: the newest candidate) in every Rasa process (RASA_WORKERS); returns its id."""
    registry.ensure_active_registered(paths)
    if model_id is None:
        latest = registry.latest_candidate(paths)
        if latest is None:
            raise ActivationError("没有待启用的候选模型，请先训练")
        model_id = latest["id"]
    try:
        entry = registry.entry(paths, model_id)
    except registry.RegistryError as exc:
        raise ActivationError(str(exc)) from None
    source = registry.model_file(paths, model_id)
    if entry["status"] == "discarded" or not source.exists():
        raise ActivationError(f"模型 {model_id} 的文件已不存在")
    for url in [rasa_url] if isinstance(rasa_url, str) else rasa_url:
        load_in_rasa(url, token, source)
    # Kept for the next start of Rasa: the newest *.tar.gz directly in models/.
    tmp = paths.active_model.with_name(".assistant.tar.gz.tmp")
    shutil.copy2(source, tmp)
    os.replace(tmp, paths.active_model)
    os.utime(paths.active_model)
    stamp = paths.model_dir / ".trained"  # `make run` must not retrain over the trainer's choice
    if stamp.exists():
        stamp.touch()
    registry.set_active(paths, model_id)
    return model_id
