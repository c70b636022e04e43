"""Where the workbench reads and writes: the repository's files and the models folder."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bot.settings import Settings


@dataclass(frozen=True)
class WorkbenchPaths:
    project_dir: Path
    model_dir: Path

    @classmethod
    def from_settings(cls, settings: Optional[Settings] = None) -> "WorkbenchPaths":
        settings = settings or Settings.from_env()
        return cls(project_dir=settings.project_dir, model_dir=settings.model_dir)

    @property
    def nlu_dir(self) -> Path:
        return self.project_dir / "data" / "nlu"

    @property
    def catalog_dir(self) -> Path:
        return self.project_dir / "knowledge" / "catalog"

    @property
    def gap_file(self) -> Path:
        # Next to the catalog, not in it: the catalog loader and `make nlu-data` read every file under catalog/.
        return self.project_dir / "knowledge" / "catalog_gaps.yml"

    @property
    def eval_file(self) -> Path:
        return self.project_dir / "bench" / "data" / "eval_questions.jsonl"

    @property
    def active_model(self) -> Path:
        """The file Rasa loads on start (`rasa run --model models/`): the newest *.tar.gz directly in models/."""
        return self.model_dir / "assistant.tar.gz"

    @property
    def store_dir(self) -> Path:
        """Every model the workbench knows (candidates and earlier active ones), with their figures.
        A sub-folder, so Rasa's `--model models/` never picks a candidate up on a restart."""
        return self.model_dir / "workbench"

    @property
    def registry_file(self) -> Path:
        return self.store_dir / "models.json"

    @property
    def run_dir(self) -> Path:
        return self.store_dir / "run"
