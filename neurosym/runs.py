"""A training run's folder: where each of its files lives, and how its metrics are read.

    run/config.yaml            the full training config
    run/metrics.jsonl          one JSON record per step; a ``dev`` report on the steps the monitor ran
    run/checkpoints/step-*.pt  resumable training state
    run/final/                 the final model (a LoRA adapter or the whole model) and neurosym.json
    run/eval/                  `neurosym eval RUN`: eval.json, eval.md, predictions.jsonl, plots

The trainer writes the folder; `neurosym eval` and `neurosym report` read it.
"""

from __future__ import annotations

import json
from pathlib import Path

from neurosym.errors import RunFolderError

MANIFEST_NAME = "neurosym.json"  # in the final model's folder: how to load and prompt it
EVAL_RESULT_NAME = "eval.json"  # in an evaluation's output folder


class RunFolder:
    """The layout of one run folder: its paths, and the reading and writing of its metrics."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config = self.path / "config.yaml"
        self.metrics = self.path / "metrics.jsonl"
        self.checkpoints = self.path / "checkpoints"
        self.final = self.path / "final"
        self.manifest = self.final / MANIFEST_NAME  # its presence marks a finished run
        self.eval_dir = self.path / "eval"
        self.eval_result = self.eval_dir / EVAL_RESULT_NAME

    def __str__(self) -> str:
        return str(self.path)

    def is_run(self) -> bool:
        """Whether the folder holds a finished run (its final model)."""
        return self.manifest.is_file()

    def read_manifest(self) -> dict:
        """``final/neurosym.json``, {} when the run has no final model yet."""
        if not self.manifest.is_file():
            return {}
        try:
            manifest = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise RunFolderError(f"{self.manifest}: not readable JSON ({error})") from None
        if not isinstance(manifest, dict):
            raise RunFolderError(f"{self.manifest}: a model record is a JSON object, got {type(manifest).__name__}")
        return manifest

    def read_metrics(self) -> list[dict]:
        """The records of metrics.jsonl in order ([] when there is none). A last line cut short by a
        kill is dropped; any other line that is not a JSON object is an error naming the file and line."""
        if not self.metrics.is_file():
            return []
        try:
            lines = self.metrics.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise RunFolderError(f"cannot read {self.metrics}: {error.strerror or error}") from None
        records = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                if number == len(lines):
                    break  # the record being written when the run was killed
                raise RunFolderError(f"{self.metrics}:{number}: not a JSON record ({error})") from None
            if not isinstance(record, dict) or "step" not in record:
                raise RunFolderError(f"{self.metrics}:{number}: a metrics record is an object with a step")
            records.append(record)
        return records

    def dev_checks(self) -> dict[int, dict]:
        """Step → dev report of the monitor, in step order."""
        return {r["step"]: r["dev"] for r in self.read_metrics() if isinstance(r.get("dev"), dict)}

    def truncate_metrics(self, step: int) -> None:
        """Keep the records up to ``step`` (a resumed run goes on from there)."""
        from neurosym.atomic import atomic_write_text

        if self.metrics.is_file():
            kept = [r for r in self.read_metrics() if r["step"] <= step]
            atomic_write_text(self.metrics, "".join(json.dumps(r) + "\n" for r in kept))

    def append_metrics(self, record: dict) -> None:
        with self.metrics.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
