"""The trainer's loop through the real paths on a test-sized project, the trainer's part in headless Chromium
on the workbench's pages: a real `rasa run` (REST channel, SQL tracker store, HTTP API behind a token) misreads
a message → it appears in the inbox → the trainer labels it → `rasa train` in the background, started from the
page, its progress watched → the evaluation on the page shows it turned right → activation from the page
through `PUT /model` → the same message sent through the REST channel gets the right answer → roll back from
the page. The first model (the hall's, before the trainer's work) is trained and activated by functions."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.train import activation, registry, training
from bot.train.inbox import read_inbox
from bot.train.paths import WorkbenchPaths
from bot.web.app import create_app
from support.workbench import console_settings, laptop_page, log_in_by_keyboard, served

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


def _web(tmp_path_factory, catalog_database_url, paths: WorkbenchPaths, rasa_port: int, web_port: int):
    """The web application whose workbench reads the project, its models and the tracker store Rasa writes,
    and switches the model of the Rasa on `rasa_port`."""
    settings = console_settings(tmp_path_factory.mktemp("web"), catalog_database_url, project_dir=paths.project_dir,
                                model_dir=paths.model_dir, tracker_db=paths.project_dir / "tracker.sqlite3",
                                rasa_port=rasa_port, rasa_token=TOKEN, web_port=web_port)
    return served(create_app(settings), web_port)


def _annotate_in_inbox(page, url: str, group_id: str, guessed: str, target: str) -> None:
    page.goto(f"{url}/console/train")
    row = page.locator(f"#g-{group_id}")
    assert MESSAGE in row.inner_text() and "置信度低" in row.inner_text()
    intent = row.locator("select[name=intent]")
    assert intent.input_value() == guessed  # the model's guess, preselected
    intent.select_option(target)
    row.get_by_role("button", name="保存").click()
    page.wait_for_selector("p.notice.ok >> text=已保存")
    assert MESSAGE not in page.inner_text("table.inbox")  # labelled: no longer in the inbox


def _train_on_page(page, url: str, before: str) -> str:
    """Start a run from the models page, watch it train, wait (the page refreshes itself) until it is done."""
    page.goto(f"{url}/console/train/models")
    page.get_by_role("button", name="开始训练").click()
    page.wait_for_selector("p.notice.ok >> text=已开始训练")
    model_id = page.inner_text("p.notice.ok").split("已开始训练")[1].strip()
    assert model_id != before  # ids are timestamps: Rasa's start alone took longer than a second
    run = page.locator("section.run")
    assert "正在训练" in run.inner_text() or "正在评估" in run.inner_text()
    assert run.locator("progress").count() == 1 and run.get_by_role("button", name="取消训练").count() == 1
    run.locator("p", has_text=re.compile(f"{model_id}，(已完成|失败|已取消)")).wait_for(timeout=900_000)
    assert f"{model_id}，已完成" in run.inner_text(), run.locator("pre.log").text_content()
    assert run.locator("progress").get_attribute("value") == "100" and "100%" in run.inner_text()
    assert "训练完成" in run.locator("pre.log").text_content()  # the log's tail
    return model_id


def _read_evaluation(page, candidate: str, active: str, guessed: str, target: str) -> None:
    compared = page.locator("section.compare")
    assert f"候选模型 {candidate} 与正在使用的 {active} 对比" in compared.locator("h2").inner_text()
    text = compared.inner_text()
    assert "改对了（1）" in text and "改错了（0）" in text
    right = compared.locator("h3", has_text="改对了").locator("xpath=following-sibling::ul[1]").inner_text()
    assert right == f"意图：{MESSAGE}（应为 {target}；{guessed} → {target}）"
    cells = compared.locator("table").first.locator("tbody tr")
    accuracy = [float(cells.nth(i).locator("td").first.inner_text().rstrip("%")) for i in (0, 1)]
    assert accuracy[0] > accuracy[1]  # candidate over the active model
    assert {"ask_fee", "ask_hours", "greet"} <= set(compared.locator("table.f1 tbody tr td:first-child").all_inner_texts())
    page.wait_for_function("() => { const img = document.querySelector('img.confusion');"
                           " return img && img.complete && img.naturalWidth > 0; }")  # the matrix drawn as a picture


def _switch_on_page(page, model_id: str, button: str) -> None:
    page.locator("section.models tr", has_text=model_id).get_by_role("button", name=button, exact=True).click()
    page.wait_for_selector(f"p.notice.ok >> text=已启用模型 {model_id}")


def _status_on_page(page, model_id: str) -> str:
    return page.locator("section.models tr", has_text=model_id).locator("td").nth(1).inner_text()


def test_a_trainer_mends_a_misread_message_in_the_browser(project, rasa_server, browser, tmp_path_factory,
                                                          catalog_database_url, free_ports, monkeypatch, capsys):
    """The hall's Rasa misreads a message; a trainer, in Chromium, labels it in the inbox, trains from the page,
    reads that it turned right, activates the candidate, and Rasa's REST channel answers right; then rolls back."""
    _write_test_set(project, "ask_fee")
    first = _train(project)["id"]
    port = rasa_server(registry.model_file(project, first))
    rasa = f"http://127.0.0.1:{port}"
    with pytest.raises(activation.ActivationError) as refused:
        activation.activate(project, first, rasa, "wrong-token")
    assert "令牌" in str(refused.value)
    assert activation.activate(project, first, rasa, TOKEN) == first
    assert project.active_model.read_bytes() == registry.model_file(project, first).read_bytes()

    guessed = _parse(port, MESSAGE)
    assert _say(port, MESSAGE, "citizen1") == REPLY.get(guessed, "您好")
    target = "ask_hours" if guessed == "ask_fee" else "ask_fee"
    _write_test_set(project, target)  # the label the trainer gives decides what "right" is
    # The conversation Rasa stored puts the message in the inbox, with the model's guess.
    group = next(g for g in read_inbox(project.project_dir / "tracker.sqlite3", project).groups if g.text == MESSAGE)
    assert group.predicted_intent == guessed and group.confidence < 0.6 and "low_confidence" in group.reasons

    web_port = free_ports(1)[0]
    with _web(tmp_path_factory, catalog_database_url, project, port, web_port) as url, \
            laptop_page(browser) as (page, problems):
        log_in_by_keyboard(page, url)
        _annotate_in_inbox(page, url, group.id, guessed, target)
        second = _train_on_page(page, url, first)
        _read_evaluation(page, second, first, guessed, target)
        assert (_status_on_page(page, first), _status_on_page(page, second)) == ("正在使用", "候选")

        # The shell shows the same comparison (figures only, no per-question results).
        from bot.train.__main__ import main

        monkeypatch.setenv("MODEL_DIR", str(project.model_dir))
        capsys.readouterr()
        assert main(["--project", str(project.project_dir), "evaluate", "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert (shown["candidate"]["id"], shown["active"]["id"]) == (second, first)
        assert "results" not in shown["candidate"]["figures"]
        assert [r["q"] for r in shown["turned_right"]] == [MESSAGE] and shown["turned_wrong"] == []

        _switch_on_page(page, second, "启用")
        assert (_status_on_page(page, first), _status_on_page(page, second)) == ("曾经使用", "正在使用")
        assert _parse(port, MESSAGE) == target
        assert _say(port, MESSAGE, "citizen2") == REPLY[target]
        assert project.active_model.read_bytes() == registry.model_file(project, second).read_bytes()

        _switch_on_page(page, first, "重新启用")  # roll back
        assert (_status_on_page(page, first), _status_on_page(page, second)) == ("正在使用", "曾经使用")
        assert _parse(port, MESSAGE) == guessed
        assert _say(port, MESSAGE, "citizen3") == REPLY.get(guessed, "您好")
        assert registry.read(project)["active"] == first
        assert problems == []


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
