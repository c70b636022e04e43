"""python -m bot.train: the trainer's workbench from the shell (DESIGN.md §5a, issue #14).

    python -m bot.train inbox [--json] [--limit N] [--all]       # misunderstood messages, most frequent first
    python -m bot.train annotate ID --intent NAME [--matter CODE] [--gap] [--text 改写后的例句]
    python -m bot.train train [--background] [--status] [--cancel] [--no-evaluate]
    python -m bot.train evaluate [--json] [--model ID]           # the candidate against the active model
    python -m bot.train activate [MODEL]                         # default: the newest candidate
    python -m bot.train models [--json]
    python -m bot.train discard MODEL

`inbox --json` prints one JSON object per group and line (JSON Lines); `evaluate --json` and `models --json`
print one JSON object. Reads TRACKER_DB (Rasa's tracker store), MODEL_DIR, and for `activate` RASA_URL or
RASA_PORT and RASA_TOKEN (the token `rasa run --auth-token` was started with) like the other commands.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import List, Optional

from bot.settings import Settings, SettingsError

from . import activation, registry, training
from .annotate import AnnotationError, label
from .inbox import REASONS, read_inbox
from .paths import WorkbenchPaths


def _when(ts: Optional[float]) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1%}"


def cmd_inbox(args, settings: Settings, paths: WorkbenchPaths) -> int:
    inbox = read_inbox(args.tracker_db or settings.tracker_store_url, paths, include_labelled=args.all)
    groups = inbox.groups[: args.limit] if args.limit else inbox.groups
    if args.json:
        for g in groups:
            print(json.dumps(g.as_json(), ensure_ascii=False))
        return 0
    print(f"待处理 {len(inbox.groups)} 组（{inbox.messages} 条没听懂或答错的消息，用时 {inbox.seconds:.1f} 秒）")
    for g in groups:
        reasons = "、".join(REASONS.get(r, r) for r in g.reasons)
        done = f"  [已标注：{g.labelled}]" if g.labelled else ""
        print(f"{g.id}  {g.count:4d}次  {g.predicted_intent or '-'}({g.confidence:.2f})  {reasons}  {g.text}{done}")
    return 0


def cmd_annotate(args, settings: Settings, paths: WorkbenchPaths) -> int:
    inbox = read_inbox(args.tracker_db or settings.tracker_store_url, paths, include_labelled=True)
    group = inbox.find(args.id)
    if group is None:
        print(f"收件箱里没有编号为 {args.id} 的消息（先运行 python -m bot.train inbox）", file=sys.stderr)
        return 1
    text = args.text or group.text
    try:
        written = label(paths, text, intent=args.intent, matter=args.matter, gap=args.gap, count=group.count)
    except AnnotationError as exc:
        print(f"未保存：{exc}", file=sys.stderr)
        return 1
    for w in written:
        where = w.path.relative_to(paths.project_dir) if w.path.is_relative_to(paths.project_dir) else w.path
        kind = {"example": "例句", "alias": "事项别名", "gap": "目录缺项"}[w.kind]
        print(f"已写入{kind}：“{w.text}” → {where}（{w.label}）")
    return 0


def _print_progress(state) -> None:
    line = f"\r{state['label']} {state['progress']:.0%}"
    print(line, end="", file=sys.stderr, flush=True)


def cmd_train(args, settings: Settings, paths: WorkbenchPaths) -> int:
    try:
        if args.cancel:
            state = training.cancel(paths)
            print(f"训练 {state['id']} 已取消")
            return 0
        if args.status:
            state = training.status(paths)
            if state is None:
                print("还没有训练过")
                return 0
            print(f"训练 {state['id']}：{state['label']} {state['progress']:.0%}"
                  + (f"（{state['error']}）" if state.get("error") else ""))
            for row in state["log_tail"]:
                print("  " + row)
            return 0
        registry.ensure_active_registered(paths)
        state = training.start(paths, evaluate=not args.no_evaluate, env=settings.child_env())
    except training.TrainingError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"开始训练 {state['id']}（日志：{training.log_file(paths)}）")
    if args.background:
        return 0
    try:
        state = training.wait(paths, on_progress=_print_progress)
    except KeyboardInterrupt:
        state = training.cancel(paths)
    print(file=sys.stderr)
    print(f"训练 {state['id']}：{state['label']}" + (f"（{state['error']}）" if state.get("error") else ""))
    if state["state"] != "done":
        for row in state["log_tail"][-10:]:
            print("  " + row)
        return 1
    return 0


def _figures_line(name: str, entry, figures) -> str:
    if not figures:
        return f"{name} {entry['id']}：还没有评估"
    return (f"{name} {entry['id']}：意图准确率 {_pct(figures['intent_accuracy'])}，宏平均F1 {figures['macro_f1']:.3f}，"
            f"事项首选正确率 {_pct(figures['matter_top1'])}（{figures['questions']} 题，{figures['test_set']}）")


def cmd_evaluate(args, settings: Settings, paths: WorkbenchPaths) -> int:
    from .evaluation import compare, evaluate_and_store, summary

    active_id = registry.ensure_active_registered(paths)
    candidate_id = args.model or (registry.latest_candidate(paths) or {}).get("id")
    if not candidate_id and not active_id:
        print("还没有模型，请先训练", file=sys.stderr)
        return 1
    out = {}
    for role, model_id in (("candidate", candidate_id), ("active", active_id)):
        if model_id:
            try:
                evaluate_and_store(paths, model_id)
            except registry.RegistryError as exc:
                print(str(exc), file=sys.stderr)
                return 1
            out[role] = registry.entry(paths, model_id)
    changes = (compare(out["candidate"]["figures"], out["active"]["figures"])
               if "candidate" in out and "active" in out and candidate_id != active_id else None)
    if args.json:
        body = {role: {"id": e["id"], "status": e["status"], "figures": summary(e["figures"])} for role, e in out.items()}
        body.update(changes or {"turned_right": [], "turned_wrong": []})
        print(json.dumps(body, ensure_ascii=False, indent=1))
        return 0
    for role, name in (("candidate", "候选模型"), ("active", "正在使用")):
        if role in out:
            print(_figures_line(name, out[role], out[role]["figures"]))
    if changes:
        for key, title in (("turned_right", "候选模型改对了"), ("turned_wrong", "候选模型改错了")):
            print(f"{title}（{len(changes[key])}）：")
            for row in changes[key]:
                print(f"  {row['what']}  {row['q']}  应为 {row['expected']}：{row['active_got']} → {row['candidate_got']}")
    return 0


def cmd_activate(args, settings: Settings, paths: WorkbenchPaths) -> int:
    try:
        model_id = activation.activate(paths, args.model, settings.rasa_worker_urls, settings.rasa_token)
    except activation.ActivationError as exc:
        print(f"未切换：{exc}", file=sys.stderr)
        return 1
    print(f"已启用模型 {model_id}，助手现在用它回答")
    return 0


def cmd_models(args, settings: Settings, paths: WorkbenchPaths) -> int:
    from .evaluation import summary

    registry.ensure_active_registered(paths)
    entries = registry.models(paths)
    if args.json:
        print(json.dumps({"active": registry.read(paths)["active"],
                          "models": [dict(e, figures=summary(e.get("figures"))) for e in entries]},
                         ensure_ascii=False, indent=1))
        return 0
    for e in entries:
        f = e.get("figures") or {}
        print(f"{e['id']}\t{registry.STATUS_LABELS.get(e['status'], e['status'])}\t{_when(e.get('created'))}\t"
              f"意图 {_pct(f.get('intent_accuracy'))}\t事项 {_pct(f.get('matter_top1'))}")
    return 0


def cmd_discard(args, settings: Settings, paths: WorkbenchPaths) -> int:
    try:
        registry.discard(paths, args.model)
    except registry.RegistryError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"已丢弃模型 {args.model}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.train", description="训练师工作台（命令行）")
    parser.add_argument("--project", help="项目目录（默认本仓库；测试时用临时副本）")
    sub = parser.add_subparsers(dest="command", required=True)
    inbox = sub.add_parser("inbox", help="没听懂或答错的消息，按次数排列")
    inbox.add_argument("--json", action="store_true")
    inbox.add_argument("--limit", type=int, default=0)
    inbox.add_argument("--all", action="store_true", help="也列出已标注的")
    annotate = sub.add_parser("annotate", help="标注收件箱里的一组消息")
    annotate.add_argument("id")
    annotate.add_argument("--intent")
    annotate.add_argument("--matter")
    annotate.add_argument("--gap", action="store_true", help="事项目录里没有这个事项")
    annotate.add_argument("--text", help="写入的例句（改写原话，比如去掉个人信息）")
    train = sub.add_parser("train", help="用 rasa train 训练一个候选模型")
    train.add_argument("--background", action="store_true")
    train.add_argument("--status", action="store_true")
    train.add_argument("--cancel", action="store_true")
    train.add_argument("--no-evaluate", action="store_true")
    evaluate = sub.add_parser("evaluate", help="候选模型与正在使用的模型对比")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--model")
    activate = sub.add_parser("activate", help="启用一个模型（不重启）")
    activate.add_argument("model", nargs="?")
    models = sub.add_parser("models", help="所有模型及其指标")
    models.add_argument("--json", action="store_true")
    sub.add_parser("discard", help="丢弃一个候选模型").add_argument("model")
    for p in (inbox, annotate):
        p.add_argument("--tracker-db", help="Rasa 的对话库（默认 TRACKER_DB）")
    args = parser.parse_args(argv)
    if args.command == "annotate" and not (args.intent or args.matter or args.gap):
        parser.error("give --intent, --matter or --gap")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    paths = WorkbenchPaths.from_settings(settings)
    if args.project:
        from pathlib import Path

        paths = WorkbenchPaths(Path(args.project).resolve(), paths.model_dir)
    handler = {"inbox": cmd_inbox, "annotate": cmd_annotate, "train": cmd_train, "evaluate": cmd_evaluate,
               "activate": cmd_activate, "models": cmd_models, "discard": cmd_discard}[args.command]
    return handler(args, settings, paths)


if __name__ == "__main__":
    sys.exit(main())
