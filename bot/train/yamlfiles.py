"""YAML round-trips that keep a file's comments, order and layout (ruamel.yaml), so a label written by the
workbench shows in git as the lines it added and nothing else."""
from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

from ruamel.yaml import YAML


class LayoutError(RuntimeError):
    """The file cannot be rewritten without changing lines the trainer did not touch."""


def _null(representer, _data):
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _yaml_for(text: str) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    # The repository has both layouts: "- item" flush under its key (data/nlu) and indented by two (catalog).
    flush = re.search(r"^[A-Za-z_]+:\s*\n- ", text, re.MULTILINE) is not None
    if flush:
        yaml.indent(mapping=2, sequence=2, offset=0)
    else:
        yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(type(None), _null)
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def edit(path: Path, change: Callable[[Any], None]) -> str:
    """Load `path`, apply `change` to the round-trip data, write it back atomically; returns the new text.

    Refuses (LayoutError) when the untouched file would not come back byte for byte."""
    text = path.read_text(encoding="utf-8")
    yaml = _yaml_for(text)
    data = yaml.load(text)
    if _dump(yaml, data) != text:
        raise LayoutError(f"{path.name} 的排版无法原样保留，请手工修改这个文件")
    change(data)
    new_text = _dump(yaml, data)
    write_atomic(path, new_text)
    return new_text


def load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return _yaml_for(text).load(text)


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
