"""A model's figures on the project's test set (bench/data/eval_questions.jsonl: intent and matter labels).

Every question is parsed by the model loaded in-process with Rasa's own Agent, exactly as the Rasa server
parses a message (the CatalogMatterExtractor included); the matter is then decided by the actions' own code
(actions.resolve), as bench/recognition.py does. Figures: intent accuracy, per-intent precision/recall/F1, the
confusion matrix (data, and a PNG), matter top-1, and every question's outcome, so two models can be compared
question by question (what turned right, what turned wrong).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import registry
from .paths import WorkbenchPaths


def load_questions(path: Path) -> List[Dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_set_fingerprint(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12]


async def _parse_all(model: Path, texts: List[str]) -> List[Dict[str, Any]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def _quiet() -> None:
    logging.getLogger("rasa").setLevel(logging.WARNING)
    try:
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level otherwise
    except ImportError:
        pass


def figures_for(parses: List[Dict[str, Any]], questions: List[Dict[str, Any]], catalog=None) -> Dict[str, Any]:
    """The figures from the model's parses of the questions (pure: no model, testable on its own)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from actions.resolve import Resolution, resolve
    from bench.recognition import _Tracker, acceptable, answering_intents

    answering = answering_intents()
    results = []
    for question, parse in zip(questions, parses):
        intent = (parse.get("intent") or {}).get("name") or ""
        wanted = acceptable(question.get("matter"))
        matter_ok = None
        if wanted and catalog is not None:
            resolution = resolve(_Tracker(parse), catalog) if intent in answering else Resolution("none")
            if resolution.kind in ("matter", "bundle"):
                matter_ok = resolution.code in wanted
            elif resolution.kind == "ambiguous":  # asking among exactly acceptable options is right
                matter_ok = isinstance(question["matter"], list) and bool(wanted & {c.code for c in resolution.candidates})
            else:
                matter_ok = False
        results.append({"q": question["q"], "intent": question["intent"], "got": intent,
                        "confidence": round(float((parse.get("intent") or {}).get("confidence") or 0.0), 3),
                        "intent_ok": intent == question["intent"], "matter": question.get("matter"),
                        "matter_ok": matter_ok})
    expected = [r["intent"] for r in results]
    got = [r["got"] for r in results]
    labels = sorted(set(expected) | set(got))
    precision, recall, f1, support = precision_recall_fscore_support(expected, got, labels=labels, zero_division=0)
    per_intent = {label: {"precision": round(float(p), 3), "recall": round(float(r), 3), "f1": round(float(f), 3),
                          "support": int(s)}
                  for label, p, r, f, s in zip(labels, precision, recall, f1, support)}
    supported = [v["f1"] for v in per_intent.values() if v["support"]]
    matter = [r["matter_ok"] for r in results if r["matter_ok"] is not None]
    return {
        "questions": len(results),
        "intent_accuracy": round(sum(r["intent_ok"] for r in results) / max(len(results), 1), 4),
        "macro_f1": round(sum(supported) / max(len(supported), 1), 4),
        "per_intent": per_intent,
        "labels": labels,
        "confusion": confusion_matrix(expected, got, labels=labels).tolist(),
        "matter_questions": len(matter),
        "matter_top1": round(sum(matter) / len(matter), 4) if matter else None,
        "results": results,
    }


def evaluate_model(model: Path, questions_path: Path, with_matters: bool = True) -> Dict[str, Any]:
    _quiet()
    questions = load_questions(questions_path)
    started = time.perf_counter()
    parses = asyncio.run(_parse_all(model, [q["q"] for q in questions]))
    catalog = None
    if with_matters:  # the catalog exactly as the action server opens it (DATABASE_URL, CATALOG_CITY)
        from actions.catalog_access import catalog as action_catalog

        catalog = action_catalog()
    figures = figures_for(parses, questions, catalog)
    figures.update(test_set=questions_path.name, test_set_fingerprint=test_set_fingerprint(questions_path),
                   evaluated=time.time(), seconds=round(time.perf_counter() - started, 1))
    return figures


def draw_confusion(figures: Dict[str, Any], target: Path, title: str) -> Path:
    """The confusion matrix as a PNG (matplotlib, headless), labels in Chinese where the font allows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    cjk = [f.name for f in font_manager.fontManager.ttflist
           if any(word in f.name for word in ("WenQuanYi", "Noto Sans CJK", "Noto Serif CJK", "SimHei", "Source Han"))]
    if cjk:
        plt.rcParams["font.sans-serif"] = [cjk[0], "DejaVu Sans"]
        plt.rcParams["axes.unicode_minus"] = False
    labels, matrix = figures["labels"], figures["confusion"]
    size = max(6.0, 0.45 * len(labels) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels=labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels=labels, fontsize=8)
    ax.set_xlabel("模型判断的意图")
    ax.set_ylabel("正确的意图")
    ax.set_title(title)
    top = max((max(row) for row in matrix if row), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                        color="white" if value > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target


def evaluate_and_store(paths: WorkbenchPaths, model_id: str, force: bool = False) -> Dict[str, Any]:
    """Figures of `model_id` (computed unless kept for the same test set), stored in the registry, with the
    confusion matrix drawn next to the model."""
    entry = registry.entry(paths, model_id)
    fingerprint = test_set_fingerprint(paths.eval_file)
    kept = entry.get("figures")
    if kept and kept.get("test_set_fingerprint") == fingerprint and not force:
        return kept
    figures = evaluate_model(registry.model_file(paths, model_id), paths.eval_file)
    image = paths.store_dir / f"{model_id}.confusion.png"
    draw_confusion(figures, image, f"意图混淆矩阵（模型 {model_id}，准确率 {figures['intent_accuracy']:.1%}）")
    figures["confusion_image"] = image.name
    registry.set_figures(paths, model_id, figures)
    return figures


def compare(candidate: Dict[str, Any], active: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    """Questions whose intent or matter the candidate gets right and the active model wrong, and the reverse."""
    before = {r["q"]: r for r in active.get("results") or []}
    right, wrong = [], []
    for now in candidate.get("results") or []:
        old = before.get(now["q"])
        if old is None:
            continue
        for what, key in (("意图", "intent_ok"), ("事项", "matter_ok")):
            if now[key] is None or old[key] is None or now[key] == old[key]:
                continue
            row = {"q": now["q"], "what": what, "expected": now["intent"] if key == "intent_ok" else now["matter"],
                   "active_got": old["got"], "candidate_got": now["got"]}
            (right if now[key] else wrong).append(row)
    return {"turned_right": right, "turned_wrong": wrong}


def summary(figures: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The figures without the per-question list (for listings)."""
    if not figures:
        return None
    return {k: v for k, v in figures.items() if k != "results"}
