"""What a run folder keeps: checkpoints and the final model, each written atomically.

A checkpoint (temp file + rename, the last K kept) holds what a resumed run needs to continue
exactly: the trainable weights, the optimizer and LR-scheduler state, the λ schedule's state, the
step and, with ``eval.select: best``, the best dev check's weights. Data order, sampled subsets and
dropout masks are functions of (seed, step), re-seeded at every step, so restoring the step
restores them.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from neurosym.atomic import atomic_write, replace_folder
from neurosym.errors import DataError
from neurosym.runs import MANIFEST_NAME


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


@dataclass
class BestWeights:
    """The trainable weights at the dev check with the highest score so far (``eval.select: best``);
    on a tie the earlier check is kept. Scores equal up to float rounding are a tie: 35/48 comes out
    as 0.7291666666666666 or ...67 depending on the recalls it is averaged from. A run whose dev
    answers swing between always-Yes and always-No may end in a swing; these are the weights from
    before it."""

    step: int | None = None
    score: float = -math.inf
    weights: dict[str, torch.Tensor] | None = None

    def offer(self, step: int, score: float | None, model: torch.nn.Module) -> None:
        if score is not None and score > self.score and not math.isclose(score, self.score):
            self.step, self.score, self.weights = step, score, trainable_state(model)

    def state_dict(self) -> dict:
        return {"step": self.step, "score": self.score, "weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.score, self.weights = state["step"], state["score"], state["weights"]


def save_checkpoint(folder: Path, step: int, state: dict, keep_last: int) -> Path:
    path = atomic_write(folder / f"step-{step:07d}.pt", lambda tmp: torch.save({"step": step, **state}, tmp))
    for old in sorted(folder.glob("step-*.pt"))[:-keep_last]:
        old.unlink()
    return path


def latest_checkpoint(folder: Path) -> Path | None:
    found = sorted(folder.glob("step-*.pt"))
    return found[-1] if found else None


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file: name it instead of a pickle traceback
        raise DataError(f"{path}: not a readable neurosym checkpoint ({type(error).__name__}: {error})") from None


def restore_trainable(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n in weights if n not in params]
    if missing:
        raise DataError(f"checkpoint has parameters the model lacks: {missing[:3]} (another model or LoRA setting?)")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device))


def save_final(model, tokenizer, folder: Path, manifest: dict) -> Path:
    """The adapter (LoRA) or the whole model, its tokenizer and ``neurosym.json``, swapped in by renames."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        (work / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        work.chmod(0o755)
        replace_folder(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder
