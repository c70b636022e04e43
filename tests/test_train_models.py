"""The trainer's loop through the real paths on a test-sized project: a real `rasa run` (REST channel, SQL
tracker store, HTTP API behind a token) misreads a message → it appears in the inbox → the trainer labels it →
`rasa train` in the background → the evaluation shows it turned right → activation through `PUT /model` → the
same message sent through the REST channel gets the right answer → roll back."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.train import activation, registry, training
from bot.train.annotate import label
from bot.train.inbox import read_inbox
from bot.train.evaluation import compare
from bot.train.paths import WorkbenchPaths

REPO = Path(__file__).resolve().parent.parent
TOKEN = "test-token-for-the-workbench"
MESSAGE = "掏银子不"  # no word in common with the training data: the first model guesses

CONFIG = """recipe: default.v1
language: zh
assistant_id: workbench-test
pipeline:
  - name: JiebaTokenizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 2
  - name: LogisticRegressionClassifier
policies:
  - name: RulePolicy
"""
DOMAIN = """version: "3.1"
intents: [ask_fee, ask_hours, greet]
responses:
  utter_greet:
    - text: 您好
  utter_fee:
    - text: 说的是费用
  utter_hours:
    - text: 说的是办公时间
"""
REPLY = {"ask_fee": "说的是费用", "ask_hours": "说的是办公时间"}
NLU = """version: "3.1"

# Test-sized data: three intents.
nlu:
- intent: ask_fee
  examples: |
    - 要交多少钱
    - 收费吗
    - 费用是多少
    - 免费吗
    - 要钱不要钱
- intent: ask_hours
  examples: |
    - 几点开门
    - 几点上班
    - 周六办公吗
    - 中午休息吗
    - 几点下班
- intent: greet
  examples: |
    - 你好
    - 您好
    - 在吗
"""
RULES = """version: "3.1"
rules:
  - rule: greet
    steps: [{intent: greet}, {action: utter_greet}]
  - rule: fee
    steps: [{intent: ask_fee}, {action: utter_fee}]
  - rule: hours
    steps: [{intent: ask_hours}, {action: utter_hours}]
"""


@pytest.fixture()
def project(tmp_path):
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    (tmp_path / "data" / "nlu" / "nlu.yml").write_text(NLU, encoding="utf-8")
    (tmp_path / "data" / "rules.yml").write_text(RULES, encoding="utf-8")
    (tmp_path / "bench" / "data").mkdir(parents=True)
    (tmp_path / "models").mkdir()
    (tmp_path / "credentials.yml").write_text("rest:\n", encoding="utf-8")
    (tmp_path / "endpoints.yml").write_text(
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp_path / 'tracker.sqlite3'}\n", encoding="utf-8")
    return WorkbenchPaths(tmp_path, tmp_path / "models")


def _write_test_set(paths: WorkbenchPaths, target: str) -> None:
    rows = [{"q": MESSAGE, "matter": None, "intent": target}, {"q": "几点开门呀", "matter": None, "intent": "ask_hours"},
            {"q": "要交钱吗", "matter": None, "intent": "ask_fee"}, {"q": "你好呀", "matter": None, "intent": "greet"}]
    paths.eval_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _train(paths: WorkbenchPaths) -> dict:
    state = training.start(paths, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert state["state"] == "training" and state["label"] == "正在训练"
    with pytest.raises(training.TrainingError):
        training.start(paths)  # one run at a time
    state = training.wait(paths, timeout=900)
    assert state["state"] == "done", training.tail(paths, 40)
    assert state["progress"] == 1.0
    assert registry.model_file(paths, state["id"]).exists()
    return state


def _say(port: int, text: str, sender: str) -> str:
    """What the bot answers through the REST channel (the webhook needs no token)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook", method="POST",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return " ".join(m.get("text", "") for m in json.loads(response.read()))


def _parse(port: int, text: str) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/model/parse?token={TOKEN}", method="POST",
                                     data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["intent"]["name"]


@pytest.fixture()
def rasa_server(project, free_ports):
    """A real `rasa run` with its HTTP API behind a token; started on the first model, like the hall's server."""
    holder = {}

    def start(model: Path) -> int:
        port = free_ports(1)[0]
        log = open(project.project_dir / "rasa.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "rasa", "run", "--enable-api", "--auth-token", TOKEN,
                                 "--model", str(model), "--port", str(port), "--interface", "127.0.0.1",
                                 "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"],
                                cwd=str(project.project_dir), stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, RASA_TELEMETRY_ENABLED="false"))
        holder["proc"] = proc
        deadline = time.time() + 300
        while time.time() < deadline:
            assert proc.poll() is None, (project.project_dir / "rasa.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status?token={TOKEN}", timeout=5) as resp:
                    if json.loads(resp.read()).get("model_file"):
                        return port
            except OSError:
                pass
            time.sleep(1)
        raise AssertionError("rasa did not start")

    yield start
    if "proc" in holder:
        holder["proc"].terminate()
        holder["proc"].wait(timeout=30)


def test_annotate_train_evaluate_activate_and_roll_back(project, rasa_server, monkeypatch, capsys):
    _write_test_set(project, "ask_fee")
    first = _train(project)["id"]
    port = rasa_server(registry.model_file(project, first))
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(activation.ActivationError) as refused:
        activation.activate(project, first, url, "wrong-token")
    assert "令牌" in str(refused.value)
    assert activation.activate(project, first, url, TOKEN) == first
    assert project.active_model.read_bytes() == registry.model_file(project, first).read_bytes()

    guessed = _parse(port, MESSAGE)
    assert _say(port, MESSAGE, "citizen1") == REPLY.get(guessed, "您好")
    target = "ask_hours" if guessed == "ask_fee" else "ask_fee"
    _write_test_set(project, target)  # the label the trainer gives decides what "right" is

    # The conversation Rasa stored puts the message in the inbox, with the model's guess.
    inbox = read_inbox(project.project_dir / "tracker.sqlite3", project)
    group = next(g for g in inbox.groups if g.text == MESSAGE)
    assert group.predicted_intent == guessed and group.confidence < 0.6 and "low_confidence" in group.reasons
    label(project, group.text, intent=target)
    assert read_inbox(project.project_dir / "tracker.sqlite3", project).find(group.id) is None  # labelled

    time.sleep(1.1)  # a new second: model ids are timestamps
    second = _train(project)["id"]
    cand, active = registry.entry(project, second)["figures"], registry.entry(project, first)["figures"]
    assert cand and active, "the run evaluates the candidate and the active model"
    assert (project.store_dir / f"{second}.confusion.png").read_bytes()[:4] == b"\x89PNG"
    changes = compare(cand, active)
    assert [(r["q"], r["what"], r["candidate_got"]) for r in changes["turned_right"]] == [(MESSAGE, "意图", target)]
    assert set(cand["per_intent"]) >= {"ask_fee", "ask_hours", "greet"}
    assert cand["intent_accuracy"] > active["intent_accuracy"]

    from bot.train.__main__ import main

    monkeypatch.setenv("MODEL_DIR", str(project.model_dir))
    capsys.readouterr()
    assert main(["--project", str(project.project_dir), "evaluate", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["candidate"]["id"], shown["active"]["id"]) == (second, first)
    assert shown["candidate"]["figures"]["intent_accuracy"] == cand["intent_accuracy"]
    assert "results" not in shown["candidate"]["figures"]
    assert [r["q"] for r in shown["turned_right"]] == [MESSAGE] and shown["turned_wrong"] == []

    assert activation.activate(project, None, url, TOKEN) == second  # the newest candidate
    assert _parse(port, MESSAGE) == target
    assert _say(port, MESSAGE, "citizen2") == REPLY[target]
    statuses = {e["id"]: e["status"] for e in registry.models(project)}
    assert statuses == {first: "previous", second: "active"}
    activation.activate(project, first, url, TOKEN)  # roll back
    assert _parse(port, MESSAGE) == guessed
    assert _say(port, MESSAGE, "citizen3") == REPLY.get(guessed, "您好")
    assert registry.read(project)["active"] == first


def test_a_run_can_be_cancelled(project):
    state = training.start(project, evaluate=False)
    deadline = time.time() + 120
    while time.time() < deadline and not training.tail(project):
        time.sleep(0.5)
    state = training.cancel(project)
    assert state["state"] == "cancelled" and state["label"] == "已取消"
    assert registry.models(project) == []
    assert not registry.model_file(project, state["id"]).exists()
    with pytest.raises(training.TrainingError):
        training.cancel(project)
