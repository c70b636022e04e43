"""`python -m bot.train …` on a tracker store written by Rasa's SQLTrackerStore and a copy of the project's
data and catalog; and trainer accounts made by `python -m bot.console add-helper --role trainer`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.train.__main__ import main
from bot.train.sample_trackers import SampleTurn as T
from bot.train.sample_trackers import write_conversations

REPO = Path(__file__).resolve().parent.parent
FALLBACK = dict(actions=("action_not_understood",), utters=("utter_default",))


@pytest.fixture()
def setup(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copytree(REPO / "data" / "nlu", project / "data" / "nlu")
    (project / "knowledge").mkdir()
    shutil.copytree(REPO / "knowledge" / "catalog", project / "knowledge" / "catalog")
    db = tmp_path / "tracker.sqlite3"
    write_conversations(db, {
        "p1": ("rest", [T("办个渔船证上哪去", "nlu_fallback", 0.3,
                          ranking=[("nlu_fallback", 0.35), ("ask_location", 0.31)], **FALLBACK)]),
        "p2": ("wechat", [T("办个渔船证上哪去?", "nlu_fallback", 0.3,
                            ranking=[("nlu_fallback", 0.35), ("ask_location", 0.33)], **FALLBACK)]),
        "p3": ("rest", [T("公司想换个法人得跑几趟", "ask_procedure", 0.45)]),
    })
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("TRACKER_DB", str(db))
    monkeypatch.setenv("MODEL_DIR", str(models))
    return ["--project", str(project)], project, models


def test_inbox_json_then_annotate(setup, capsys):
    base, project, _ = setup
    assert main(base + ["inbox", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["text"], r["count"], r["predicted_intent"]) for r in rows] == [
        ("办个渔船证上哪去", 2, "ask_location"), ("公司想换个法人得跑几趟", 1, "ask_procedure")]
    assert all({"id", "text", "count", "predicted_intent", "confidence"} <= set(r) for r in rows)
    assert main(base + ["inbox", "--json", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1

    assert main(base + ["annotate", rows[1]["id"], "--intent", "ask_online"]) == 0
    assert "已写入例句" in capsys.readouterr().out
    assert "- 公司想换个法人得跑几趟\n" in (project / "data" / "nlu" / "aspects.yml").read_text(encoding="utf-8")
    assert main(base + ["annotate", rows[1]["id"], "--intent", "ask_procedure"]) == 1
    assert "冲突" in capsys.readouterr().err
    assert main(base + ["annotate", rows[0]["id"], "--intent", "ask_location", "--gap"]) == 0
    assert "count: 2" in (project / "knowledge" / "catalog_gaps.yml").read_text(encoding="utf-8")
    assert main(base + ["annotate", "0000000000", "--intent", "ask_location"]) == 1

    assert main(base + ["inbox"]) == 0
    out = capsys.readouterr().out
    assert "待处理 0 组" in out  # both groups labelled now
    assert main(base + ["inbox", "--all"]) == 0
    assert "已标注：ask_online" in capsys.readouterr().out


def test_models_and_activate_without_rasa(setup, capsys, monkeypatch, free_ports):
    base, _project, models = setup
    (models / "assistant.tar.gz").write_bytes(b"a model file")
    assert main(base + ["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["active"].startswith("initial-") and listed["models"][0]["status"] == "active"
    assert (models / "workbench" / f"{listed['active']}.tar.gz").read_bytes() == b"a model file"
    monkeypatch.setenv("RASA_PORT", str(free_ports(1)[0]))  # nobody listens there
    assert main(base + ["activate", listed["active"]]) == 1
    assert "连不上助手服务" in capsys.readouterr().err
    assert main(base + ["activate"]) == 1
    assert "没有待启用的候选模型" in capsys.readouterr().err
    assert main(base + ["train", "--status"]) == 0
    assert "还没有训练过" in capsys.readouterr().out


def test_trainer_accounts(tmp_path):
    from knowledge import make_engine
    from bot.handoff.config import HandoffConfig
    from bot.handoff.service import HandoffService

    url = f"sqlite:///{tmp_path / 'handoff.sqlite3'}"
    env = dict(os.environ, DATABASE_URL=url, HANDOFF_CONFIG=str(REPO / "tests" / "fixtures" / "handoff.yml"))

    def add(*args):
        return subprocess.run([sys.executable, "-m", "bot.console", "add-helper", *args, "--password-stdin"],
                              cwd=REPO, env=env, input="Workbench-Pass-2026\n", capture_output=True, text=True,
                              timeout=120)

    made = add("wangwu", "--name", "王五", "--staff-no", "T003", "--role", "trainer")
    assert made.returncode == 0, made.stderr
    assert "\ttrainer\t" in made.stdout
    assert add("zhao", "--name", "赵六", "--staff-no", "T004").returncode != 0  # a helper needs a queue
    assert add("boss", "--name", "李", "--staff-no", "S1", "--supervisor", "--role", "trainer").returncode != 0
    service = HandoffService(make_engine(url), HandoffConfig.load(REPO / "tests" / "fixtures" / "handoff.yml"))
    queue = service.config.queues[0].code
    service.add_helper("helper1", "钱七", "H001", "Workbench-Pass-2026", [queue])
    service.add_helper("boss1", "李主任", "S001", "Workbench-Pass-2026", role="supervisor")
    roles = {h.username: (h.role, h.can_train) for h in service.helpers()}
    assert roles == {"wangwu": ("trainer", True), "helper1": ("helper", False), "boss1": ("supervisor", True)}
