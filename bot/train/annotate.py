"""A trainer's label, written into the repository's own files (the source of truth; no database copy):

- an example under its intent in data/nlu/*.yml (the file that already holds that intent);
- an alias of a matter (or bundle) in knowledge/catalog/;
- "the catalog lacks this" in the gap list (knowledge/catalog_gaps.yml), with counts.

An example that exists already, or exists under another label, is refused with a message for the trainer.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

import yaml

from . import yamlfiles
from .paths import WorkbenchPaths
from .texts import text_key


class AnnotationError(ValueError):
    """A label that cannot be written; `str()` is the sentence shown to the trainer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Written:
    kind: str  # "example" | "alias" | "gap"
    path: Path
    label: str  # intent, matter code, or "gap"
    text: str


_ENTITY_SYNTAX = re.compile(r"\]\(|\]\{|\]\[")


def clean_example(text: str) -> str:
    """One line, no leading/trailing spaces; refuses what cannot be a plain training example."""
    line = " ".join((text or "").split())
    if not text_key(line):
        raise AnnotationError("empty", "这条消息没有可用的文字，不能作为例句")
    if "*" in line:
        raise AnnotationError("masked", "这条消息含有遮蔽的个人信息（*），请改写成不含个人信息的例句再保存")
    if line.startswith("/") or _ENTITY_SYNTAX.search(line):
        raise AnnotationError("syntax", "例句不能以“/”开头，也不能含有“](”之类的标注符号")
    if len(line) > 200:
        raise AnnotationError("too_long", "例句太长（超过200字），请截取问的那一句")
    return line


# ---------------------------------------------------------------- NLU examples


def _read(path: Path):
    """Read-only: the C loader, much faster than the round-trip one on the large catalog files."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


def _examples(block: str) -> List[str]:
    return [line[2:].strip() for line in (block or "").splitlines() if line.startswith("- ")]


class NluFiles:
    """The intents and examples of data/nlu/*.yml, read fresh (the files may change between two labels)."""

    def __init__(self, nlu_dir: Path) -> None:
        self.nlu_dir = nlu_dir
        self.intent_file: Dict[str, Path] = {}
        self.by_key: Dict[str, Tuple[str, str]] = {}  # text key -> (intent, example as written)
        for path in sorted(nlu_dir.glob("*.yml")):
            data = _read(path) or {}
            for entry in data.get("nlu") or []:
                intent = entry.get("intent")
                if not intent:
                    continue
                self.intent_file.setdefault(intent, path)
                for example in _examples(entry.get("examples")):
                    self.by_key.setdefault(text_key(example), (intent, example))

    @property
    def intents(self) -> List[str]:
        return sorted(self.intent_file)

    def label_of(self, text: str) -> Optional[str]:
        found = self.by_key.get(text_key(text))
        return found[0] if found else None


def check_example(paths: WorkbenchPaths, text: str, intent: str) -> str:
    """The example as it would be written; raises AnnotationError when it would be refused."""
    line = clean_example(text)
    nlu = NluFiles(paths.nlu_dir)
    _check(nlu, line, intent)
    return line


def _check(nlu: NluFiles, line: str, intent: str) -> None:
    if intent not in nlu.intent_file:
        raise AnnotationError("unknown_intent", f"训练数据里没有意图“{intent}”（新意图要先加进 domain.yml 和训练文件）")
    found = nlu.by_key.get(text_key(line))
    if found and found[0] == intent:
        raise AnnotationError("exists", f"例句已存在：“{found[1]}”已标为 {intent}")
    if found:
        raise AnnotationError("conflict", f"与已有例句冲突：“{found[1]}”已标为 {found[0]}，不是 {intent}")


def add_example(paths: WorkbenchPaths, text: str, intent: str) -> Written:
    line = clean_example(text)
    nlu = NluFiles(paths.nlu_dir)
    _check(nlu, line, intent)
    path = nlu.intent_file[intent]

    def change(data) -> None:
        for entry in data["nlu"]:
            if entry.get("intent") == intent:
                old = entry["examples"]
                body = str(old) if str(old).endswith("\n") else f"{old}\n"
                new = LiteralScalarString(f"{body}- {line}\n")
                for attr in ("comment", "_yaml_comment"):  # a comment after the block stays where it was
                    if hasattr(old, attr):
                        setattr(new, attr, getattr(old, attr))
                entry["examples"] = new
                return
        raise AnnotationError("unknown_intent", f"训练数据里没有意图“{intent}”")

    yamlfiles.edit(path, change)
    return Written("example", path, intent, line)


# ---------------------------------------------------------------- catalog aliases


def _catalog_files(catalog_dir: Path) -> List[Tuple[Path, str]]:
    files = [(p, "matters") for p in sorted((catalog_dir / "matters").glob("*.yml"))]
    if (catalog_dir / "bundles.yml").exists():
        files.append((catalog_dir / "bundles.yml", "bundles"))
    return files


def catalog_terms(catalog_dir: Path) -> Dict[str, Tuple[str, str]]:
    """text key -> (code, term) for every name, alias and keyword of the catalog's matters and bundles."""
    terms: Dict[str, Tuple[str, str]] = {}
    for path, key in _catalog_files(catalog_dir):
        for record in (_read(path) or {}).get(key) or []:
            code = record.get("code")
            for term in [record.get("name")] + list(record.get("aliases") or []) + list(record.get("keywords") or []):
                if term:
                    terms.setdefault(text_key(str(term)), (code, str(term)))
    return terms


_NAMES: Dict[tuple, Dict[str, str]] = {}


def matter_names(catalog_dir: Path) -> Dict[str, str]:
    """code -> official name, for searching and showing matters; read again only when a catalog file changed
    (every workbench page shows names: parsing the catalog takes about half a second)."""
    files = _catalog_files(catalog_dir)
    stamp = tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path, _key in files)
    found = _NAMES.get(stamp)
    if found is None:
        found = {}
        for path, key in files:
            for record in (_read(path) or {}).get(key) or []:
                found[str(record.get("code"))] = str(record.get("name"))
        _NAMES.clear()
        _NAMES[stamp] = found
    return dict(found)


def check_alias(paths: WorkbenchPaths, text: str, code: str) -> Tuple[str, Path, str]:
    """(alias, file, top-level key) as it would be written; raises AnnotationError when it would be refused."""
    line = clean_example(text)
    found = catalog_terms(paths.catalog_dir).get(text_key(line))
    if found and found[0] == code:
        raise AnnotationError("exists", f"别名已存在：“{found[1]}”已是 {code} 的名称、别名或关键词")
    if found:
        raise AnnotationError("conflict", f"与事项目录冲突：“{found[1]}”已属于 {found[0]}，不是 {code}")
    for path, key in _catalog_files(paths.catalog_dir):
        data = _read(path) or {}
        if any(r.get("code") == code for r in data.get(key) or []):
            return line, path, key
    raise AnnotationError("unknown_matter", f"事项目录里没有编码为“{code}”的事项")


def add_alias(paths: WorkbenchPaths, text: str, code: str) -> Written:
    from knowledge.loader import read_catalog
    from knowledge.schema import CatalogError

    line, path, key = check_alias(paths, text, code)
    original = path.read_text(encoding="utf-8")

    def change(data) -> None:
        for record in data[key]:
            if record.get("code") == code:
                aliases = record.get("aliases")
                if aliases is None:
                    aliases = CommentedSeq()
                    if isinstance(record, CommentedMap) and "keywords" in record:
                        record.insert(list(record).index("keywords"), "aliases", aliases)
                    else:
                        record["aliases"] = aliases
                aliases.append(line)
                return

    yamlfiles.edit(path, change)
    try:
        read_catalog(paths.catalog_dir)
    except CatalogError as exc:
        yamlfiles.write_atomic(path, original)
        first = exc.issues[0] if getattr(exc, "issues", None) else exc
        raise AnnotationError("catalog_check", f"事项目录检查未通过，未保存：{first}") from None
    return Written("alias", path, code, line)


# ---------------------------------------------------------------- the gap list

GAP_HEADER = (
    "# 事项目录缺少的事项：训练师在工作台标为“目录里没有这个事项”的群众原话，按出现次数排列。\n"
    "# 由 python -m bot.train annotate … --gap 写入；补充事项目录（knowledge/catalog/matters/）后删去对应条目。\n"
)


def gap_list(paths: WorkbenchPaths) -> List[dict]:
    """The entries of the gap list (text, count, first and last seen)."""
    if not paths.gap_file.exists():
        return []
    return list((_read(paths.gap_file) or {}).get("gaps") or [])


def gap_keys(paths: WorkbenchPaths) -> Dict[str, int]:
    return {text_key(g["text"]): int(g.get("count") or 0) for g in gap_list(paths)}


def add_gap(paths: WorkbenchPaths, text: str, count: int = 1, today: Optional[dt.date] = None) -> Written:
    line = clean_example(text)
    day = (today or dt.date.today()).isoformat()
    if not paths.gap_file.exists():
        yamlfiles.write_atomic(paths.gap_file, GAP_HEADER + "gaps: []\n")

    def change(data) -> None:
        gaps = data.get("gaps")
        if not gaps:
            gaps = CommentedSeq()
            data["gaps"] = gaps
        for gap in gaps:
            if text_key(gap["text"]) == text_key(line):
                gap["count"] = int(gap.get("count") or 0) + count
                gap["last_seen"] = day
                break
        else:
            entry = CommentedMap()
            entry["text"], entry["count"], entry["first_seen"], entry["last_seen"] = line, count, day, day
            gaps.append(entry)
        ordered = sorted(gaps, key=lambda g: -int(g.get("count") or 0))
        gaps[:] = ordered
        # Block style for a readable diff once the list has entries.
        gaps.fa.set_block_style()

    yamlfiles.edit(paths.gap_file, change)
    return Written("gap", paths.gap_file, "gap", line)


# ---------------------------------------------------------------- one label, all its parts


def label(paths: WorkbenchPaths, text: str, intent: Optional[str] = None, matter: Optional[str] = None,
          gap: bool = False, count: int = 1) -> List[Written]:
    """The trainer's label for a message: its intent (an example), its matter (an alias), or a catalog gap.
    Every part is checked before anything is written, so a refused label writes nothing."""
    if not (intent or matter or gap):
        raise AnnotationError("nothing", "请选择意图、事项，或标为“目录里没有这个事项”")
    if matter and gap:
        raise AnnotationError("matter_and_gap", "已选了事项，就不能同时标为“目录里没有这个事项”")
    if intent:
        check_example(paths, text, intent)
    if matter:
        check_alias(paths, text, matter)
    written = []
    if matter:
        written.append(add_alias(paths, text, matter))
    if intent:
        written.append(add_example(paths, text, intent))
    if gap:
        written.append(add_gap(paths, text, count))
    return written
